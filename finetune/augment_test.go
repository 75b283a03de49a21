package finetune

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/datasets"
)

// testImages returns n smooth random size×size RGB images (gradients plus noise), so that
// resampling errors show.
func testImages(n, size int, seed uint64) []uint8 {
	rng := rand.New(rand.NewPCG(seed, 1))
	img := make([]uint8, n*size*size*3)
	for i := 0; i < n; i++ {
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				o := ((i*size+y)*size + x) * 3
				img[o] = uint8(x * 255 / size)
				img[o+1] = uint8(y * 255 / size)
				img[o+2] = uint8(rng.IntN(256))
			}
		}
	}
	return img
}

func TestAugmentZeroOptionsIsIdentity(t *testing.T) {
	img := testImages(5, 16, 1)
	want := bytes.Clone(img)
	NewAugmenter(AugmentOptions{}).Apply(img, 5, 16, rand.New(rand.NewPCG(1, 2)))
	if !bytes.Equal(img, want) {
		t.Fatal("zero options changed the images")
	}
}

func TestAugmentDeterministic(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	a := NewAugmenter(DefaultAugment())
	var outs [][]uint8
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		img := testImages(9, 24, 3)
		a.Apply(img, 9, 24, rand.New(rand.NewPCG(42, 7)))
		outs = append(outs, img)
	}
	for i := 1; i < len(outs); i++ {
		if !bytes.Equal(outs[0], outs[i]) {
			t.Errorf("run %d differs from run 0 with the same seed", i)
		}
	}
	other := testImages(9, 24, 3)
	a.Apply(other, 9, 24, rand.New(rand.NewPCG(43, 7)))
	if bytes.Equal(outs[0], other) {
		t.Error("different seeds gave the same images")
	}
	if bytes.Equal(outs[0], testImages(9, 24, 3)) {
		t.Error("default augmentation changed nothing")
	}
}

func TestAugmentFlip(t *testing.T) {
	const n, size = 3, 7
	img := testImages(n, size, 5)
	orig := bytes.Clone(img)
	a := NewAugmenter(AugmentOptions{FlipProb: 1})
	a.Apply(img, n, size, rand.New(rand.NewPCG(1, 1)))
	for i := 0; i < n; i++ {
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				for c := 0; c < 3; c++ {
					got := img[((i*size+y)*size+x)*3+c]
					want := orig[((i*size+y)*size+size-1-x)*3+c]
					if got != want {
						t.Fatalf("image %d (%d,%d,%d): got %d, want the mirror pixel %d", i, x, y, c, got, want)
					}
				}
			}
		}
	}
	a.Apply(img, n, size, rand.New(rand.NewPCG(2, 2)))
	if !bytes.Equal(img, orig) {
		t.Fatal("flipping twice is not the identity")
	}
}

// TestAugmentWarpGeometry checks the resampling on known transforms.
func TestAugmentWarpGeometry(t *testing.T) {
	const size = 12
	src := testImages(1, size, 9)
	at := func(img []uint8, x, y, c int) uint8 {
		x, y = min(size-1, max(0, x)), min(size-1, max(0, y)) // edge fill
		return img[(y*size+x)*3+c]
	}
	tests := []struct {
		name string
		p    augParams
		want func(x, y, c int) uint8
	}{
		{"shift right 2, up 3", augParams{zoom: 1, shiftX: 2, shiftY: -3, warp: true},
			func(x, y, c int) uint8 { return at(src, x-2, y+3, c) }},
		{"rotate 180", augParams{zoom: 1, angle: 3.141592653589793, warp: true},
			func(x, y, c int) uint8 { return at(src, size-1-x, size-1-y, c) }},
		{"shift and flip", augParams{zoom: 1, shiftX: 1, flip: true, warp: true},
			func(x, y, c int) uint8 { return at(src, size-1-x-1, y, c) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := make([]uint8, len(src))
			augWarp(src, dst, size, tt.p)
			for y := 0; y < size; y++ {
				for x := 0; x < size; x++ {
					for c := 0; c < 3; c++ {
						got, want := int(dst[(y*size+x)*3+c]), int(tt.want(x, y, c))
						if d := got - want; d < -1 || d > 1 {
							t.Fatalf("(%d,%d,%d): got %d, want %d", x, y, c, got, want)
						}
					}
				}
			}
		})
	}
}

func TestAugmentZoom(t *testing.T) {
	const size = 11 // centre 5: zoom 0.5 samples source pixel 2x-5, inside for x in 3..7
	src := testImages(1, size, 8)
	dst := make([]uint8, len(src))
	augWarp(src, dst, size, augParams{zoom: 0.5, warp: true})
	for y := 3; y <= 7; y++ {
		for x := 3; x <= 7; x++ {
			for c := 0; c < 3; c++ {
				got, want := dst[(y*size+x)*3+c], src[((2*y-5)*size+2*x-5)*3+c]
				if got != want {
					t.Fatalf("(%d,%d,%d): got %d, want %d", x, y, c, got, want)
				}
			}
		}
	}
}

func TestAugmentContrast(t *testing.T) {
	img := testImages(1, 10, 4)
	orig := bytes.Clone(img)
	augContrast(img, 1)
	if !bytes.Equal(img, orig) {
		t.Fatal("contrast factor 1 changed the image")
	}
	spread := func(b []uint8) (lo, hi uint8) {
		lo, hi = 255, 0
		for i := 2; i < len(b); i += 3 {
			lo, hi = min(lo, b[i]), max(hi, b[i])
		}
		return lo, hi
	}
	augContrast(img, 0.5)
	lo0, hi0 := spread(orig)
	lo1, hi1 := spread(img)
	if hi1-lo1 >= hi0-lo0 {
		t.Errorf("contrast 0.5: range %d..%d, was %d..%d", lo1, hi1, lo0, hi0)
	}
}

func TestAugmentOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    AugmentOptions
		ok   bool
	}{
		{"zero", AugmentOptions{}, true},
		{"default", DefaultAugment(), true},
		{"flip > 1", AugmentOptions{FlipProb: 1.5}, false},
		{"negative rotation", AugmentOptions{MaxRotate: -1}, false},
		{"zoom reversed", AugmentOptions{MinZoom: 1.1, MaxZoom: 0.9}, false},
		{"zoom zero min", AugmentOptions{MaxZoom: 1.1}, false},
		{"shift > 1", AugmentOptions{MaxShift: 2}, false},
		{"contrast > 1", AugmentOptions{MaxContrast: 1.5}, false},
	}
	for _, tt := range tests {
		if err := tt.o.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok = %v", tt.name, err, tt.ok)
		}
	}
}

func BenchmarkAugment(b *testing.B) {
	img := testImages(32, 64, 1)
	a := NewAugmenter(DefaultAugment())
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		a.Apply(img, 32, 64, rng)
	}
}

// preparedDataset writes n small JPEGs (cat.i.jpg / dog.i.jpg) and prepares them at 32x32.
func preparedDataset(t *testing.T, n int) string {
	t.Helper()
	src, out := t.TempDir(), t.TempDir()
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < n; i++ {
		img := image.NewRGBA(image.Rect(0, 0, 40, 40))
		for p := range img.Pix {
			img.Pix[p] = uint8(rng.IntN(256))
		}
		name := fmt.Sprintf("cat.%d.jpg", i)
		if i%2 == 1 {
			name = fmt.Sprintf("dog.%d.jpg", i)
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, nil); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := datasets.Prepare(context.Background(), datasets.Options{Data: src, Out: out, Size: 32, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return out
}

func readAllImages(t *testing.T, ds *datasets.Dataset) [][]uint8 {
	t.Helper()
	out := make([][]uint8, ds.Len())
	for i := range out {
		img, err := ds.Image(i, nil)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = img
	}
	return out
}

func TestAugmentDataset(t *testing.T) {
	dir := preparedDataset(t, 20)
	src, err := datasets.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	srcImgs := readAllImages(t, src)
	train := src.Split(datasets.Train)

	tests := []struct {
		name   string
		copies int
		opts   AugmentOptions
	}{
		{"none", 0, DefaultAugment()},
		{"identity options", 2, AugmentOptions{}},
		{"default", 3, DefaultAugment()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "aug")
			var last, total int
			progress := func(d, n int) { last, total = d, n }
			m, err := AugmentDataset(context.Background(), dir, out, tt.copies, 7, tt.opts, progress)
			if err != nil {
				t.Fatal(err)
			}
			ds, err := datasets.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer ds.Close()
			n, T := src.Len(), len(train)
			want := n + tt.copies*T
			if ds.Len() != want || m.Kept != want || len(m.Files) != want || last != want || total != want {
				t.Fatalf("rows %d, manifest %d, files %d, progress %d/%d; want %d", ds.Len(), m.Kept, len(m.Files), last, total, want)
			}
			if st, err := os.Stat(filepath.Join(out, datasets.PhotosFile)); err != nil {
				t.Fatal(err)
			} else if st.Size() < int64(want*32*32*3) || st.Size() > int64(want*32*32*3+256) {
				t.Errorf("photos file is %d bytes for %d rows of 32x32x3", st.Size(), want)
			}
			for _, s := range []string{datasets.Valid, datasets.Test} {
				if !slices.Equal(ds.Split(s), src.Split(s)) {
					t.Errorf("split %s changed", s)
				}
			}
			gotTrain := ds.Split(datasets.Train)
			if len(gotTrain) != T*(1+tt.copies) || !slices.Equal(gotTrain[:T], train) {
				t.Fatalf("train split %v, want the %d originals then the copies", gotTrain, T)
			}
			if c := m.Splits[datasets.Train].Counts; c.Total() != len(gotTrain) {
				t.Errorf("train counts %+v for %d rows", c, len(gotTrain))
			}
			imgs := readAllImages(t, ds)
			for i := 0; i < n; i++ {
				if !bytes.Equal(imgs[i], srcImgs[i]) || ds.Labels()[i] != src.Labels()[i] {
					t.Fatalf("original row %d changed", i)
				}
			}
			changed := 0
			for k := 0; k < tt.copies; k++ {
				for j, i := range train {
					r := n + k*T + j
					if ds.Labels()[r] != src.Labels()[i] {
						t.Fatalf("row %d (copy %d of %d): label %d, want %d", r, k+1, i, ds.Labels()[r], src.Labels()[i])
					}
					if want := fmt.Sprintf("%s#aug%d", src.File(int(i)), k+1); ds.File(r) != want {
						t.Errorf("row %d file %q, want %q", r, ds.File(r), want)
					}
					if !bytes.Equal(imgs[r], srcImgs[i]) {
						changed++
					}
				}
			}
			if identity := tt.opts == (AugmentOptions{}); identity && changed != 0 {
				t.Errorf("zero options changed %d images", changed)
			} else if !identity && tt.copies > 0 && changed == 0 {
				t.Error("augmentation changed no image")
			}
			// same seed, same bytes
			again := filepath.Join(t.TempDir(), "again")
			m2, err := AugmentDataset(context.Background(), dir, again, tt.copies, 7, tt.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := m.Arrays[datasets.PhotosFile].SHA256, m2.Arrays[datasets.PhotosFile].SHA256; a != b || a == "" {
				t.Errorf("same seed gave photos %s and %s", a, b)
			}
		})
	}
}

func TestAugmentDatasetErrors(t *testing.T) {
	dir := preparedDataset(t, 6)
	tests := []struct {
		name, data, out string
		copies          int
		opts            AugmentOptions
	}{
		{"same folder", dir, dir, 1, DefaultAugment()},
		{"negative copies", dir, t.TempDir(), -1, DefaultAugment()},
		{"bad options", dir, t.TempDir(), 1, AugmentOptions{FlipProb: 2}},
		{"not a dataset", t.TempDir(), t.TempDir(), 1, DefaultAugment()},
	}
	for _, tt := range tests {
		if _, err := AugmentDataset(context.Background(), tt.data, tt.out, tt.copies, 1, tt.opts, nil); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := t.TempDir()
	if _, err := AugmentDataset(ctx, dir, out, 1, 1, DefaultAugment(), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, datasets.ManifestFile)); err == nil {
		t.Error("cancelled run left a manifest")
	}
	// A folder another writer holds is refused (augment writes through datasets.Writer).
	w, err := datasets.Create(out, "catdog prepare")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := AugmentDataset(context.Background(), dir, out, 1, 1, DefaultAugment(), nil); err == nil || !strings.Contains(err.Error(), "catdog augment: another catdog command is writing") {
		t.Errorf("into a locked folder: %v", err)
	}
}

// Augmenting one training batch in place; the seed makes it reproducible.
func ExampleAugmenter_Apply() {
	const n, size = 32, 64
	batch := make([]uint8, n*size*size*3) // n RGB images, HWC, one after the other
	a := NewAugmenter(DefaultAugment())
	rng := rand.New(rand.NewPCG(1, 2))
	a.Apply(batch, n, size, rng)
	fmt.Println(len(batch))
	// Output: 393216
}

func TestAugmentByName(t *testing.T) {
	tests := []struct {
		name string
		want AugmentOptions
		err  bool
	}{
		{"default", DefaultAugment(), false},
		{"tutorial", AugmentOptions{FlipProb: 0.5, MaxShift: 0.1}, false},
		{"none", AugmentOptions{}, false},
		{"strong", AugmentOptions{}, true},
	}
	for _, tt := range tests {
		got, err := AugmentByName(tt.name)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("AugmentByName(%q) = %+v, %v", tt.name, got, err)
		}
		if err == nil {
			if err := got.Validate(); err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
		}
	}
}
