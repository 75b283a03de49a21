package plot

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// decodePNG checks that b is a PNG of at least minW×minH with more than one colour, and
// saves it under $CATDOG_PLOT_OUT when set (to look at).
func decodePNG(t *testing.T, name string, b []byte, minW, minH int) image.Image {
	t.Helper()
	im, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: not a PNG: %v", name, err)
	}
	if d := im.Bounds().Size(); d.X < minW || d.Y < minH {
		t.Errorf("%s: %v, want at least %dx%d", name, d, minW, minH)
	}
	colours := map[[3]uint32]bool{}
	for y := im.Bounds().Min.Y; y < im.Bounds().Max.Y; y += 3 {
		for x := im.Bounds().Min.X; x < im.Bounds().Max.X; x += 3 {
			r, g, b, _ := im.At(x, y).RGBA()
			colours[[3]uint32{r, g, b}] = true
		}
	}
	if len(colours) < 3 {
		t.Errorf("%s: only %d colours: nothing drawn", name, len(colours))
	}
	if dir := os.Getenv("CATDOG_PLOT_OUT"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return im
}

// countColour counts pixels within 40 of c on every channel.
func countColour(im image.Image, c [3]uint8) int {
	n := 0
	for y := im.Bounds().Min.Y; y < im.Bounds().Max.Y; y++ {
		for x := im.Bounds().Min.X; x < im.Bounds().Max.X; x++ {
			r, g, b, _ := im.At(x, y).RGBA()
			if absDiff(r>>8, c[0]) < 40 && absDiff(g>>8, c[1]) < 40 && absDiff(b>>8, c[2]) < 40 {
				n++
			}
		}
	}
	return n
}

func absDiff(a uint32, b uint8) uint32 {
	if a > uint32(b) {
		return a - uint32(b)
	}
	return uint32(b) - a
}

func epochs(n int, f func(e float64) float64) (x, y []float64) {
	for e := 1; e <= n; e++ {
		x = append(x, float64(e))
		y = append(y, f(float64(e)))
	}
	return x, y
}

func TestCurves(t *testing.T) {
	tx, ty := epochs(12, func(e float64) float64 { return 0.7 * math.Exp(-e/5) })
	vx, vy := epochs(12, func(e float64) float64 { return 0.72*math.Exp(-e/6) + 0.05 })
	b, err := Curves("loss", "epoch", "binary cross-entropy", CurveOptions{},
		Series{Name: "training", X: tx, Y: ty, Dashed: true}, Series{Name: "validation", X: vx, Y: vy})
	if err != nil {
		t.Fatal(err)
	}
	im := decodePNG(t, "curves", b, 500, 300)
	if countColour(im, [3]uint8{0x4c, 0x72, 0xb0}) < 100 || countColour(im, [3]uint8{0xdd, 0x84, 0x52}) < 100 {
		t.Error("the two series' colours are missing")
	}
	var many []Series
	for i := range 8 {
		x, y := epochs(20+i, func(e float64) float64 { return 0.5 + 0.4*(1-math.Exp(-e/float64(3+i))) })
		many = append(many, Series{Name: "a rather long run name " + strings.Repeat("x", i), X: x, Y: y})
	}
	b, err = Curves("validation accuracy", "epoch", "accuracy", CurveOptions{YMin: 0.4, YMax: 1, LegendOutside: true}, many...)
	if err != nil {
		t.Fatal(err)
	}
	decodePNG(t, "overlay", b, 700, 300)

	for _, bad := range [][]Series{nil, {{Name: "x", X: []float64{1, 2}, Y: []float64{1}}}, {{Name: "nan", X: []float64{1}, Y: []float64{math.NaN()}}}} {
		if _, err := Curves("t", "x", "y", CurveOptions{}, bad...); err == nil {
			t.Errorf("Curves(%v) gave no error", bad)
		}
	}
}

func TestROC(t *testing.T) {
	b, err := ROC("ROC, test split",
		ROCCurve{Name: "vgg3", FPR: []float64{0, 0, 0.1, 0.3, 1}, TPR: []float64{0, 0.4, 0.7, 0.9, 1}, AUC: 0.88})
	if err != nil {
		t.Fatal(err)
	}
	decodePNG(t, "roc", b, 400, 400)
	if _, err := ROC("x", ROCCurve{FPR: []float64{0}, TPR: []float64{0}}); err == nil {
		t.Error("one-point curve accepted")
	}
}

func TestConfusionMatrix(t *testing.T) {
	b, err := ConfusionMatrix("confusion matrix, test split", []string{"dog", "cat"}, [][]int{{812, 188}, {95, 905}})
	if err != nil {
		t.Fatal(err)
	}
	im := decodePNG(t, "confusion", b, 300, 300)
	// The diagonal cells are dark blue, the others light red.
	if countColour(im, [3]uint8{0x5d, 0x80, 0xb9}) < 5000 {
		t.Error("no dark blue diagonal cells")
	}
	if countColour(im, [3]uint8{0xf0, 0xd6, 0xd7}) < 5000 {
		t.Error("no light red cells off the diagonal")
	}
	for _, bad := range [][][]int{nil, {{1, 2}}, {{1, 2}, {3}}, {{1, -2}, {3, 4}}} {
		if _, err := ConfusionMatrix("x", []string{"dog", "cat"}, bad); err == nil {
			t.Errorf("ConfusionMatrix(%v) gave no error", bad)
		}
	}
}

func TestImageGrid(t *testing.T) {
	var ims []GridImage
	for i := range 7 {
		w, h := 64, 48+8*i
		px := make([]uint8, w*h*3)
		for j := range px {
			px[j] = uint8(j*7 + i*40)
		}
		ims = append(ims, GridImage{Pixels: px, Width: w, Height: h, Caption: "cat 0.97\n(true dog)", Highlight: i%2 == 0})
	}
	b, err := ImageGrid("most confidently wrong", 4, 128, ims)
	if err != nil {
		t.Fatal(err)
	}
	im := decodePNG(t, "grid", b, 4*128, 2*128)
	if countColour(im, [3]uint8{0xc4, 0x4e, 0x52}) < 200 {
		t.Error("no red frames around highlighted photos")
	}
	// Captions wider than the photos widen the cells instead of running into each other.
	long := make([]GridImage, 4)
	for i := range long {
		long[i] = GridImage{Pixels: make([]uint8, 32*32*3), Width: 32, Height: 32, Caption: "automobile 0.928\ntrue automobile, row 13360"}
	}
	narrow, err := ImageGrid("", 4, 48, ims[:4])
	if err != nil {
		t.Fatal(err)
	}
	wide, err := ImageGrid("", 4, 48, long)
	if err != nil {
		t.Fatal(err)
	}
	nw := decodePNG(t, "narrow grid", narrow, 4*48, 48).Bounds().Dx()
	ww := decodePNG(t, "wide grid", wide, 4*48, 48).Bounds().Dx()
	if ww < 4*150 || ww <= nw {
		t.Errorf("a grid of long captions is %d pixels wide (short ones %d): the captions overlap", ww, nw)
	}
	if _, err := ImageGrid("x", 4, 128, []GridImage{{Pixels: make([]uint8, 5), Width: 2, Height: 2}}); err == nil {
		t.Error("short pixel buffer accepted")
	}
	if _, err := ImageGrid("x", 4, 128, nil); err == nil {
		t.Error("empty grid accepted")
	}
}

func TestNetwork(t *testing.T) {
	layers := []NetLayer{
		{Name: "input", Kind: "input", Shape: "3×224×224"},
		{Name: "vgg16 conv base", Kind: "backbone", Shape: "512×7×7", Params: 14714688, Frozen: true},
		{Name: "flatten", Kind: "flatten", Shape: "25088"},
		{Name: "dense1", Kind: "dense", Shape: "128", Params: 3211392},
		{Name: "relu1", Kind: "relu", Shape: "128"},
		{Name: "dropout1", Kind: "dropout", Shape: "128"},
		{Name: "batchnorm1", Kind: "batchnorm", Shape: "128", Params: 256},
		{Name: "dense2", Kind: "dense", Shape: "1", Params: 129},
		{Name: "sigmoid", Kind: "sigmoid", Shape: "1"},
	}
	b, err := Network("vgg16 transfer", 4, layers)
	if err != nil {
		t.Fatal(err)
	}
	decodePNG(t, "network", b, 600, 250)
	if _, err := Network("x", 4, nil); err == nil {
		t.Error("empty network accepted")
	}
}

func TestHumanCount(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 3211392: "3.2M", 14714688: "14.7M", 25088: "25,088"} {
		if got := humanCount(n); got != want {
			t.Errorf("humanCount(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestScores(t *testing.T) {
	b, err := Scores("Test accuracy, best first", "published (theirs)", 0.5, []Score{
		{Name: "vgg16-head", Value: 0.961, Reference: 0.976},
		{Name: "vgg3-dropout-bn-aug", Value: 0.874, Reference: 0.858},
		{Name: "resnet-gap", Value: 0.83},
		{Name: "vgg1", Value: 0.45, Reference: 0.723},
	})
	if err != nil {
		t.Fatal(err)
	}
	im := decodePNG(t, "scores", b, 500, 200)
	if countColour(im, [3]uint8{0x4c, 0x72, 0xb0}) < 2000 {
		t.Error("no bars")
	}
	if _, err := Scores("x", "", 0.5, []Score{{Name: "bad", Value: 1.5}}); err == nil {
		t.Error("score above 1 accepted")
	}
	if _, err := Scores("x", "", 0.5, nil); err == nil {
		t.Error("empty chart accepted")
	}
}

func TestOutlierCeiling(t *testing.T) {
	flat := func(n int, f func(i int) float64) []float64 {
		y := make([]float64, n)
		for i := range y {
			y[i] = f(i)
		}
		return y
	}
	x := flat(12, func(i int) float64 { return float64(i + 1) })
	calm := []Series{
		{Name: "a", X: x, Y: flat(12, func(i int) float64 { return 0.7 - 0.03*float64(i) })},
		{Name: "b", X: x, Y: flat(12, func(i int) float64 { return 0.65 - 0.02*float64(i) })},
	}
	diverging := append(calm, Series{Name: "resnet-gap", X: x, Y: flat(12, func(i int) float64 {
		if i == 6 {
			return 1.71
		}
		return 0.6
	})})
	if c, _ := outlierCeiling(calm); !math.IsInf(c, 1) {
		t.Errorf("calm curves cut at %v", c)
	}
	c, peak := outlierCeiling(diverging)
	if c > 1 || c < 0.7 || peak != 1.71 {
		t.Errorf("a run spiking to 1.71 among values under 0.7: ceiling %v, peak %v; want 0.7..1 and 1.71", c, peak)
	}
	if _, err := Curves("Validation loss", "epoch", "loss", CurveOptions{LegendOutside: true}, diverging...); err != nil {
		t.Fatal(err)
	}
}
