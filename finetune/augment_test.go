package finetune

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"testing"
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
