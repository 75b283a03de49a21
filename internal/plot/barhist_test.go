package plot

import (
	"bytes"
	"image/png"
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
