package features

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"

	"github.com/catdog-ml/catdog/internal/ort"
	"github.com/catdog-ml/catdog/onnx"
)

func randFloats(r *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = (r.Float32()*2 - 1) * scale
	}
	return x
}

// tinyConvNet is two VGG-style blocks (conv 3x3 pad 1, ReLU, max-pool 2) on (N, 3, 16, 16).
func tinyConvNet(t testing.TB) *onnx.Model {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	b := onnx.NewBuilder("tiny")
	x := b.Input("input", onnx.Float, -1, 3, 16, 16)
	pad := onnx.ConvOpts{Pads: [4]int64{1, 1, 1, 1}}
	w1 := b.Initializer("w1", []int64{8, 3, 3, 3}, randFloats(r, 8*27, 0.3))
	b1 := b.Initializer("b1", []int64{8}, randFloats(r, 8, 0.1))
	y := b.MaxPool(b.Relu(b.Conv(x, w1, b1, pad)), 2, 2)
	w2 := b.Initializer("w2", []int64{4, 8, 3, 3}, randFloats(r, 4*72, 0.3))
	b2 := b.Initializer("b2", []int64{4}, randFloats(r, 4, 0.1))
	y = b.MaxPool(b.Relu(b.Conv(y, w2, b2, pad)), 2, 2)
	b.Output(y, "features", onnx.Float, -1, 4, 4, 4)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// maxRelErr is max |a-b| / max(|b|) over all elements: the error relative to the scale of
// the reference output.
func maxRelErr(a, b []float32) float64 {
	var diff, scale float64
	for i := range a {
		diff = math.Max(diff, math.Abs(float64(a[i])-float64(b[i])))
		scale = math.Max(scale, math.Abs(float64(b[i])))
	}
	if scale == 0 {
		return diff
	}
	return diff / scale
}

// compareEngines runs m on x in onnxruntime and in Gorgonia and returns the relative error.
func compareEngines(t *testing.T, m *onnx.Model, inName, outName string, x []float32, shape ...int64) ([]int64, float64) {
	t.Helper()
	env, err := ort.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	data, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	s, err := env.NewSession(data, ort.SessionOptions{Provider: "cpu", Inputs: []string{inName}, Outputs: []string{outName}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want, wantShape, err := s.RunFloat32(x, shape...)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGorgonia(m, int(shape[0]))
	if err != nil {
		t.Fatal(err)
	}
	got, gotShape, err := g.Run(x, shape...)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(gotShape) != len(wantShape) {
		t.Fatalf("gorgonia shape %v, onnxruntime %v", gotShape, wantShape)
	}
	for i := range gotShape {
		if gotShape[i] != wantShape[i] {
			t.Fatalf("gorgonia shape %v, onnxruntime %v", gotShape, wantShape)
		}
	}
	return wantShape, maxRelErr(got, want)
}

func TestEnginesAgreeTiny(t *testing.T) {
	fixtures.RequireORT(t)
	r := rand.New(rand.NewPCG(3, 4))
	x := randFloats(r, 2*3*16*16, 1)
	shape, rel := compareEngines(t, tinyConvNet(t), "input", "features", x, 2, 3, 16, 16)
	t.Logf("output %v, max relative error %.3g", shape, rel)
	if rel > 1e-5 {
		t.Errorf("onnxruntime and Gorgonia differ: relative error %.3g", rel)
	}
}
