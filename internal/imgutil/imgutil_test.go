package imgutil

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"

	"golang.org/x/image/bmp"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in   string
		want Filter
		err  bool
	}{
		{"", Bilinear, false},
		{"bilinear", Bilinear, false},
		{"Nearest", Nearest, false},
		{" catmullrom ", CatmullRom, false},
		{"lanczos", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseFilter(tt.in)
		if (err != nil) != tt.err || (!tt.err && got != tt.want) {
			t.Errorf("ParseFilter(%q) = %v, %v", tt.in, got, err)
		}
		if !tt.err && got.String() != FilterNames()[got] {
			t.Errorf("name mismatch for %v", got)
		}
	}
}

// uniform returns images of one colour, (200, 100, 50), in many colour models.
func uniformImages() map[string]image.Image {
	r := image.Rect(0, 0, 37, 23)
	c := color.RGBA{200, 100, 50, 255}
	fill := func(m draw.Image) image.Image {
		draw.Draw(m, m.Bounds(), image.NewUniform(c), image.Point{}, draw.Src)
		return m
	}
	yc := func(ratio image.YCbCrSubsampleRatio) image.Image {
		m := image.NewYCbCr(r, ratio)
		y, cb, cr := color.RGBToYCbCr(200, 100, 50)
		for i := range m.Y {
			m.Y[i] = y
		}
		for i := range m.Cb {
			m.Cb[i], m.Cr[i] = cb, cr
		}
		return m
	}
	pal := image.NewPaletted(r, color.Palette{color.Black, c})
	for i := range pal.Pix {
		pal.Pix[i] = 1
	}
	sub := fill(image.NewRGBA(image.Rect(0, 0, 60, 60))).(*image.RGBA).SubImage(image.Rect(5, 7, 42, 30))
	return map[string]image.Image{
		"rgba":     fill(image.NewRGBA(r)),
		"nrgba":    fill(image.NewNRGBA(r)),
		"rgba64":   fill(image.NewRGBA64(r)),
		"cmyk":     fill(image.NewCMYK(r)),
		"paletted": pal,
		"ycbcr444": yc(image.YCbCrSubsampleRatio444),
		"ycbcr420": yc(image.YCbCrSubsampleRatio420),
		"ycbcr422": yc(image.YCbCrSubsampleRatio422),
		"ycbcr411": yc(image.YCbCrSubsampleRatio411),
		"subimage": sub,
	}
}

func TestColourModels(t *testing.T) {
	for name, img := range uniformImages() {
		for _, f := range []Filter{Bilinear, Nearest, CatmullRom} {
			for _, size := range []int{8, 37, 64} {
				dst := make([]uint8, size*size*3)
				if err := ResizeImage(img, size, f, dst); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for i := 0; i < len(dst); i += 3 {
					if absd(dst[i], 200) > 2 || absd(dst[i+1], 100) > 2 || absd(dst[i+2], 50) > 2 {
						t.Fatalf("%s %v size %d: pixel %d = %v, want about (200,100,50)", name, f, size, i/3, dst[i:i+3])
					}
				}
			}
		}
	}
}

func TestGrayAndAlpha(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 5, 5))
	for i := range g.Pix {
		g.Pix[i] = 77
	}
	clear := image.NewNRGBA(image.Rect(0, 0, 5, 5)) // fully transparent black
	half := image.NewRGBA(image.Rect(0, 0, 5, 5))
	draw.Draw(half, half.Bounds(), image.NewUniform(color.NRGBA{0, 0, 0, 128}), image.Point{}, draw.Src)
	tests := []struct {
		name string
		img  image.Image
		want uint8
	}{
		{"gray", g, 77},
		{"transparent over white", clear, 255},
		{"half black over white", half, 127},
	}
	for _, tt := range tests {
		dst := make([]uint8, 3*3*3)
		if err := ResizeImage(tt.img, 3, Bilinear, dst); err != nil {
			t.Fatal(err)
		}
		for _, v := range dst {
			if absd(v, tt.want) > 1 {
				t.Fatalf("%s: got %v, want all %d", tt.name, dst, tt.want)
			}
		}
	}
}

func TestIdentityAndAveraging(t *testing.T) {
	// A 4x4 checkerboard: same size keeps it exactly; halving averages with bilinear,
	// picks one colour with nearest.
	m := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for y := range 4 {
		for x := range 4 {
			v := uint8(255 * ((x + y) % 2))
			m.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	for _, f := range []Filter{Bilinear, Nearest, CatmullRom} {
		dst := make([]uint8, 4*4*3)
		ResizeImage(m, 4, f, dst)
		for y := range 4 {
			for x := range 4 {
				if dst[(y*4+x)*3] != m.Pix[(y*4+x)*4] {
					t.Fatalf("%v: identity resize changed pixel (%d,%d)", f, x, y)
				}
			}
		}
	}
	dst := make([]uint8, 2*2*3)
	ResizeImage(m, 2, Bilinear, dst)
	for _, v := range dst {
		if absd(v, 128) > 6 { // the triangle spans 4 source pixels, weighted 1:3:3:1
			t.Fatalf("bilinear halving: %v, want all about 128", dst)
		}
	}
	ResizeImage(m, 2, Nearest, dst)
	for _, v := range dst {
		if v != 0 && v != 255 {
			t.Fatalf("nearest halving: %v, want 0 or 255", dst)
		}
	}
}

// TestPlanesMatchRGB checks that resizing a JPEG on its YCbCr planes gives nearly the
// pixels of converting to RGB first and resizing that.
func TestPlanesMatchRGB(t *testing.T) {
	for _, path := range samplePhotos(t, 6) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := Decode(data, 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if _, ok := img.(*image.YCbCr); !ok {
			continue
		}
		rgba := image.NewRGBA(img.Bounds())
		draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
		for _, size := range []int{32, 200} {
			a := make([]uint8, size*size*3)
			b := make([]uint8, size*size*3)
			ResizeImage(img, size, Bilinear, a)
			ResizeImage(rgba, size, Bilinear, b)
			sum := 0.0
			for i := range a {
				sum += math.Abs(float64(a[i]) - float64(b[i]))
			}
			if mean := sum / float64(len(a)); mean > 2 {
				t.Errorf("%s at %d: mean difference %.2f between plane and RGB resizing", filepath.Base(path), size, mean)
			}
		}
	}
}

func TestDecodeByContent(t *testing.T) {
	src := uniformImages()["rgba"]
	var jp, pn, gi, bm bytes.Buffer
	jpeg.Encode(&jp, src, &jpeg.Options{Quality: 95})
	png.Encode(&pn, src)
	gif.Encode(&gi, src, &gif.Options{NumColors: 256, Quantizer: nil, Drawer: draw.FloydSteinberg})
	bmp.Encode(&bm, src)
	gray := image.NewGray(image.Rect(0, 0, 10, 10))
	var gj bytes.Buffer
	jpeg.Encode(&gj, gray, nil)
	cmyk := image.NewCMYK(image.Rect(0, 0, 10, 10))
	var cj bytes.Buffer
	jpeg.Encode(&cj, cmyk, nil)
	pal := image.NewPaletted(image.Rect(0, 0, 9, 9), palette.Plan9)
	var pp bytes.Buffer
	png.Encode(&pp, pal)
	tests := []struct {
		name   string
		data   []byte
		format string
	}{
		{"jpeg", jp.Bytes(), "jpeg"}, {"png", pn.Bytes(), "png"}, {"gif", gi.Bytes(), "gif"},
		{"bmp", bm.Bytes(), "bmp"}, {"gray jpeg", gj.Bytes(), "jpeg"}, {"cmyk jpeg", cj.Bytes(), "jpeg"},
		{"paletted png", pp.Bytes(), "png"},
	}
	for _, tt := range tests {
		dst := make([]uint8, 16*16*3)
		w, h, err := DecodeResize(bytes.NewReader(tt.data), 16, Bilinear, dst)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		cfg, _ := DecodeConfig(tt.data)
		if cfg.Format != tt.format || w != cfg.Width || h != cfg.Height || w == 0 {
			t.Errorf("%s: config %+v, size %dx%d", tt.name, cfg, w, h)
		}
	}
}

func TestBadInput(t *testing.T) {
	var jp bytes.Buffer
	jpeg.Encode(&jp, uniformImages()["rgba"], nil)
	good := jp.Bytes()
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrEmpty},
		{"text", []byte("hello, this is not an image at all"), ErrFormat},
		{"huge", fixtures.PNGHeader(20000, 20000, 8, 6), ErrTooLarge},
		{"a line of 50,000,000 pixels", fixtures.PNGHeader(1, 50_000_000, 8, 6), ErrTooLarge}, // under MaxPixels, its resizing would hold 25 GB
		{"zero width", fixtures.PNGHeader(0, 10, 8, 6), nil},
		{"truncated jpeg", good[:len(good)/2], nil},
		{"header only", good[:200], nil},
		{"corrupt jpeg", corrupt(good), nil},
	}
	for _, tt := range tests {
		dst := make([]uint8, 8*8*3)
		_, _, err := DecodeResize(bytes.NewReader(tt.data), 8, Bilinear, dst)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, _, err := DecodeResize(bytes.NewReader(fixtures.PNGHeader(1, 50_000_000, 8, 6)), 8, Bilinear, make([]uint8, 8*8*3)); err == nil || !strings.Contains(err.Error(), "would take about 25.7 GiB, over the 1.0 GiB one image may take") {
		t.Errorf("1x50000000 PNG: %v", err)
	}
	var z Resizer // an image decoded elsewhere, as tall: refused before its rows are held
	if err := z.Resize(image.NewGray(image.Rect(0, 0, 1, 3_000_000)), 8, Bilinear, make([]uint8, 8*8*3)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("1x3000000 gray image: %v", err)
	}
	dst := make([]uint8, 10)
	if _, _, err := DecodeResize(bytes.NewReader(good), 8, Bilinear, dst); err == nil {
		t.Error("short destination accepted")
	}
	if _, _, err := DecodeResize(bytes.NewReader(good), 0, Bilinear, dst); err == nil {
		t.Error("size 0 accepted")
	}
}

func corrupt(b []byte) []byte {
	c := append([]byte(nil), b...)
	for i := len(c) / 3; i < len(c)-2; i += 7 {
		c[i] = 0xff
	}
	return c
}

func FuzzDecode(f *testing.F) {
	src := uniformImages()
	for _, name := range []string{"rgba", "paletted", "ycbcr420"} {
		var b bytes.Buffer
		png.Encode(&b, src[name])
		f.Add(b.Bytes())
		b.Reset()
		jpeg.Encode(&b, src[name], nil)
		f.Add(b.Bytes())
		f.Add(b.Bytes()[:b.Len()/2])
	}
	var g, bm bytes.Buffer
	gif.Encode(&g, src["paletted"], nil)
	bmp.Encode(&bm, src["rgba"])
	f.Add(g.Bytes())
	f.Add(bm.Bytes())
	f.Add(fixtures.PNGHeader(1<<20, 1<<20, 8, 6))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		z := Resizer{MaxPixels: 1 << 20}
		dst := make([]uint8, 8*8*3)
		cfg, err := z.DecodeResize(data, 8, Bilinear, dst)
		if err == nil && (cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > 1<<20) {
			t.Fatalf("accepted image of %dx%d", cfg.Width, cfg.Height)
		}
	})
}

func absd(a, b uint8) int {
	d := int(a) - int(b)
	if d < 0 {
		return -d
	}
	return d
}

// sharedDir is shared/data beside the repository (see internal/fixtures).
func sharedDir(t testing.TB) string {
	t.Helper()
	return fixtures.Shared(t, "")
}

// samplePhotos returns n photos from the originals folder (varied sizes).
func samplePhotos(t testing.TB, n int) []string {
	dir := filepath.Join(sharedDir(t), "dogs-vs-cats-originals")
	m, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no photos in %s", dir)
	}
	sort.Strings(m)
	if len(m) > n {
		m = m[:n]
	}
	return m
}

func BenchmarkDecodeResize(b *testing.B) {
	var data [][]byte
	for _, p := range samplePhotos(b, 20) {
		d, _ := os.ReadFile(p)
		data = append(data, d)
	}
	var z Resizer
	dst := make([]uint8, 200*200*3)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := z.DecodeResize(data[i%len(data)], 200, Bilinear, dst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResize(b *testing.B) {
	var imgs []image.Image
	for _, p := range samplePhotos(b, 20) {
		d, _ := os.ReadFile(p)
		img, _, _ := Decode(d, 0)
		imgs = append(imgs, img)
	}
	var z Resizer
	dst := make([]uint8, 200*200*3)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		z.Resize(imgs[i%len(imgs)], 200, Bilinear, dst)
	}
}

func TestToFloat32(t *testing.T) {
	// Two images of 2 pixels each: (R, G, B) = (1,2,3), (4,5,6); (7,8,9), (10,11,12).
	rgb := []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	tests := []struct {
		name string
		a    Affine
		want []float32
	}{
		{"identity CHW", Scaled(1), []float32{1, 4, 2, 5, 3, 6, 7, 10, 8, 11, 9, 12}},
		{"BGR HWC, affine", Affine{Mul: [3]float32{2, 2, 2}, Add: [3]float32{1, 0, -1}, Src: [3]int{2, 1, 0}, HWC: true},
			[]float32{7, 4, 1, 13, 10, 7, 19, 16, 13, 25, 22, 19}},
	}
	for _, tt := range tests {
		got := make([]float32, len(rgb))
		ToFloat32(got, rgb, 2, tt.a)
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
				break
			}
		}
	}
}
