package datasets

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/catdog-ml/catdog/internal/fetch"
	"github.com/catdog-ml/catdog/internal/npy"
	"github.com/catdog-ml/catdog/internal/verify"
)

// Dataset is a prepared dataset folder opened for reading. Opening reads the manifest, the
// labels and the splits; pixels are read from the photos file only when asked for, a row
// at a time, so a Dataset costs little memory whatever its size. A Dataset is safe for
// concurrent use; its Batches iterators are not.
type Dataset struct {
	dir    string
	man    *Manifest
	photos *npy.File
	labels []uint8
	splits map[string][]int64
}

// Open opens a folder written by Prepare and checks it before anything is read from it:
// the manifest is there; every array has the shape and the SHA-256 the manifest records
// (hashed once, then trusted while its size and modification time stay those of that check:
// package internal/verify); every label is a class of the manifest; the splits are sorted, within the
// arrays, of the manifest's sizes and disjoint. A folder that fails is refused with what
// to rerun.
func Open(dir string) (*Dataset, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	for name, a := range m.Arrays {
		sums[name] = a.SHA256
	}
	photosFile, labelsFile := m.ArrayFiles()
	for _, name := range []string{photosFile, labelsFile, SplitFile(Train), SplitFile(Valid), SplitFile(Test)} {
		if sums[name] == "" {
			return nil, fmt.Errorf("dataset %s: the manifest records no checksum for %s (prepare it again: catdog prepare --out %s)", dir, name, dir)
		}
	}
	if err := verify.Files(dir, sums); err != nil {
		return nil, fmt.Errorf("dataset %s: %w (prepare it again: catdog prepare --out %s)", dir, err, dir)
	}
	photos, err := npy.Open(filepath.Join(dir, photosFile))
	if err != nil {
		return nil, fmt.Errorf("opening dataset %s: %w", dir, err)
	}
	d := &Dataset{dir: dir, man: m, photos: photos, splits: map[string][]int64{}}
	if err := d.load(); err != nil {
		photos.Close()
		return nil, fmt.Errorf("opening dataset %s: %w", dir, err)
	}
	return d, nil
}

func (d *Dataset) load() error {
	h := d.photos.Header
	s := d.man.Size
	photosFile, labelsFile := d.man.ArrayFiles()
	if h.DType != npy.Uint8 || len(h.Shape) != 4 || h.Shape[1] != s || h.Shape[2] != s || h.Shape[3] != 3 || h.Shape[0] != d.man.Kept {
		return fmt.Errorf("%s holds %v %v, manifest says uint8 [%d %d %d 3]", photosFile, h.DType, h.Shape, d.man.Kept, s, s)
	}
	labels, shape, err := npy.ReadFile[uint8](filepath.Join(d.dir, labelsFile))
	if err != nil {
		return err
	}
	if len(shape) != 1 || shape[0] != d.man.Kept {
		return fmt.Errorf("%s has shape %v, want [%d]", labelsFile, shape, d.man.Kept)
	}
	for i, l := range labels {
		if int(l) >= len(d.man.Classes) {
			return fmt.Errorf("%s: label %d at row %d, for %d classes (%s)", labelsFile, l, i, len(d.man.Classes), strings.Join(d.man.Classes, ", "))
		}
	}
	d.labels = labels
	for _, name := range SplitNames() {
		idx, _, err := npy.ReadFile[int64](filepath.Join(d.dir, SplitFile(name)))
		if err != nil {
			return err
		}
		for i, j := range idx {
			if j < 0 || j >= int64(len(labels)) || (i > 0 && idx[i-1] >= j) {
				return fmt.Errorf("%s: index %d at %d out of range or out of order", SplitFile(name), j, i)
			}
		}
		if want := d.man.Splits[name].Count; len(idx) != want {
			return fmt.Errorf("%s holds %d rows, the manifest says %d", SplitFile(name), len(idx), want)
		}
		d.splits[name] = idx
	}
	// The splits do not share a row: no test photo was trained on.
	seen := make([]uint8, len(labels))
	for k, name := range SplitNames() {
		for _, j := range d.splits[name] {
			if seen[j] != 0 {
				return fmt.Errorf("row %d is in both the %s and the %s split", j, SplitNames()[seen[j]-1], name)
			}
			seen[j] = uint8(k + 1)
		}
	}
	return nil
}

// Close closes the photos file.
func (d *Dataset) Close() error { return d.photos.Close() }

// Dir returns the dataset folder.
func (d *Dataset) Dir() string { return d.dir }

// Manifest returns the dataset's manifest. Do not modify it.
func (d *Dataset) Manifest() *Manifest { return d.man }

// Len returns the number of images.
func (d *Dataset) Len() int { return len(d.labels) }

// Size returns the side of the square images.
func (d *Dataset) Size() int { return d.man.Size }

// Classes returns the class names by label (dog, cat for Dogs vs. Cats). Do not modify it.
func (d *Dataset) Classes() []string { return d.man.Classes }

// Labels returns every image's label, an index into Classes, in row order. Do not modify it.
func (d *Dataset) Labels() []uint8 { return d.labels }

// Split returns the sorted row indices of a split ("train", "valid" or "test"), or nil for
// an unknown name. Do not modify it.
func (d *Dataset) Split(name string) []int64 { return d.splits[name] }

// File returns the source file of row i.
func (d *Dataset) File(i int) string { return d.man.Files[i] }

// Image reads row i (Size x Size x 3 RGB, HWC) into dst, which is grown if needed, and
// returns it.
func (d *Dataset) Image(i int, dst []uint8) ([]uint8, error) {
	if i < 0 || i >= d.Len() {
		return nil, fmt.Errorf("image %d outside 0..%d", i, d.Len()-1)
	}
	n := int(d.photos.RowSize())
	if cap(dst) < n {
		dst = make([]uint8, n)
	}
	dst = dst[:n]
	if err := d.photos.ReadRows(dst, i, 1); err != nil {
		return nil, fmt.Errorf("reading image %d: %w", i, err)
	}
	return dst, nil
}

// ReadRows reads the images of rows idx into dst (len(idx) rows of Size x Size x 3), one
// read per run of consecutive indices.
func (d *Dataset) ReadRows(dst []uint8, idx []int64) error {
	rs := int(d.photos.RowSize())
	for k := 0; k < len(idx); {
		j := k + 1
		for j < len(idx) && idx[j] == idx[j-1]+1 {
			j++
		}
		if err := d.photos.ReadRows(dst[k*rs:j*rs], int(idx[k]), j-k); err != nil {
			return fmt.Errorf("reading images %d..%d: %w", idx[k], idx[j-1], err)
		}
		k = j
	}
	return nil
}

// Verify recomputes the SHA-256 of every array file, whatever the stamp of earlier checks,
// and compares it with the manifest. It reads the whole folder, so it takes about as long
// as copying it.
func (d *Dataset) Verify() error {
	names := make([]string, 0, len(d.man.Arrays))
	for name := range d.man.Arrays {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		got, err := fetch.SHA256(filepath.Join(d.dir, name))
		if err != nil {
			return fmt.Errorf("verifying %s: %w", name, err)
		}
		if want := d.man.Arrays[name].SHA256; got != want {
			return fmt.Errorf("verifying dataset %s: %s has SHA-256 %s, the manifest says %s (prepare it again)", d.dir, name, got, want)
		}
	}
	return nil
}
