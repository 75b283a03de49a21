package finetune

import (
	"math"
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
// loss (computed in float64 from the inference-free training graph without dropout).
func TestGradients(t *testing.T) {
	specs := map[string][]Layer{
		"conv-pool-dense": {Conv(3, 3, 1), ReLU(), MaxPool(2), Flatten(), Dense(4), ReLU(), Dense(1), Sigmoid()},
		"bn-conv":         {Conv(3, 3, 1), BatchNorm(), ReLU(), MaxPool(2), Flatten(), Dense(1), Sigmoid()},
		"bn-dense":        {Flatten(), Dense(5), BatchNorm(), ReLU(), Dense(1), Sigmoid()},
		"residual-gap":    {Residual(4), GlobalAvgPool(), Dense(1), Sigmoid()},
		"conv1x1-relu6":   {Conv(4, 1, 0), ReLU6(), GlobalAvgPool(), Dense(1), Sigmoid()},
	}
	for name, layers := range specs {
		t.Run(name, func(t *testing.T) {
			m, err := NewModel(name, []int{2, 6, 6}, layers, "", 7)
			if err != nil {
				t.Fatal(err)
			}
			gr, err := m.build(3, true)
			if err != nil {
				t.Fatal(err)
			}
			defer gr.close()
			x, y := randomBatch(m, 3, 5)
			loss := func() float64 {
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
			loss()
			grads := make([][]float32, len(gr.grads))
			for j, g := range gr.grads {
				_, d, _ := float32s(g.Value(), "grad")
				grads[j] = append([]float32(nil), d...)
			}
			for j, p := range gr.learn {
				for _, k := range []int{0, len(p.Data) / 2, len(p.Data) - 1} {
					old := p.Data[k]
					const h = 1e-2
					p.Data[k] = old + h
					lp := loss()
					p.Data[k] = old - h
					lm := loss()
					p.Data[k] = old
					num := (lp - lm) / (2 * h)
					got := float64(grads[j][k])
					if math.Abs(num-got) > 2e-3+0.05*math.Abs(num) {
						t.Errorf("%s[%d]: gradient %v, finite difference %v", p.Name, k, got, num)
					}
				}
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
