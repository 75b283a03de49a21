package imgutil

import (
	"bytes"
	"image"
	"image/gif"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/image/bmp"

	"github.com/catdog-ml/catdog/internal/fixtures"
)

// largeAllocs runs f and returns the bytes it allocated in objects over 32 KiB (the
// images, planes and tables; not the small garbage of conversions).
func largeAllocs(f func()) int64 {
	runtime.GC()
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	small := uint64(0)
	for i := range b.BySize {
		small += uint64(b.BySize[i].Size) * (b.BySize[i].Mallocs - a.BySize[i].Mallocs)
	}
	return int64(b.TotalAlloc - a.TotalAlloc - small)
}

// pillowImages writes, with Pillow, the JPEG and WebP layouts Go cannot write: 4:4:4,
// progressive, CMYK (Adobe), lossless WebP.
func pillowImages(t *testing.T, w, h int) map[string][]byte {
	t.Helper()
	py := pythonWith(t, "PIL")
	dir := t.TempDir()
	script := `
import sys
from PIL import Image
w, h, d = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rgb = Image.radial_gradient("L").resize((w, h)).convert("RGB")
rgb.save(d + "/jpeg 4:4:4", "JPEG", subsampling=0, quality=90)
rgb.save(d + "/jpeg progressive 4:2:0", "JPEG", progressive=True, quality=90)
rgb.save(d + "/jpeg progressive 4:4:4", "JPEG", progressive=True, subsampling=0, quality=90)
rgb.convert("L").save(d + "/jpeg progressive gray", "JPEG", progressive=True)
rgb.convert("CMYK").save(d + "/jpeg cmyk", "JPEG", quality=90)
rgb.convert("CMYK").save(d + "/jpeg progressive cmyk", "JPEG", progressive=True, quality=90)
rgb.save(d + "/webp lossy", "WEBP", quality=80)
rgb.save(d + "/webp lossless", "WEBP", lossless=True)
rgb.quantize(200).convert("RGB").save(d + "/webp lossless 200 colours", "WEBP", lossless=True)
rgb.quantize(12).convert("RGB").save(d + "/webp lossless 12 colours", "WEBP", lossless=True)
Image.effect_noise((w, h), 64).convert("RGB").save(d + "/webp lossless noise", "WEBP", lossless=True)
rgb.convert("RGBA").save(d + "/webp lossy with alpha", "WEBP", quality=80)
`
	cmd := exec.Command(py, "-c", script, strconv.Itoa(w), strconv.Itoa(h), dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pillow: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	m := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m[filepath.Base(f)] = b
	}
	return m
}

// TestDecodeCost: for every layout of every format Go writes (and PNG's, written by hand),
// the estimate from the header holds at least the large allocations that decoding and
// resizing really make, and not much more.
func TestDecodeCost(t *testing.T) {
	const w, h = 1200, 900
	images := map[string][]byte{
		"png gray 8":             fixtures.ZeroPNG(w, h, 0, 8, false, false),
		"png gray 8 transparent": fixtures.ZeroPNG(w, h, 0, 8, false, true),
		"png gray 2":             fixtures.ZeroPNG(w, h, 0, 2, false, false),
		"png gray 16":            fixtures.ZeroPNG(w, h, 0, 16, false, false),
		"png gray 16 trns":       fixtures.ZeroPNG(w, h, 0, 16, false, true),
		"png rgb 8":              fixtures.ZeroPNG(w, h, 2, 8, false, false),
		"png rgb 8 trns":         fixtures.ZeroPNG(w, h, 2, 8, false, true),
		"png rgb 16":             fixtures.ZeroPNG(w, h, 2, 16, false, false),
		"png paletted":           fixtures.ZeroPNG(w, h, 3, 8, false, true),
		"png gray alpha 16":      fixtures.ZeroPNG(w, h, 4, 16, false, false),
		"png rgba 8":             fixtures.ZeroPNG(w, h, 6, 8, false, false),
		"png rgba 16":            fixtures.ZeroPNG(w, h, 6, 16, false, false),
		"png rgba 16 interlaced": fixtures.ZeroPNG(w, h, 6, 16, true, false),
		"png gray 8 interlaced":  fixtures.ZeroPNG(w, h, 0, 8, true, false),
	}
	src := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	jpeg.Encode(&b, src, nil)
	images["jpeg 4:2:0"] = bytes.Clone(b.Bytes())
	b.Reset()
	gray := image.NewGray(src.Rect)
	jpeg.Encode(&b, gray, nil)
	images["jpeg gray"] = bytes.Clone(b.Bytes())
	b.Reset()
	gif.Encode(&b, src, &gif.Options{NumColors: 16})
	images["gif"] = bytes.Clone(b.Bytes())
	b.Reset()
	bmp.Encode(&b, src)
	images["bmp"] = bytes.Clone(b.Bytes())
	for name, data := range images {
		t.Run(name, func(t *testing.T) { checkCost(t, data, w, h) })
	}
}

// TestDecodeCostPillow is TestDecodeCost for the layouts only Pillow writes here.
func TestDecodeCostPillow(t *testing.T) {
	const w, h = 1200, 900
	for name, data := range pillowImages(t, w, h) {
		t.Run(name, func(t *testing.T) { checkCost(t, data, w, h) })
	}
}

// checkCost compares DecodeCost's estimate for the w x h image in data with the large
// allocations of decoding and resizing it to MaxSize.
func checkCost(t *testing.T, data []byte, w, h int) {
	t.Helper()
	cfg, est, err := DecodeCost(data)
	if err != nil || cfg.Width != w || cfg.Height != h {
		t.Fatalf("DecodeCost: %+v %v", cfg, err)
	}
	dst := make([]uint8, MaxSize*MaxSize*3)
	var derr error
	got := largeAllocs(func() {
		var z Resizer
		_, derr = z.DecodeResize(data, MaxSize, CatmullRom, dst)
	})
	if derr != nil {
		t.Fatal(derr)
	}
	t.Logf("estimate %.1f MB, allocated %.1f MB (%.2f bytes a pixel), ratio %.2f",
		float64(est)/1e6, float64(got)/1e6, float64(got)/float64(w*h), float64(est)/float64(got))
	if est < got || est > got+got/4+1<<20 {
		t.Errorf("estimate %d bytes, decoding and resizing allocated %d in large objects: want at least that and at most 25 %% + 1 MiB more", est, got)
	}
}

// TestDecodeCostHeaderOnly: the cost of a bomb comes from its header alone, and bad input
// gives DecodeConfig's errors.
func TestDecodeCostHeaderOnly(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want int64 // at least
		err  error
	}{
		{"7000x7000 16-bit RGBA PNG header", fixtures.PNGHeader(7000, 7000, 16, 6), 7000 * 7000 * (8 + 3), nil},
		{"60000x60000 8-bit RGBA PNG header", fixtures.PNGHeader(60000, 60000, 8, 6), 60000 * 60000 * (4 + 3), nil},
		{"60000x60000 8-bit gray PNG header", fixtures.PNGHeader(60000, 60000, 8, 0), 60000 * 60000 * 1, nil},
		{"empty", nil, 0, ErrEmpty},
		{"text", []byte("hello, I am not an image"), 0, ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, cost, err := DecodeCost(tc.data)
			if tc.err != nil {
				if err != tc.err {
					t.Errorf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || cost < tc.want || cost > tc.want*5/4 {
				t.Errorf("cost %d, err %v; want %d to 25 %% more", cost, err, tc.want)
			}
		})
	}
}
