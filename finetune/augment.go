package finetune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/internal/npy"
)

// AugmentOptions says how much random change Augmenter.Apply makes to each training image.
// Every change keeps the label: a flipped, slightly turned, zoomed, shifted or contrasted cat
// is still a cat. The zero value changes nothing.
type AugmentOptions struct {
	// FlipProb is the probability of a horizontal (left-right) flip, in [0, 1].
	FlipProb float64 `json:"flip_prob"`
	// MaxRotate is the largest rotation in degrees; the angle is uniform in ±MaxRotate.
	MaxRotate float64 `json:"max_rotate"`
	// MinZoom and MaxZoom bound the zoom factor (above 1 magnifies), uniform between them.
	// Both zero means no zoom.
	MinZoom float64 `json:"min_zoom"`
	MaxZoom float64 `json:"max_zoom"`
	// MaxShift is the largest shift as a fraction of the image side, uniform in ±MaxShift
	// along each axis independently.
	MaxShift float64 `json:"max_shift"`
	// MaxContrast is the largest contrast change as a fraction: each channel moves away
	// from (or towards) its mean by a factor uniform in [1-MaxContrast, 1+MaxContrast].
	MaxContrast float64 `json:"max_contrast"`
}

// DefaultAugment returns the usual augmentation for Dogs vs. Cats: flip half of the images,
// rotate up to ±15°, zoom 0.9–1.1, shift up to ±10 % and change contrast up to ±20 %.
func DefaultAugment() AugmentOptions {
	return AugmentOptions{FlipProb: 0.5, MaxRotate: 15, MinZoom: 0.9, MaxZoom: 1.1, MaxShift: 0.1, MaxContrast: 0.2}
}

// TutorialAugment returns the tutorial's augmentation (Keras's ImageDataGenerator with
// width_shift_range and height_shift_range 0.1 and horizontal_flip): flip half of the
// images and shift up to ±10 % along each axis, nothing else.
func TutorialAugment() AugmentOptions {
	return AugmentOptions{FlipProb: 0.5, MaxShift: 0.1}
}

// augmentNames are the augmentations AugmentByName knows.
var augmentNames = []string{"default", "tutorial", "none"}

// AugmentByName returns the augmentation called name: "default" (DefaultAugment),
// "tutorial" (TutorialAugment) or "none" (the zero value).
func AugmentByName(name string) (AugmentOptions, error) {
	switch name {
	case "default":
		return DefaultAugment(), nil
	case "tutorial":
		return TutorialAugment(), nil
	case "none":
		return AugmentOptions{}, nil
	}
	return AugmentOptions{}, fmt.Errorf("unknown augmentation %q (%s)", name, strings.Join(augmentNames, ", "))
}

// Validate reports options out of range.
func (o AugmentOptions) Validate() error {
	var errs []error
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	if bad(o.FlipProb) || o.FlipProb < 0 || o.FlipProb > 1 {
		errs = append(errs, fmt.Errorf("flip probability %g is not in [0, 1]", o.FlipProb))
	}
	if bad(o.MaxRotate) || o.MaxRotate < 0 || o.MaxRotate > 180 {
		errs = append(errs, fmt.Errorf("rotation %g° is not in [0, 180]", o.MaxRotate))
	}
	if o.MinZoom != 0 || o.MaxZoom != 0 {
		if bad(o.MinZoom) || bad(o.MaxZoom) || o.MinZoom <= 0 || o.MaxZoom < o.MinZoom {
			errs = append(errs, fmt.Errorf("zoom range [%g, %g] is not 0 < min <= max", o.MinZoom, o.MaxZoom))
		}
	}
	if bad(o.MaxShift) || o.MaxShift < 0 || o.MaxShift > 1 {
		errs = append(errs, fmt.Errorf("shift %g is not in [0, 1]", o.MaxShift))
	}
	if bad(o.MaxContrast) || o.MaxContrast < 0 || o.MaxContrast > 1 {
		errs = append(errs, fmt.Errorf("contrast change %g is not in [0, 1]", o.MaxContrast))
	}
	if len(errs) > 0 {
		return fmt.Errorf("augmentation options: %w", errors.Join(errs...))
	}
	return nil
}

// Augmenter applies random label-preserving changes to batches of images. It is safe for
// concurrent use: all randomness comes from the *rand.Rand passed to Apply.
type Augmenter struct {
	opts AugmentOptions
}

// NewAugmenter returns an Augmenter for opts. Options out of range (see Validate) are
// clamped to the nearest valid value.
func NewAugmenter(opts AugmentOptions) *Augmenter {
	clamp := func(v, lo, hi float64) float64 {
		if math.IsNaN(v) {
			return lo
		}
		return math.Min(hi, math.Max(lo, v))
	}
	o := opts
	o.FlipProb = clamp(o.FlipProb, 0, 1)
	o.MaxRotate = clamp(o.MaxRotate, 0, 180)
	o.MaxShift = clamp(o.MaxShift, 0, 1)
	o.MaxContrast = clamp(o.MaxContrast, 0, 1)
	if o.MinZoom == 0 && o.MaxZoom == 0 {
		o.MinZoom, o.MaxZoom = 1, 1
	}
	o.MinZoom = clamp(o.MinZoom, 0.01, 100)
	o.MaxZoom = clamp(o.MaxZoom, o.MinZoom, 100)
	return &Augmenter{opts: o}
}

// augParams is the random draw for one image.
type augParams struct {
	flip            bool
	angle, zoom     float64 // radians, factor
	shiftX, shiftY  float64 // pixels
	contrast        float64 // factor
	warp, identical bool    // needs resampling; no change at all
}

// draw takes the parameters of one image from rng, always the same number of draws so that
// a seed gives the same sequence whatever the options.
func (a *Augmenter) draw(rng *rand.Rand, size int) augParams {
	o := a.opts
	u := [6]float64{}
	for i := range u {
		u[i] = rng.Float64()
	}
	p := augParams{
		flip:     u[0] < o.FlipProb,
		angle:    (2*u[1] - 1) * o.MaxRotate * math.Pi / 180,
		zoom:     o.MinZoom + u[2]*(o.MaxZoom-o.MinZoom),
		shiftX:   (2*u[3] - 1) * o.MaxShift * float64(size),
		shiftY:   (2*u[4] - 1) * o.MaxShift * float64(size),
		contrast: 1 + (2*u[5]-1)*o.MaxContrast,
	}
	p.warp = p.angle != 0 || p.zoom != 1 || p.shiftX != 0 || p.shiftY != 0
	p.identical = !p.warp && !p.flip && p.contrast == 1
	return p
}

// Apply changes n images of size×size×3 uint8 RGB (HWC, one after the other in images) in
// place. Parameters are drawn from rng one image after the other, so the result depends only
// on rng's state, not on how many cores do the work. Geometric changes resample bilinearly;
// pixels that come from outside the image repeat the nearest edge pixel.
func (a *Augmenter) Apply(images []uint8, n, size int, rng *rand.Rand) {
	per := size * size * 3
	if n <= 0 || size <= 0 {
		return
	}
	if len(images) < n*per {
		panic(fmt.Sprintf("finetune: Augmenter.Apply: %d bytes do not hold %d images of %dx%dx3", len(images), n, size, size))
	}
	ps := make([]augParams, n)
	for i := range ps {
		ps[i] = a.draw(rng, size)
	}
	workers := max(1, min(n, runtime.GOMAXPROCS(0)))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]uint8, per)
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				augTransform(images[i*per:(i+1)*per], buf, size, ps[i])
			}
		}()
	}
	wg.Wait()
}

// augTransform applies p to one image img in place; buf is scratch of the same size.
func augTransform(img, buf []uint8, size int, p augParams) {
	switch {
	case p.identical:
		return
	case p.warp:
		copy(buf, img)
		augWarp(buf, img, size, p)
	case p.flip:
		augFlip(img, size)
	}
	if p.contrast != 1 {
		augContrast(img, p.contrast)
	}
}

// augFlip mirrors img left-right exactly.
func augFlip(img []uint8, size int) {
	for y := 0; y < size; y++ {
		row := img[y*size*3 : (y+1)*size*3]
		for l, r := 0, size-1; l < r; l, r = l+1, r-1 {
			row[3*l], row[3*r] = row[3*r], row[3*l]
			row[3*l+1], row[3*r+1] = row[3*r+1], row[3*l+1]
			row[3*l+2], row[3*r+2] = row[3*r+2], row[3*l+2]
		}
	}
}

// augWarp writes into dst the image src rotated by p.angle and zoomed by p.zoom about its
// centre, shifted by p.shift, then mirrored when p.flip: output pixel (u, v) samples src at
// s = R(-angle)·((u, v) - c - shift)/zoom + c, which is linear in u, so rows are walked in
// constant steps.
func augWarp(src, dst []uint8, size int, p augParams) {
	c := float64(size-1) / 2
	cos, sin := math.Cos(p.angle)/p.zoom, math.Sin(p.angle)/p.zoom
	maxc := float32(size - 1)
	for v := 0; v < size; v++ {
		dy := float64(v) - c - p.shiftY
		// at u = 0
		dx0 := -c - p.shiftX
		sx := float32(cos*dx0 + sin*dy + c)
		sy := float32(-sin*dx0 + cos*dy + c)
		stepX, stepY := float32(cos), float32(-sin)
		row := dst[v*size*3 : (v+1)*size*3]
		for u := 0; u < size; u++ {
			fx := min(maxc, max(0, sx))
			fy := min(maxc, max(0, sy))
			x0, y0 := int(fx), int(fy)
			x1, y1 := min(x0+1, size-1), min(y0+1, size-1)
			ax, ay := fx-float32(x0), fy-float32(y0)
			i00, i01 := (y0*size+x0)*3, (y0*size+x1)*3
			i10, i11 := (y1*size+x0)*3, (y1*size+x1)*3
			o := row[3*u : 3*u+3]
			if p.flip {
				o = row[3*(size-1-u) : 3*(size-1-u)+3]
			}
			for ch := 0; ch < 3; ch++ {
				top := float32(src[i00+ch]) + ax*(float32(src[i01+ch])-float32(src[i00+ch]))
				bot := float32(src[i10+ch]) + ax*(float32(src[i11+ch])-float32(src[i10+ch]))
				o[ch] = uint8(top + ay*(bot-top) + 0.5)
			}
			sx += stepX
			sy += stepY
		}
	}
}

// augContrast scales each channel of img about its mean by f, rounding and clamping to 0..255.
func augContrast(img []uint8, f float64) {
	var sum [3]float64
	for i := 0; i < len(img); i += 3 {
		sum[0] += float64(img[i])
		sum[1] += float64(img[i+1])
		sum[2] += float64(img[i+2])
	}
	px := float64(len(img) / 3)
	var lut [3][256]uint8
	for ch := 0; ch < 3; ch++ {
		m := sum[ch] / px
		for v := 0; v < 256; v++ {
			lut[ch][v] = uint8(math.Min(255, math.Max(0, math.Round(m+(float64(v)-m)*f))))
		}
	}
	for i := 0; i < len(img); i += 3 {
		img[i] = lut[0][img[i]]
		img[i+1] = lut[1][img[i+1]]
		img[i+2] = lut[2][img[i+2]]
	}
}

// AugmentFile is the file, beside the manifest of a folder written by AugmentDataset, that
// records how it was augmented.
const AugmentFile = "augment.json"

// AugmentRecord is the content of AugmentFile.
type AugmentRecord struct {
	From     string         `json:"from"`      // the source dataset folder
	FromSHA  string         `json:"from_sha"`  // SHA-256 of its photos array
	Copies   int            `json:"copies"`    // augmented copies of each training image
	Seed     uint64         `json:"seed"`      // of the random draws
	Options  AugmentOptions `json:"options"`   // what was drawn
	Original int            `json:"originals"` // rows 0..originals-1 are the source rows, unchanged
}

// AugmentDataset writes to outDir a prepared dataset (the format of datasets.Prepare) made
// from the one in dataDir: the same rows first, then copies augmented versions of every
// training image (copy 1 of each, then copy 2...), with their labels. The train split holds
// the originals and their copies; valid and test are unchanged, so runs on either folder
// are evaluated on the same images. Files[i] of an augmented row is its source file with
// "#augK" appended. The random draws follow seed, so the same call writes the same bytes.
// Pixels stream through a small window of rows; the manifest is written last, so an
// interrupted run leaves no manifest. progress, if not nil, is called as rows are written.
func AugmentDataset(ctx context.Context, dataDir, outDir string, copies int, seed uint64, opts AugmentOptions, progress func(done, total int)) (*datasets.Manifest, error) {
	if copies < 0 {
		return nil, fmt.Errorf("augment: copies must be >= 0, got %d", copies)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if same, err := sameDir(dataDir, outDir); err != nil {
		return nil, err
	} else if same {
		return nil, fmt.Errorf("augment: the output folder %s is the input folder: choose another", outDir)
	}
	ds, err := datasets.Open(dataDir)
	if err != nil {
		return nil, err
	}
	defer ds.Close()
	src := ds.Manifest()
	n, size := ds.Len(), ds.Size()
	train := ds.Split(datasets.Train)
	labels := ds.Labels()
	total := n + copies*len(train)
	dw, err := datasets.Create(outDir, "catdog augment")
	if err != nil {
		return nil, fmt.Errorf("augment: %w", err)
	}
	defer dw.Abort()

	m := *src
	m.Source.Kind = fmt.Sprintf("%s, augmented (%d copies of train, seed %d)", src.Source.Kind, copies, seed)
	m.Kept = total
	m.Files = make([]string, 0, total)
	m.Files = append(m.Files, src.Files...)
	newLabels := append(make([]uint8, 0, total), labels...)
	newTrain := append(make([]int64, 0, len(train)*(1+copies)), train...)
	for k := 1; k <= copies; k++ {
		for _, i := range train {
			newTrain = append(newTrain, int64(len(newLabels)))
			newLabels = append(newLabels, labels[i])
			m.Files = append(m.Files, fmt.Sprintf("%s#aug%d", src.Files[i], k))
		}
	}
	m.Format = datasets.ManifestFormat // the counts are written as this catdog writes them
	m.Counts = datasets.CountLabels(newLabels, nil, len(m.Classes))
	m.Splits = map[string]datasets.SplitInfo{}
	for k, v := range src.Splits {
		m.Splits[k] = v
	}
	m.Splits[datasets.Train] = datasets.SplitInfo{Count: len(newTrain), Counts: datasets.CountLabels(newLabels, newTrain, len(m.Classes))}

	// write writes one file of the new folder; an array is listed with its dtype and shape.
	write := func(name, dtype string, shape []int, fill func(io.Writer) error) error {
		if err := dw.Write(name, dtype, shape, fill); err != nil {
			return fmt.Errorf("augment: %w", err)
		}
		return nil
	}
	photosFile, labelsFile := m.ArrayFiles()
	err = write(photosFile, npy.Uint8.String(), []int{total, size, size, 3}, func(w io.Writer) error {
		nw, err := npy.NewWriter(w, npy.Uint8, []int{total, size, size, 3})
		if err != nil {
			return err
		}
		if err := writePhotos(ctx, ds, nw, train, copies, seed, NewAugmenter(opts), progress); err != nil {
			return err
		}
		return nw.Close()
	})
	if err != nil {
		return nil, err
	}
	if err := write(labelsFile, npy.Uint8.String(), []int{total}, func(w io.Writer) error { return npy.Write(w, []int{total}, newLabels) }); err != nil {
		return nil, err
	}
	if err := write(datasets.SplitFile(datasets.Train), npy.Int64.String(), []int{len(newTrain)}, func(w io.Writer) error { return npy.Write(w, []int{len(newTrain)}, newTrain) }); err != nil {
		return nil, err
	}
	// Everything else (valid and test splits, charts) is copied as it is.
	for _, name := range []string{datasets.SplitFile(datasets.Valid), datasets.SplitFile(datasets.Test), datasets.ClassBalanceFile, datasets.ImageSizesFile} {
		a, isArray := src.Arrays[name]
		err := write(name, a.DType, a.Shape, func(w io.Writer) error {
			f, err := os.Open(filepath.Join(dataDir, name))
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(w, f)
			return err
		})
		if err != nil && !(errors.Is(err, os.ErrNotExist) && !isArray) {
			return nil, err
		}
	}
	rec, err := json.MarshalIndent(AugmentRecord{From: dataDir, FromSHA: src.Arrays[photosFile].SHA256,
		Copies: copies, Seed: seed, Options: opts, Original: n}, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := write(AugmentFile, "", nil, func(w io.Writer) error { _, err := w.Write(append(rec, '\n')); return err }); err != nil {
		return nil, err
	}
	if err := dw.Commit(ctx, &m); err != nil {
		return nil, fmt.Errorf("augment: %w", err)
	}
	return &m, nil
}

// writePhotos streams every row of ds, then copies augmented versions of the train rows,
// a window of rows at a time.
func writePhotos(ctx context.Context, ds *datasets.Dataset, w io.Writer, train []int64, copies int, seed uint64, a *Augmenter, progress func(done, total int)) error {
	const window = 256
	n, size := ds.Len(), ds.Size()
	row := size * size * 3
	total := n + copies*len(train)
	buf := make([]uint8, window*row)
	done := 0
	report := func(k int) {
		done += k
		if progress != nil {
			progress(done, total)
		}
	}
	for start := 0; start < n; start += window {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := min(window, n-start)
		for j := 0; j < k; j++ {
			if _, err := ds.Image(start+j, buf[j*row:(j+1)*row]); err != nil {
				return err
			}
		}
		if _, err := w.Write(buf[:k*row]); err != nil {
			return err
		}
		report(k)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x636174646f67)) // "catdog"
	for c := 0; c < copies; c++ {
		for start := 0; start < len(train); start += window {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := min(window, len(train)-start)
			for j := 0; j < k; j++ {
				if _, err := ds.Image(int(train[start+j]), buf[j*row:(j+1)*row]); err != nil {
					return err
				}
			}
			a.Apply(buf[:k*row], k, size, rng)
			if _, err := w.Write(buf[:k*row]); err != nil {
				return err
			}
			report(k)
		}
	}
	return nil
}

// sameDir reports whether a and b name the same folder (b need not exist).
func sameDir(a, b string) (bool, error) {
	aa, err := filepath.Abs(a)
	if err != nil {
		return false, err
	}
	bb, err := filepath.Abs(b)
	if err != nil {
		return false, err
	}
	if aa == bb {
		return true, nil
	}
	sa, errA := os.Stat(aa)
	sb, errB := os.Stat(bb)
	return errA == nil && errB == nil && os.SameFile(sa, sb), nil
}
