package finetune

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestReLU6 checks ReLU6 and its gradient on both sides of both kinks.
func TestReLU6(t *testing.T) {
	x := []float32{-1, 0.5, 5.9, 7, -0.1, 6.5}
	g := G.NewGraph()
	xn := G.NewTensor(g, tensor.Float32, 2, G.WithShape(2, 3), G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking(x))))
	y, err := G.ApplyOp(relu6Op{dims: 2}, xn)
	if err != nil {
		t.Fatal(err)
	}
	s, err := G.Sum(y)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(s, xn)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	_, got, _ := float32s(y.Value(), "y")
	_, dx, _ := float32s(grads[0].Value(), "dx")
	want, wantDx := []float32{0, 0.5, 5.9, 6, 0, 6}, []float32{0, 1, 1, 0, 0, 0}
	for i := range x {
		if got[i] != want[i] || dx[i] != wantDx[i] {
			t.Errorf("relu6(%v) = %v (gradient %v), want %v (%v)", x[i], got[i], dx[i], want[i], wantDx[i])
		}
	}
}

// TestGradients compares the graph's gradients with central finite differences of the
// loss (computed in float64 from the inference-free training graph without dropout), for
// sigmoid and softmax outputs, with and without class weights.
func TestGradients(t *testing.T) {
	specs := map[string]struct {
		layers  []Layer
		weights []float64
	}{
		"conv-pool-dense":  {layers: []Layer{Conv(3, 3, 1), ReLU(), MaxPool(2), Flatten(), Dense(4), ReLU(), Dense(1), Sigmoid()}},
		"bn-conv":          {layers: []Layer{Conv(3, 3, 1), BatchNorm(), ReLU(), MaxPool(2), Flatten(), Dense(1), Sigmoid()}},
		"bn-dense":         {layers: []Layer{Flatten(), Dense(5), BatchNorm(), ReLU(), Dense(1), Sigmoid()}},
		"residual-gap":     {layers: []Layer{Residual(4), GlobalAvgPool(), Dense(1), Sigmoid()}},
		"depthwise-bn":     {layers: []Layer{Conv(3, 3, 1), DepthwiseConv(3, 1), BatchNorm(), ReLU6(), Conv(2, 1, 0), DepthwiseConv(3, 0), ReLU(), GlobalAvgPool(), Dense(1), Sigmoid()}},
		"conv1x1-relu6":    {layers: []Layer{Conv(4, 1, 0), ReLU6(), GlobalAvgPool(), Dense(1), Sigmoid()}},
		"weighted-sigmoid": {layers: []Layer{Flatten(), Dense(4), ReLU(), Dense(1), Sigmoid()}, weights: []float64{0.5, 2}},
		"conv-softmax":     {layers: []Layer{Conv(3, 3, 1), ReLU(), MaxPool(2), Flatten(), Dense(3), Softmax()}},
		"bn-softmax":       {layers: []Layer{Flatten(), Dense(5), BatchNorm(), ReLU(), Dense(4), Softmax()}},
		"weighted-softmax": {layers: []Layer{Flatten(), Dense(5), ReLU(), Dense(3), Softmax()}, weights: []float64{0.3, 1, 2.5}},
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			m, err := NewModel(name, []int{2, 6, 6}, spec.layers, "", 7)
			if err != nil {
				t.Fatal(err)
			}
			// Biases and shifts away from zero: at their zero start, a ReLU whose inputs are all
			// zero (a dead neighbourhood) sits exactly on its kink, where the finite difference
			// sees half a slope and the gradient (as PyTorch's) none.
			brng := rand.New(rand.NewPCG(11, 12))
			for _, p := range m.Params() {
				if strings.HasSuffix(p.Name, ".bias") || strings.HasSuffix(p.Name, ".shift") {
					for i := range p.Data {
						p.Data[i] = float32(0.2 * (brng.Float64() - 0.5))
					}
				}
			}
			const n = 3
			gr, err := m.compile(n, true, spec.weights)
			if err != nil {
				t.Fatal(err)
			}
			defer gr.close()
			x, y := randomBatch(m, n, 5)
			obj := objective{classes: m.Classes(), weights: spec.weights}
			loss := func() float64 {
				z, err := gr.run(x, y)
				if err != nil {
					t.Fatal(err)
				}
				var s, sw float64
				w := obj.width()
				for i := range y {
					l, _ := obj.sample(z[i*w:(i+1)*w], y[i])
					s += obj.weight(y[i]) * l
					sw += obj.weight(y[i])
				}
				return s / sw
			}
			loss()
			grads := make([][]float32, len(gr.grads))
			for j, g := range gr.grads {
				_, d, _ := float32s(g.Value(), "grad")
				grads[j] = append([]float32(nil), d...)
			}
			// The loss is only piecewise smooth (ReLU, ReLU6, max-pool): a finite difference
			// that moves across a kink measures no derivative. A check is made where two steps
			// agree, and most checks must be made.
			fd := func(p *Param, k int, h float64) float64 {
				old := p.Data[k]
				p.Data[k] = old + float32(h)
				lp := loss()
				p.Data[k] = old - float32(h)
				lm := loss()
				p.Data[k] = old
				return (lp - lm) / (2 * h)
			}
			close := func(a, b float64) bool { return math.Abs(a-b) <= 2e-3+0.05*math.Abs(b) }
			checked, skipped := 0, 0
			for j, p := range gr.learn {
				for _, k := range []int{0, len(p.Data) / 2, len(p.Data) - 1} {
					num := fd(p, k, 1e-3)
					if !close(fd(p, k, 3e-4), num) {
						skipped++
						t.Logf("%s[%d]: not smooth at this point (finite differences of two steps disagree): not checked", p.Name, k)
						continue
					}
					checked++
					if got := float64(grads[j][k]); !close(got, num) {
						t.Errorf("%s[%d]: gradient %v, finite difference %v", p.Name, k, got, num)
					}
				}
			}
			if skipped*4 > checked {
				t.Errorf("%d checks skipped for %d made: the test checks too little", skipped, checked)
			}
		})
	}
}

// TestSchedule checks the learning rate step by step: linear warm-up, then half a cosine
// down to 0 at the last step; constant stays put after the warm-up.
func TestSchedule(t *testing.T) {
	o := &optimizer{LR: 1, Schedule: "cosine", WarmupSteps: 4, TotalSteps: 12}
	want := map[int64]float64{1: 0.25, 2: 0.5, 4: 1, 8: 0.5, 12: 0}
	for step, w := range want {
		o.Steps = step
		if got := o.rate(); math.Abs(got-w) > 1e-12 {
			t.Errorf("cosine, step %d: rate %v, want %v", step, got, w)
		}
	}
	c := &optimizer{LR: 0.1, Schedule: "constant", WarmupSteps: 2, TotalSteps: 10}
	for step, w := range map[int64]float64{1: 0.05, 2: 0.1, 9: 0.1} {
		c.Steps = step
		if got := c.rate(); math.Abs(got-w) > 1e-12 {
			t.Errorf("constant, step %d: rate %v, want %v", step, got, w)
		}
	}
}

// lossGraph computes op (bceOp or ceOp) on logits z of shape (n, c) and labels y in a
// Gorgonia graph, and its gradient with respect to z.
func lossGraph(t *testing.T, op G.Op, z []float32, n, c int, y []float32) (loss float64, dz []float32, err error) {
	t.Helper()
	g := G.NewGraph()
	zn := G.NewTensor(g, tensor.Float32, 2, G.WithShape(n, c), G.WithName("z"), G.WithValue(tensor.New(tensor.WithShape(n, c), tensor.WithBacking(append([]float32(nil), z...)))))
	yn := G.NewTensor(g, tensor.Float32, 2, G.WithShape(n, 1), G.WithName("y"), G.WithValue(tensor.New(tensor.WithShape(n, 1), tensor.WithBacking(append([]float32(nil), y...)))))
	l, err := G.ApplyOp(op, zn, yn)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(l, zn)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return 0, nil, err
	}
	_, d, err := float32s(grads[0].Value(), "dz")
	if err != nil {
		t.Fatal(err)
	}
	return float64(l.Value().Data().(float32)), append([]float32(nil), d...), nil
}

// refCrossEntropy is the weighted mean cross-entropy of softmax(z) written plainly in
// float64 (no shift by the row's largest logit: the test's logits are small).
func refCrossEntropy(z []float64, c int, y []int, weights []float64) float64 {
	var s, sw float64
	for i, k := range y {
		var e float64
		for j := range c {
			e += math.Exp(z[i*c+j])
		}
		w := 1.0
		if weights != nil {
			w = weights[k]
		}
		s += w * (math.Log(e) - z[i*c+k])
		sw += w
	}
	return s / sw
}

// TestCrossEntropyOp checks ceOp, the categorical cross-entropy from the logits, and its
// hand-written gradient against a plain float64 formula and its central finite differences,
// with and without class weights; that logits of ±1000 neither overflow nor lose the loss;
// and that a label past the classes is refused.
func TestCrossEntropyOp(t *testing.T) {
	const n, c = 6, 4
	rng := rand.New(rand.NewPCG(3, 3))
	z := make([]float32, n*c)
	for i := range z {
		z[i] = float32(rng.Float64()*6 - 3)
	}
	labels := []int{0, 3, 1, 1, 2, 3}
	y := make([]float32, n)
	for i, k := range labels {
		y[i] = float32(k)
	}
	for _, weights := range [][]float64{nil, {0.5, 1, 2, 4}} {
		loss, dz, err := lossGraph(t, newCEOp(weights), z, n, c, y)
		if err != nil {
			t.Fatal(err)
		}
		z64 := make([]float64, len(z))
		for i, v := range z {
			z64[i] = float64(v)
		}
		want := refCrossEntropy(z64, c, labels, weights)
		if math.Abs(loss-want) > 1e-6*want {
			t.Errorf("weights %v: loss %v, want %v", weights, loss, want)
		}
		for i := range z64 {
			const h = 1e-5
			old := z64[i]
			z64[i] = old + h
			lp := refCrossEntropy(z64, c, labels, weights)
			z64[i] = old - h
			lm := refCrossEntropy(z64, c, labels, weights)
			z64[i] = old
			if num := (lp - lm) / (2 * h); math.Abs(num-float64(dz[i])) > 1e-6 {
				t.Errorf("weights %v: d loss / d z[%d] = %v, finite difference %v", weights, i, dz[i], num)
			}
		}
	}

	// Large logits: the loss of the right class is 0, of a wrong one the gap.
	big := []float32{1000, 0, -1000, 0, 1000, 0}
	loss, dz, err := lossGraph(t, newCEOp(nil), big, 2, 3, []float32{0, 0})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(loss-500) > 1e-3 {
		t.Errorf("logits ±1000: loss %v, want 500 (0 and 1000 over two rows)", loss)
	}
	wantDz := []float32{0, 0, 0, -0.5, 0.5, 0}
	for i := range dz {
		if math.Abs(float64(dz[i]-wantDz[i])) > 1e-6 {
			t.Errorf("logits ±1000: gradient %v, want %v", dz, wantDz)
			break
		}
	}

	if _, _, err := lossGraph(t, newCEOp(nil), z, n, c, []float32{0, 1, 2, 3, 4, 0}); err == nil || !strings.Contains(err.Error(), "not a class") {
		t.Errorf("label 4 of 4 classes: %v, want an error", err)
	}
}

// TestWeightedBCEOp checks the class-weighted binary cross-entropy and its gradient
// against the weighted mean written plainly, and that without weights it is the plain mean.
func TestWeightedBCEOp(t *testing.T) {
	z := []float32{-1.5, 0.3, 2, -0.2, 0.7}
	y := []float32{0, 1, 1, 0, 0}
	weights := []float64{3, 0.5}
	ref := func(z []float64, weights []float64) float64 {
		var s, sw float64
		for i, v := range z {
			p := 1 / (1 + math.Exp(-v))
			l := -math.Log(1 - p)
			w := weights[0]
			if y[i] == 1 {
				l, w = -math.Log(p), weights[1]
			}
			s += w * l
			sw += w
		}
		return s / sw
	}
	for _, w := range [][]float64{nil, weights} {
		loss, dz, err := lossGraph(t, newBCEOp(w), z, len(z), 1, y)
		if err != nil {
			t.Fatal(err)
		}
		rw := w
		if rw == nil {
			rw = []float64{1, 1}
		}
		z64 := make([]float64, len(z))
		for i, v := range z {
			z64[i] = float64(v)
		}
		if want := ref(z64, rw); math.Abs(loss-want) > 1e-6*want {
			t.Errorf("weights %v: loss %v, want %v", w, loss, want)
		}
		for i := range z64 {
			const h = 1e-5
			old := z64[i]
			z64[i] = old + h
			lp := ref(z64, rw)
			z64[i] = old - h
			lm := ref(z64, rw)
			z64[i] = old
			if num := (lp - lm) / (2 * h); math.Abs(num-float64(dz[i])) > 1e-6 {
				t.Errorf("weights %v: d loss / d z[%d] = %v, finite difference %v", w, i, dz[i], num)
			}
		}
	}
}
