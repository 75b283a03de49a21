package finetune

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/internal/ort"
	"github.com/catdog-ml/catdog/onnx"
)

// blockGraph builds x (N, 4, 3, 3) -> depthwise Conv 3x3 pad 1 (group 4, bias) ->
// BatchNormalization -> Clip(0, 6) -> Conv 1x1 (bias) -> BatchNormalization -> Clip(0, 6)
// -> GlobalAveragePool -> Flatten: "out" (N, 4), with values that cross both clip bounds:
// MobileNet's last block, narrow.
func blockGraph(t *testing.T) *onnx.Model {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	v := func(n int, scale, off float64) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(r.NormFloat64()*scale + off)
		}
		return out
	}
	b := onnx.NewBuilder("block")
	x := b.Input("x", onnx.Float, -1, 4, 3, 3)
	dvar := v(4, 0.2, 1)
	for i := range dvar {
		dvar[i] = float32(math.Abs(float64(dvar[i]))) + 0.1
	}
	y := b.Name("dw").Conv(x, b.Initializer("dw_w", []int64{4, 1, 3, 3}, v(36, 0.5, 0)), b.Initializer("dw_b", []int64{4}, v(4, 0.5, 0)),
		onnx.ConvOpts{Pads: [4]int64{1, 1, 1, 1}, Group: 4})
	y = b.Name("dw_bn").BatchNorm(y, b.Initializer("dw_g", []int64{4}, v(4, 0.3, 1)), b.Initializer("dw_beta", []int64{4}, v(4, 0.5, 0.5)),
		b.Initializer("dw_mean", []int64{4}, v(4, 0.3, 0)), b.Initializer("dw_var", []int64{4}, dvar), 1e-3)
	y = b.Name("dw_relu6").Node("Clip", []string{y, b.Initializer("dw_lo", nil, []float32{0}), b.Initializer("dw_hi", nil, []float32{6})}, nil)
	y = b.Name("conv").Conv(y, b.Initializer("w", []int64{4, 4, 1, 1}, v(16, 2, 0)), b.Initializer("b", []int64{4}, v(4, 1, 0)), onnx.ConvOpts{})
	variance := v(4, 0.2, 1)
	for i := range variance {
		variance[i] = float32(math.Abs(float64(variance[i]))) + 0.1
	}
	y = b.Name("bn").BatchNorm(y, b.Initializer("g", []int64{4}, v(4, 0.5, 1.5)), b.Initializer("beta", []int64{4}, v(4, 1, 1)),
		b.Initializer("mean", []int64{4}, v(4, 0.5, 0)), b.Initializer("var", []int64{4}, variance), 1e-3)
	y = b.Name("relu6").Node("Clip", []string{y, b.Initializer("lo", nil, []float32{0}), b.Initializer("hi", nil, []float32{6})}, nil)
	y = b.GlobalAveragePool(y)
	y = b.Name("out").Flatten(y, 1)
	b.Output(y, y, onnx.Float, -1, 4)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBlockFrom reads a conv + batch norm + ReLU6 + pooling block back as layers and checks
// that Gorgonia, with the weights it gives, computes what onnxruntime computes on the graph.
func TestBlockFrom(t *testing.T) {
	env := openORT(t)
	g := blockGraph(t)
	blk, err := BlockFrom(g, "x", "out")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := SpecString(blk.Layers), "dwconv:3:1,relu6,conv:4:1:0,relu6,gap"; got != want {
		t.Fatalf("layers %s, want %s", got, want)
	}
	m, err := NewModel("block", []int{4, 3, 3}, append(blk.Layers, Dense(1), Sigmoid()), "", 1)
	if err != nil {
		t.Fatal(err)
	}
	dense := []float32{0.5, -1, 0.25, 2}
	init := map[string][]float32{"dense1.weight": dense, "dense1.bias": {0.1}}
	for k, v := range blk.Weights {
		init[k] = v
	}
	if err := m.SetWeights(init); err != nil {
		t.Fatal(err)
	}
	const n = 5
	x, _ := randomBatch(m, n, 9)
	for i := range x {
		x[i] = x[i]*8 - 3 // wide enough to clip at 0 and at 6
	}
	gr, err := m.build(n, false)
	if err != nil {
		t.Fatal(err)
	}
	defer gr.close()
	z, err := gr.run(x, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := g.Encode()
	s, err := env.NewSession(data, ort.SessionOptions{Provider: ort.ProviderCPU, Inputs: []string{"x"}, Outputs: []string{"out"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	feats, _, err := s.RunFloat32(x, n, 4, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		want := 0.1
		for c := range 4 {
			want += float64(feats[i*4+c]) * float64(dense[c])
		}
		if math.Abs(float64(z[i])-want) > 1e-4 {
			t.Errorf("sample %d: logit %v, onnxruntime's block gives %v", i, z[i], want)
		}
	}
	// The clip matters: some values sit at 0 and some at 6 before pooling.
	c6, err := g.Cut("relu6")
	if err != nil {
		t.Fatal(err)
	}
	d6, _ := c6.Encode()
	s6, err := env.NewSession(d6, ort.SessionOptions{Provider: ort.ProviderCPU, Inputs: []string{"x"}, Outputs: []string{"relu6"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s6.Close()
	act, _, err := s6.RunFloat32(x, n, 4, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	at := map[float32]int{}
	for _, a := range act {
		if a == 0 || a == 6 {
			at[a]++
		}
	}
	if at[0] == 0 || at[6] == 0 {
		t.Errorf("values clipped at 0: %d, at 6: %d; the test does not exercise ReLU6", at[0], at[6])
	}
	// Not a chain, or an unknown op: an error naming the node.
	if _, err := BlockFrom(g, "x", "nowhere"); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("missing end: %v", err)
	}
}
