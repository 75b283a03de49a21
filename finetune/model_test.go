package finetune

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randomBatch returns n random samples of model m's input and random labels.
func randomBatch(m *Model, n int, seed uint64) (x, y []float32) {
	rng := rand.New(rand.NewPCG(seed, 1))
	x = make([]float32, n*prod(m.Input))
	for i := range x {
		x[i] = rng.Float32()
	}
	y = make([]float32, n)
	for i := range y {
		y[i] = float32(i % m.Classes())
	}
	return x, y
}

// TestArchitecturesTrainStep checks that ten Adam steps on one repeated batch lower every
// architecture's training loss on it, measured by the training graph with the batch's own
// statistics and no dropout: what the steps descend. (The running statistics that inference
// uses barely move in ten steps, so the inference loss of a batch-norm model is no measure.)
func TestArchitecturesTrainStep(t *testing.T) {
	for _, a := range Architectures() {
		t.Run(a.Name, func(t *testing.T) {
			m, err := a.Model(32, "", 1)
			if err != nil {
				t.Fatal(err)
			}
			gr, err := m.build(4, true)
			if err != nil {
				t.Fatal(err)
			}
			defer gr.close()
			opt, err := newOptimizer("adam", 1e-4, 0, gr.learn)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			x, y := randomBatch(m, 4, 3)
			evalLoss := func() float64 {
				for _, mk := range gr.masks {
					for i, d := 0, mk.t.Data().([]float32); i < len(d); i++ {
						d[i] = 1
					}
				}
				z, err := gr.run(x, y)
				if err != nil {
					t.Fatal(err)
				}
				var s float64
				for i := range z {
					s += bceLoss(z[i], y[i])
				}
				return s / float64(len(z))
			}
			first := evalLoss()
			for range 10 {
				gr.fillMasks(rng.Uint64)
				if _, err := gr.run(x, y); err != nil {
					t.Fatal(err)
				}
				grads := make([][]float32, len(gr.grads))
				for j, g := range gr.grads {
					_, d, err := float32s(g.Value(), "grad")
					if err != nil {
						t.Fatal(err)
					}
					grads[j] = d
				}
				opt.step(gr.learn, grads)
			}
			last := evalLoss()
			if math.IsNaN(last) || last >= first {
				t.Errorf("loss on one repeated batch went from %v to %v, want it to fall", first, last)
			}
		})
	}
}

// TestConvSeam checks that Gorgonia's own convolution, plugged in through the ConvFunc
// seam, gives the same logits and gradients as the default one.
func TestConvSeam(t *testing.T) {
	a, err := Arch("vgg3-dropout-bn")
	if err != nil {
		t.Fatal(err)
	}
	run := func(conv ConvFunc) (z []float32, grads [][]float32) {
		m, err := a.Model(16, "", 2)
		if err != nil {
			t.Fatal(err)
		}
		m.SetConv(conv)
		gr, err := m.build(3, true)
		if err != nil {
			t.Fatal(err)
		}
		defer gr.close()
		gr.fillMasks(rand.New(rand.NewPCG(1, 1)).Uint64)
		x, y := randomBatch(m, 3, 8)
		out, err := gr.run(x, y)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gr.grads {
			_, d, _ := float32s(g.Value(), "grad")
			grads = append(grads, append([]float32(nil), d...))
		}
		return append([]float32(nil), out...), grads
	}
	z1, g1 := run(nil)
	z2, g2 := run(GorgoniaConv)
	for i := range z1 {
		if math.Abs(float64(z1[i]-z2[i])) > 1e-4 {
			t.Errorf("logit %d: %v with the default convolution, %v with Gorgonia's", i, z1[i], z2[i])
		}
	}
	for i := range g1 {
		for j := range g1[i] {
			if d := math.Abs(float64(g1[i][j] - g2[i][j])); d > 1e-4+1e-3*math.Abs(float64(g1[i][j])) {
				t.Fatalf("gradient %d[%d]: %v vs %v", i, j, g1[i][j], g2[i][j])
			}
		}
	}
}

func TestModelFLOPs(t *testing.T) {
	// the 3-block CNN at 64x64: bench/train's count, 84.6 MFLOP forward
	a, err := Arch("vgg3")
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.Model(64, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	want := 2.0 * (64*64*3*32*9 + 32*32*32*64*9 + 16*16*64*128*9 + 128*8*8*128 + 128)
	if got := m.FLOPs(); got != want {
		t.Errorf("vgg3 at 64x64: %v FLOPs, want %v", got, want)
	}
	// a residual block counts its two convolutions and its projection
	r, err := NewModel("r", []int{4, 8, 8}, []Layer{Residual(6), GlobalAvgPool(), Dense(1), Sigmoid()}, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	want = 2.0 * (8*8*(6*4*9+6*6*9+6*4) + 6)
	if got := r.FLOPs(); got != want {
		t.Errorf("residual block: %v FLOPs, want %v", got, want)
	}
}

// TestConvBNBias checks what graphBuilder.convBN does with the bias of a convolution before
// a batch norm, which it leaves out of the graph: in training the batch statistics cancel
// it (same logits, zero gradient), and the running mean still counts it. Model a has bias
// b and running mean r; model z has no bias and running mean r - b, the same function.
// After one step on the same batch, a's running mean must be z's plus b.
func TestConvBNBias(t *testing.T) {
	layers := []Layer{Conv(4, 3, 1), BatchNorm(), ReLU(), Flatten(), Dense(1), Sigmoid()}
	a, err := NewModel("a", []int{3, 6, 6}, layers, "", 7)
	if err != nil {
		t.Fatal(err)
	}
	z, err := NewModel("z", []int{3, 6, 6}, layers, "", 7)
	if err != nil {
		t.Fatal(err)
	}
	bias, mean := a.Param("conv1.bias"), a.Param("batchnorm1.running_mean")
	if bias == nil || mean == nil {
		t.Fatal("no conv1.bias or batchnorm1.running_mean")
	}
	zmean := z.Param("batchnorm1.running_mean")
	for k := range bias.Data {
		bias.Data[k] = float32(k) - 1.5
		mean.Data[k] = 0.25 * float32(k)
		zmean.Data[k] = mean.Data[k] - bias.Data[k]
	}
	x, y := randomBatch(a, 8, 3)
	logits := make([][]float32, 2)
	for i, m := range []*Model{a, z} {
		gr, err := m.build(8, true)
		if err != nil {
			t.Fatal(err)
		}
		out, err := gr.run(x, y)
		if err != nil {
			t.Fatal(err)
		}
		logits[i] = append([]float32(nil), out...)
		grads := make([][]float32, len(gr.learn))
		if err := gr.gradients(grads); err != nil {
			t.Fatal(err)
		}
		for j, p := range gr.learn {
			if p.Name != "conv1.bias" {
				continue
			}
			for _, g := range grads[j] {
				if g != 0 {
					t.Errorf("model %s: conv1.bias gradient %v, want zeros", m.Name, grads[j])
					break
				}
			}
		}
		gr.close()
	}
	for i := range logits[0] {
		if d := math.Abs(float64(logits[0][i] - logits[1][i])); d > 1e-5 {
			t.Fatalf("logits with and without the bias differ by %g: %v, %v", d, logits[0], logits[1])
		}
	}
	for k := range bias.Data {
		if d := math.Abs(float64(mean.Data[k] - zmean.Data[k] - bias.Data[k])); d > 1e-5 {
			t.Errorf("channel %d: running mean %g with bias %g, %g without: should differ by the bias", k, mean.Data[k], bias.Data[k], zmean.Data[k])
		}
	}
}
