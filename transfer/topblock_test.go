package transfer

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/finetune"
	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/internal/ort"
)

// TestTopBlockDepthwise reads MobileNet v1 0.75's last two blocks (3x3 depthwise, ReLU6,
// 1x1 pointwise, ReLU6, their batch norms folded, the pool) from the real network as
// finetune layers, and checks that Gorgonia, with the weights read, computes from the
// features at conv_pw_12_relu what onnxruntime computes on the whole network.
func TestTopBlockDepthwise(t *testing.T) {
	fixtures.RequireORT(t)
	bb, err := backbones.Load(context.Background(), "mobilenet-v1-075", backbones.Options{File: fixtures.Model(t, "mobilenet_v1_0.75_224"), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	const cut = "conv_pw_12_relu"
	blk, err := finetune.BlockFrom(bb.Model, cut, bb.Output)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := finetune.SpecString(blk.Layers), "dwconv:3:1,relu6,conv:768:1:0,relu6,gap"; got != want {
		t.Fatalf("layers %s, want %s", got, want)
	}
	env, err := ort.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	input := bb.Model.Proto.GetGraph().GetInput()[0].GetName()
	run := func(out string) []float32 {
		m, err := bb.Model.Cut(out)
		if err != nil {
			t.Fatal(err)
		}
		data, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		s, err := env.NewSession(data, ort.SessionOptions{Provider: ort.ProviderCPU, Inputs: []string{input}, Outputs: []string{out}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		y, _, err := s.RunFloat32(images, 2, 3, 224, 224)
		if err != nil {
			t.Fatal(err)
		}
		return y
	}
	feats, pooled := run(cut), run(bb.Output)
	if len(feats) != 2*768*7*7 || len(pooled) != 2*768 {
		t.Fatalf("features of %d values, pooled %d", len(feats), len(pooled))
	}
	m, err := finetune.NewModel("top", []int{768, 7, 7}, append(blk.Layers, finetune.Dense(1), finetune.Sigmoid()), "", 1)
	if err != nil {
		t.Fatal(err)
	}
	dense := make([]float32, 768)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range dense {
		dense[i] = float32(rng.NormFloat64() * 0.05)
	}
	init := map[string][]float32{"dense1.weight": dense, "dense1.bias": {0.25}}
	for k, v := range blk.Weights {
		init[k] = v
	}
	if err := m.SetWeights(init); err != nil {
		t.Fatal(err)
	}
	// The training graph (what fine-tuning runs; no dropout or batch norm here), one image
	// at a time: the loss before the step, of label 1, is -log p.
	for i := range 2 {
		st, err := m.NewStepper(1, "sgd", 1e-9, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		loss, err := st.Step(feats[i*768*49:(i+1)*768*49], []float32{1})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		z := 0.25
		for c := range 768 {
			z += float64(pooled[i*768+c]) * float64(dense[c])
		}
		got, want := math.Exp(-loss), 1/(1+math.Exp(-z))
		if math.Abs(got-want) > 1e-4 {
			t.Errorf("image %d: Gorgonia's top block gives %v, onnxruntime's network %v", i, got, want)
		}
	}
}

// images are two 224x224 RGB images, NCHW, values 0..255.
var images = func() []float32 {
	rng := rand.New(rand.NewPCG(7, 8))
	x := make([]float32, 2*3*224*224)
	for i := range x {
		x[i] = float32(rng.IntN(256))
	}
	return x
}()
