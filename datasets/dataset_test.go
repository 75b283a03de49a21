package datasets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/fetch"
	"github.com/catdog-ml/catdog/internal/npy"
)

// tinyDataset prepares 13 cats and 12 dogs of plain colours at 32x32: cat i is
// (10*i, 0, 200), dog i is (0, 10*i, 100).
func tinyDataset(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{}
	for i := range 13 {
		files[fmt.Sprintf("cats/c%02d.png", i)] = synthetic(40, 30, color.RGBA{uint8(10 * i), 0, 200, 255})
	}
	for i := range 12 {
		files[fmt.Sprintf("dogs/d%02d.png", i)] = synthetic(30, 40, color.RGBA{0, uint8(10 * i), 100, 255})
	}
	writeFiles(t, dir, files)
	out := filepath.Join(t.TempDir(), "data")
	if _, err := Prepare(context.Background(), Options{Data: dir, Out: out, Size: 32, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOpenAndBatches(t *testing.T) {
	out := tinyDataset(t)
	ds, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if ds.Len() != 25 || ds.Size() != 32 || len(ds.Labels()) != 25 || ds.Manifest().Kept != 25 {
		t.Fatalf("Len %d Size %d", ds.Len(), ds.Size())
	}
	total := 0
	for _, s := range SplitNames() {
		total += len(ds.Split(s))
	}
	if total != 25 || ds.Split("nope") != nil {
		t.Fatalf("splits hold %d rows", total)
	}
	// Every row holds its file's colour.
	for i := range ds.Len() {
		img, err := ds.Image(i, nil)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var want [3]uint8
		if _, err := fmt.Sscanf(filepath.Base(ds.File(i)), "c%02d.png", &n); err == nil {
			want = [3]uint8{uint8(10 * n), 0, 200}
			if ds.Labels()[i] != Cat {
				t.Fatalf("row %d (%s) labelled %d", i, ds.File(i), ds.Labels()[i])
			}
		} else if _, err := fmt.Sscanf(filepath.Base(ds.File(i)), "d%02d.png", &n); err == nil {
			want = [3]uint8{0, uint8(10 * n), 100}
		}
		if !bytes.Equal(img[:3], want[:]) || !bytes.Equal(img[len(img)-3:], want[:]) {
			t.Fatalf("row %d (%s): pixel %v, want %v", i, ds.File(i), img[:3], want)
		}
	}
	if _, err := ds.Image(25, nil); err == nil {
		t.Error("row 25 of 25 read")
	}

	tests := []struct {
		split   string
		opts    BatchOptions
		batches int
	}{
		{Train, BatchOptions{Size: 4}, 4},                         // 15 rows
		{Train, BatchOptions{Size: 4, DropLast: true}, 3},         // 12 rows
		{Valid, BatchOptions{Size: 4, Shuffle: true, Seed: 2}, 2}, // 5 rows
		{All, BatchOptions{Size: 10, Shuffle: true, Seed: 9}, 3},  // 25 rows
		{Test, BatchOptions{}, 1},                                 // default 32
	}
	for _, tt := range tests {
		it := ds.Batches(tt.split, tt.opts)
		if it.Len() != tt.batches {
			t.Errorf("%s %+v: Len %d, want %d", tt.split, tt.opts, it.Len(), tt.batches)
		}
		var rows []int64
		n := 0
		for it.Next() {
			b := it.Batch()
			n++
			for k, i := range b.Index {
				img, _ := ds.Image(int(i), nil)
				if !bytes.Equal(b.Images[k*32*32*3:(k+1)*32*32*3], img) || b.Labels[k] != ds.Labels()[i] {
					t.Fatalf("%s: batch row %d (image %d) differs from Image", tt.split, k, i)
				}
			}
			rows = append(rows, b.Index...)
		}
		if it.Err() != nil || n != tt.batches {
			t.Fatalf("%s: %d batches, err %v", tt.split, n, it.Err())
		}
		shuffled := !sort.SliceIsSorted(rows, func(a, b int) bool { return rows[a] < rows[b] })
		if shuffled != tt.opts.Shuffle {
			t.Errorf("%s %+v: shuffled = %v", tt.split, tt.opts, shuffled)
		}
		if !tt.opts.DropLast {
			sort.Slice(rows, func(a, b int) bool { return rows[a] < rows[b] })
			want := ds.Split(tt.split)
			if tt.split == All {
				want = nil
				for i := range ds.Len() {
					want = append(want, int64(i))
				}
			}
			if fmt.Sprint(rows) != fmt.Sprint(want) {
				t.Errorf("%s: rows %v, want %v", tt.split, rows, want)
			}
		}
	}
	// The same seed gives the same order; another seed another.
	order := func(seed uint64) string {
		it := ds.Batches(All, BatchOptions{Size: 25, Shuffle: true, Seed: seed})
		it.Next()
		return fmt.Sprint(it.Batch().Index)
	}
	if a, b := order(1), order(1); a != b || a == order(2) {
		t.Error("shuffle not driven by the seed")
	}
	if it := ds.Batches("nope", BatchOptions{}); it.Next() || it.Err() == nil {
		t.Error("unknown split iterated")
	}
}

func TestFloat32(t *testing.T) {
	b := &Batch{Size: 2, Labels: []uint8{0}, Index: []int64{0},
		Images: []uint8{0, 51, 102, 153, 204, 255, 10, 20, 30, 40, 50, 60}}
	raw := b.Float32(Normalize{})
	if fmt.Sprint(raw) != "[0 51 102 153 204 255 10 20 30 40 50 60]" {
		t.Errorf("raw NHWC %v", raw)
	}
	chw := b.Float32(Normalize{Layout: NCHW, Scale: 1.0 / 255})
	if fmt.Sprintf("%.2f", chw) != "[0.00 0.60 0.04 0.16 0.20 0.80 0.08 0.20 0.40 1.00 0.12 0.24]" {
		t.Errorf("NCHW scaled %.2f", chw)
	}
	norm := b.Float32(Normalize{Layout: NHWC, Scale: 1, Mean: [3]float32{100, 100, 100}, Std: [3]float32{2, 4, 5}})
	if norm[0] != -50 || norm[1] != -12.25 || norm[5] != 31 {
		t.Errorf("mean/std %v", norm)
	}
	in := ImageNet()
	v := b.Float32(in)
	if d := v[0] - (0-0.485)/0.229; d > 1e-5 || d < -1e-5 {
		t.Errorf("ImageNet first value %v", v[0])
	}
	buf := make([]float32, 100)
	if out := b.Float32Into(buf, Normalize{}); &out[0] != &buf[0] || len(out) != 12 {
		t.Error("Float32Into did not reuse its buffer")
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(t.TempDir()); err == nil {
		t.Error("empty folder opened")
	}
	out := tinyDataset(t)
	ds, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Verify(); err != nil {
		t.Fatal(err)
	}
	ds.Close()
	// One flipped byte in the photos: Open refuses the folder, naming the file and the fix.
	p := filepath.Join(out, PhotosFile)
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 1
	os.WriteFile(p, b, 0o644)
	if _, err = Open(out); err == nil || !strings.Contains(err.Error(), PhotosFile) || !strings.Contains(err.Error(), "catdog prepare") {
		t.Errorf("Open of a changed photos file: %v", err)
	}
	b[len(b)-1] ^= 1
	os.WriteFile(p, b, 0o644)
	if ds, err = Open(out); err != nil {
		t.Fatal(err)
	}
	ds.Close()
	// A labels file of the wrong length.
	os.WriteFile(filepath.Join(out, LabelsFile), []byte("junk"), 0o644)
	if _, err := Open(out); err == nil {
		t.Error("corrupt labels accepted")
	}
}

// TestOpenRefuses: a folder without its manifest, with labels that no longer match the
// manifest's checksum, or whose splits share rows (even with a manifest rewritten to match
// them) is refused, saying what to rerun.
func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string
	}{
		{"no manifest", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, ManifestFile)) }, "catdog prepare"},
		{"labels changed", func(t *testing.T, dir string) {
			p := filepath.Join(dir, LabelsFile)
			b, _ := os.ReadFile(p)
			b[len(b)-1] ^= 1
			os.WriteFile(p, b, 0o644)
		}, LabelsFile},
		{"splits overlap", func(t *testing.T, dir string) {
			train, _, _ := npy.ReadFile[int64](filepath.Join(dir, SplitFile(Train)))
			test := append([]int64(nil), train[:3]...)
			p := filepath.Join(dir, SplitFile(Test))
			if err := npy.WriteFile(p, []int{len(test)}, test); err != nil {
				t.Fatal(err)
			}
			m, _ := ReadManifest(dir)
			sum, _ := fetch.SHA256(p)
			a := m.Arrays[SplitFile(Test)]
			a.SHA256, a.Shape = sum, []int{len(test)}
			m.Arrays[SplitFile(Test)] = a
			m.Splits[Test] = SplitInfo{Count: len(test), Counts: m.Splits[Test].Counts}
			b, _ := json.Marshal(m)
			os.WriteFile(filepath.Join(dir, ManifestFile), b, 0o644)
		}, "in both the train and the test split"},
		{"photos replaced by a FIFO", func(t *testing.T, dir string) {
			p := filepath.Join(dir, PhotosFile)
			os.Remove(p)
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Skip(err)
			}
		}, "named pipe (FIFO), not a regular file"},
		{"labels linked to /dev/zero", func(t *testing.T, dir string) {
			p := filepath.Join(dir, LabelsFile)
			os.Remove(p)
			os.Symlink("/dev/zero", p)
		}, "character device, not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tinyDataset(t)
			tt.damage(t, dir)
			if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open: %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestPrepareLockAndTemps: a second writer into a folder being prepared is refused, and
// temporary files a killed run left are removed by the next run.
func TestPrepareLockAndTemps(t *testing.T) {
	dir := tinyDataset(t)
	m, _ := ReadManifest(dir)
	unlock, err := atomicfile.Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Prepare(context.Background(), Options{Data: m.Source.Path, Out: dir, Size: 32, Seed: 1})
	if !errors.Is(err, atomicfile.ErrLocked) || !strings.Contains(err.Error(), "catdog prepare: another catdog command is writing") {
		t.Errorf("second writer: %v", err)
	}
	unlock()
	left := filepath.Join(dir, PhotosFile+".tmp-12345")
	os.WriteFile(left, make([]byte, 1000), 0o644)
	if _, err := Prepare(context.Background(), Options{Data: m.Source.Path, Out: dir, Size: 32, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed run's temporary file is still there: %v", err)
	}
}

// TestTinySourceWarns: a source too small to fill every split says so; a manifest with
// nothing skipped lists [] (not null).
func TestTinySourceWarns(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{
		"cat.1.png": synthetic(40, 30, color.RGBA{200, 0, 0, 255}), "cat.2.png": synthetic(40, 30, color.RGBA{0, 200, 0, 255}),
		"dog.1.png": synthetic(30, 40, color.RGBA{0, 0, 200, 255}),
	})
	var warned []string
	out := filepath.Join(t.TempDir(), "data")
	if _, err := Prepare(context.Background(), Options{Data: dir, Out: out, Size: 32, Warn: func(m string) { warned = append(warned, m) }}); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(warned, func(w string) bool { return strings.Contains(w, "split is empty") }) {
		t.Errorf("warnings %v, want one about an empty split", warned)
	}
	b, _ := os.ReadFile(filepath.Join(out, ManifestFile))
	if !strings.Contains(string(b), `"skipped": []`) {
		t.Errorf("manifest: no \"skipped\": [] when nothing was skipped")
	}
}

// TestWriterAbortAndCommit: a writer's files appear only at Commit, manifest last; Abort,
// or a cancelled context, leaves the folder as it was and releases the lock.
func TestWriterAbortAndCommit(t *testing.T) {
	dir := tinyDataset(t)
	before, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	m, _ := ReadManifest(dir)

	w, err := Create(dir, "a test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir, "a second test"); !errors.Is(err, atomicfile.ErrLocked) || !strings.Contains(err.Error(), "a second test: another catdog command is writing") {
		t.Errorf("second writer: %v", err)
	}
	if err := w.Write(LabelsFile, "uint8", []int{1}, func(io.Writer) error { return errors.New("disk on fire") }); err == nil {
		t.Error("a failing fill: no error")
	}
	w.Abort()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w, err = Create(dir, "a test") // the lock was released
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, m); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit with a cancelled context: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	if !bytes.Equal(before, after) {
		t.Error("an aborted writer changed the manifest")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	if _, err := Open(dir); err != nil {
		t.Errorf("the folder no longer opens: %v", err)
	}
}
