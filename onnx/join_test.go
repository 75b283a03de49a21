package onnx_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/onnxtest"
)

// tinyNet builds image (N, 3, 6, 6) -> conv 3x3 (asymmetric random weights) -> relu ->
// global average pool -> flatten: (N, out), with its own names.
func tinyNet(t *testing.T, name string, out int64, seed uint64) *onnx.Model {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	w := make([]float32, out*3*9)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	b := onnx.NewBuilder(name)
	x := b.Input("image", onnx.Float, -1, 3, 6, 6)
	y := b.Name(name+"_conv").Conv(x, b.Initializer(name+"_w", []int64{out, 3, 3, 3}, w), "", onnx.ConvOpts{Pads: [4]int64{1, 1, 1, 1}})
	y = b.Name(name+"_flat").Flatten(b.GlobalAveragePool(b.Relu(y)), 1)
	b.Output(y, name+"_features", onnx.Float, -1, out)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func randomImages(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 2))
	x := make([]float32, n*3*6*6)
	for i := range x {
		x[i] = float32(r.IntN(256))
	}
	return x
}

// mirror flips NCHW images along their width.
func mirror(x []float32, n, c, h, w int) []float32 {
	y := make([]float32, len(x))
	for i := range n * c * h {
		for j := range w {
			y[i*w+j] = x[i*w+w-1-j]
		}
	}
	return y
}

// TestJoin runs two networks side by side: the joint model's output is their outputs
// concatenated, and it passes the checker.
func TestJoin(t *testing.T) {
	env := openORT(t)
	a, b := tinyNet(t, "a", 4, 1), tinyNet(t, "b", 3, 2)
	j, err := onnx.Join([]*onnx.Model{a, b}, []string{"a_features", "b_features"}, []string{"a/", "b/"}, "image", "features")
	if err != nil {
		t.Fatal(err)
	}
	s := j.Inspect()
	if len(s.Inputs) != 1 || s.Inputs[0].Name != "image" || len(s.Outputs) != 1 || s.Outputs[0].Shape.String() != "(N, 7)" {
		t.Fatalf("inputs %v outputs %v", s.Inputs, s.Outputs)
	}
	path := filepath.Join(t.TempDir(), "join.onnx")
	if err := j.Write(path); err != nil {
		t.Fatal(err)
	}
	onnxtest.CheckModel(t, path)
	x := randomImages(2, 3)
	got, _ := runORT(t, env, j, x, 2, 3, 6, 6)
	ya, _ := runORT(t, env, a, x, 2, 3, 6, 6)
	yb, _ := runORT(t, env, b, x, 2, 3, 6, 6)
	for i := range 2 {
		want := append(append([]float32(nil), ya[i*4:i*4+4]...), yb[i*3:i*3+3]...)
		for k, v := range want {
			if math.Abs(float64(got[i*7+k]-v)) > 1e-5*math.Max(1, math.Abs(float64(v))) {
				t.Fatalf("sample %d: %v, want %v", i, got[i*7:i*7+7], want)
			}
		}
	}
	if _, err := onnx.Join([]*onnx.Model{a, a}, []string{"a_features", "a_features"}, []string{"x/", "x/"}, "image", "features"); err == nil || !strings.Contains(err.Error(), "two models") {
		t.Errorf("same prefix twice: %v", err)
	}
}

// TestFlipAverage: the flip-averaged model gives the mean of the model on the images and
// on their mirror images.
func TestFlipAverage(t *testing.T) {
	env := openORT(t)
	m := tinyNet(t, "a", 4, 1)
	f, err := onnx.FlipAverage(m, "image", "a_features", 3)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "flip.onnx")
	if err := f.Write(path); err != nil {
		t.Fatal(err)
	}
	onnxtest.CheckModel(t, path)
	if s := f.Inspect(); s.TotalParams != m.Inspect().TotalParams+5 {
		t.Errorf("%d weights, want %d (shared) + 5 slice constants", s.TotalParams, m.Inspect().TotalParams)
	}
	x := randomImages(3, 4)
	got, _ := runORT(t, env, f, x, 3, 3, 6, 6)
	y1, _ := runORT(t, env, m, x, 3, 3, 6, 6)
	y2, _ := runORT(t, env, m, mirror(x, 3, 3, 6, 6), 3, 3, 6, 6)
	differs := false
	for i := range got {
		want := (y1[i] + y2[i]) / 2
		if math.Abs(float64(got[i]-want)) > 1e-4*math.Max(1, math.Abs(float64(want))) {
			t.Fatalf("value %d: %v, want %v", i, got[i], want)
		}
		differs = differs || math.Abs(float64(y1[i]-y2[i])) > 1e-3
	}
	if !differs {
		t.Error("the mirror images give the same output: the test proves nothing")
	}
}
