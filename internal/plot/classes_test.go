package plot

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strings"
	"testing"
)

// classNames returns n class names, some of them long.
func classNames(n int) []string {
	base := []string{"dog", "cat", "a rather long class name, longer than fits", "bird", "automobile", "frog", "horse with a long tail", "ship", "truck", "crème brûlée"}
	var out []string
	for i := range n {
		out = append(out, base[i%len(base)]+strings.Repeat("'", i/len(base)))
	}
	return out
}

// confusionCounts returns a matrix of n classes that gets 90 % of each row right (rows
// of 100, 200, ... samples).
func confusionCounts(n int) [][]int {
	m := make([][]int, n)
	for t := range m {
		m[t] = make([]int, n)
		total := 100 * (t + 1)
		m[t][t] = total * 9 / 10
		m[t][(t+1)%n] += total - m[t][t]
	}
	return m
}

// blankEdges checks that nothing is drawn on the outermost pixels of im: no text or
// line runs off the canvas.
func blankEdges(t *testing.T, name string, im image.Image) {
	t.Helper()
	b := im.Bounds()
	for x := b.Min.X; x < b.Max.X; x++ {
		for y := b.Min.Y; y < b.Max.Y; y++ {
			if x > b.Min.X+1 && x < b.Max.X-2 && y > b.Min.Y+1 && y < b.Max.Y-2 {
				continue
			}
			if r, g, bl, _ := im.At(x, y).RGBA(); r>>8 < 0xf0 || g>>8 < 0xf0 || bl>>8 < 0xf0 {
				t.Errorf("%s: pixel (%d, %d) on the edge is drawn: something runs off the canvas", name, x, y)
				return
			}
		}
	}
}

func TestConfusionMatrixClasses(t *testing.T) {
	for _, n := range []int{2, 3, 10} {
		classes := classNames(n)
		counts := confusionCounts(n)
		cell := 1.4 * dpi // pixels
		if n > 3 {
			cell = 7.2 / float64(n) * dpi
		}
		for _, normalized := range []bool{false, true} {
			name := fmt.Sprintf("confusion-%d", n)
			f := ConfusionMatrix
			if normalized {
				name += "-normalized"
				f = ConfusionMatrixNormalized
			}
			b, err := f("Confusion matrix, test split", classes, counts)
			if err != nil {
				t.Fatal(err)
			}
			side := int(float64(n) * cell)
			im := decodePNG(t, name, b, side+60, side+60)
			if d := im.Bounds().Size(); d.X > side+int(3.5*dpi) || d.Y > side+int(3.5*dpi) {
				t.Errorf("%s: %v for a matrix of %d pixels: too much room around it", name, d, side)
			}
			// The diagonal cells, 90 % of their row, are nearly the palette's blue, and as
			// large as intended whatever the names' length: n cells, less borders and text.
			c := blend(color.RGBA{R: 0xf7, G: 0xf7, B: 0xf7, A: 0xff}, seriesColor(0), 0.9)
			if got, want := countColour(im, [3]uint8{c.R, c.G, c.B}), int(0.6*float64(n)*cell*cell); got < want {
				t.Errorf("%s: %d pixels of the diagonal's blue, want at least %d", name, got, want)
			}
			blankEdges(t, name, im)
		}
	}
}

func TestConfusionTexts(t *testing.T) {
	tests := []struct {
		normalized    bool
		v, total, n   int
		first, second string
	}{
		{false, 812, 1000, 2, "812", "81.2% of row"},
		{true, 812, 1000, 2, "81.2%", "812 of 1000"},
		{false, 812, 1000, 10, "812", "81%"},
		{true, 812, 1000, 10, "81%", "812"},
		{true, 1, 1000, 10, "<1%", "1"},
		{true, 999, 1000, 10, ">99%", "999"},
		{true, 0, 0, 10, "–", "0"},
		{true, 0, 10, 10, "0%", "0"},
	}
	for _, tt := range tests {
		share := 0.0
		if tt.total > 0 {
			share = float64(tt.v) / float64(tt.total)
		}
		first, second := cells{normalized: tt.normalized}.texts(tt.v, tt.total, share, tt.n)
		if first != tt.first || second != tt.second {
			t.Errorf("%+v: %q %q", tt, first, second)
		}
	}
}

func TestROCOneVsRest(t *testing.T) {
	for _, n := range []int{2, 3, 10, 12} {
		var curves []ROCCurve
		for i, name := range classNames(n) {
			a := 0.5 + 0.4*float64(i+1)/float64(n)
			curves = append(curves, ROCCurve{Name: name, FPR: []float64{0, 0, 0.1, 0.4, 1}, TPR: []float64{0, a / 2, a, math.Min(1, a+0.1), 1}, AUC: a})
		}
		name := fmt.Sprintf("roc-%d", n)
		wantW := 541 // the legend beside the plot
		if n == 2 {
			wantW = 441 // two short names: the legend over it
		}
		b, err := ROC("ROC one-vs-rest, test split (macro AUC 0.800)", curves...)
		if err != nil {
			t.Fatal(err)
		}
		// Long names put the legend beside the plot, widening the chart.
		im := decodePNG(t, name, b, wantW, 422)
		for i := range min(n, 10) {
			c := seriesColor(i)
			if countColour(im, [3]uint8{c.R, c.G, c.B}) < 100 {
				t.Errorf("%s: curve %d's colour is missing", name, i)
			}
		}
		blankEdges(t, name, im)
	}
}

func TestGroupedBars(t *testing.T) {
	for _, n := range []int{2, 3, 10} {
		classes := classNames(n)
		var p, r, f []float64
		for i := range classes {
			p = append(p, 0.5+0.05*float64(i))
			r = append(r, 0.9-0.04*float64(i))
			f = append(f, 2*p[i]*r[i]/(p[i]+r[i]))
		}
		name := fmt.Sprintf("bars-%d", n)
		b, err := GroupedBars("Precision, recall and F1 per class, test split", "score", classes,
			BarSeries{"precision", p}, BarSeries{"recall", r}, BarSeries{"F1", f})
		if err != nil {
			t.Fatal(err)
		}
		im := decodePNG(t, name, b, int(5*dpi)+100, n*int(41*dpi/72))
		for i := range 3 {
			c := seriesColor(i)
			// A bar of n at least 0.5 long (2.5 inches) and 11 points high, less antialiasing.
			if got := countColour(im, [3]uint8{c.R, c.G, c.B}); got < n*int(2.4*dpi*10*dpi/72) {
				t.Errorf("%s: %d pixels of series %d's colour", name, got, i)
			}
		}
		blankEdges(t, name, im)
	}
	for _, bad := range [][]BarSeries{nil, {{"x", []float64{1}}}, {{"x", []float64{1, math.NaN()}}}, {{"x", []float64{1, -1}}}} {
		if _, err := GroupedBars("x", "y", []string{"a", "b"}, bad...); err == nil {
			t.Errorf("GroupedBars(%v) gave no error", bad)
		}
	}
	if b, err := GroupedBars("counts", "photos", []string{"a", "b"}, BarSeries{"n", []float64{120, 80}}); err != nil {
		t.Error(err)
	} else {
		decodePNG(t, "bars-counts", b, 400, 100)
	}
}
