package plot

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
)

func TestBarAndHistogram(t *testing.T) {
	bar, err := Bar("Class balance", "images", []string{"dog", "cat"}, []float64{120, 80})
	if err != nil {
		t.Fatal(err)
	}
	hist, err := Histogram("Original sizes", "pixels", 20,
		HistSeries{"width", []float64{100, 200, 300, 500, 500}},
		HistSeries{"height", []float64{90, 150, 375, 375}})
	if err != nil {
		t.Fatal(err)
	}
	one, err := Histogram("One value", "pixels", 0, HistSeries{"w", []float64{7, 7}})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"bar": bar, "hist": hist, "one": one} {
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: not a PNG: %v", name, err)
		}
		if img.Bounds().Dx() < 200 || img.Bounds().Dy() < 100 {
			t.Errorf("%s: tiny image %v", name, img.Bounds())
		}
	}
	if _, err := Bar("x", "y", []string{"a"}, []float64{1, 2}); err == nil {
		t.Error("Bar accepted mismatched labels")
	}
	if _, err := Histogram("x", "y", 10); err == nil {
		t.Error("Histogram accepted no values")
	}
}

// TestHistogramSideBySide: two series with the same counts in the same bins both show
// (their bars stand side by side, not on top of each other).
func TestHistogramSideBySide(t *testing.T) {
	b, err := Histogram("sizes", "pixels", 4, HistSeries{"width", []float64{100, 500, 500}}, HistSeries{"height", []float64{100, 500, 500}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var blue, orange int
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			switch {
			case r>>8 == 0x4c && g>>8 == 0x72 && bb>>8 == 0xb0:
				blue++
			case r>>8 == 0xdd && g>>8 == 0x84 && bb>>8 == 0x52:
				orange++
			}
		}
	}
	if blue == 0 || orange == 0 || float64(blue)/float64(orange) > 1.5 || float64(orange)/float64(blue) > 1.5 {
		t.Errorf("%d pixels of the first series, %d of the second: want both, about equal", blue, orange)
	}
}

func TestCountTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		first  string
		step   float64
	}{{0, 975, "0", 200}, {0, 6, "0", 1}, {0, 13, "0", 5}, {0, 30000, "0", 5000}} {
		ts := countTicks{}.Ticks(tc.lo, tc.hi)
		if len(ts) < 2 || len(ts) > 7 || ts[0].Label != tc.first || ts[1].Value-ts[0].Value != tc.step {
			t.Errorf("Ticks(%v, %v) = %+v", tc.lo, tc.hi, ts)
		}
		for _, tk := range ts {
			if strings.Contains(tk.Label, ".") {
				t.Errorf("tick label %q is not a whole number", tk.Label)
			}
		}
	}
}
