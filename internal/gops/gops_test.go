package gops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// build makes the graph under test from its input nodes.
type build func(in []*G.Node) (*G.Node, error)

// run builds f over inputs with the given values, takes cost = Σ out ⊙ r for a fixed random r
// (so ∂cost/∂out = r), and returns the output and the gradient of every input. It runs the
// tape machine twice, so that the second run goes through preallocated outputs.
func run(t *testing.T, f build, seed uint64, vals ...*tensor.Dense) (out []float32, grads [][]float32) {
	t.Helper()
	g := G.NewGraph()
	in := make([]*G.Node, len(vals))
	for i, v := range vals {
		in[i] = G.NodeFromAny(g, v.Clone().(*tensor.Dense), G.WithName(fmt.Sprintf("in%d", i)))
	}
	y, err := f(in)
	if err != nil {
		t.Fatal(err)
	}
	r := randTensor(rand.New(rand.NewPCG(seed, 99)), y.Shape()...)
	rn := G.NodeFromAny(g, r, G.WithName("r"))
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(y, rn))))
	if _, err := G.Grad(cost, in...); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(in...))
	defer vm.Close()
	// The first run sees other values (signs flipped, shifted), so that an op which left part
	// of its kept output (Output) from the run before unwritten gives a wrong second result.
	orig := make([][]float32, len(in))
	for i, n := range in {
		d := n.Value().Data().([]float32)
		orig[i] = append([]float32(nil), d...)
		for j := range d {
			d[j] = 0.3 - 0.7*d[j]
		}
	}
	for i := 0; i < 2; i++ {
		if i == 1 {
			for k, n := range in {
				copy(n.Value().Data().([]float32), orig[k])
			}
		}
		vm.Reset()
		for _, n := range in { // gradients accumulate across runs, as a solver step would zero them
			if gv, err := n.Grad(); err == nil && gv != nil {
				gv.(*tensor.Dense).Zero()
			}
		}
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
	}
	out = append([]float32(nil), y.Value().Data().([]float32)...)
	for _, n := range in {
		gv, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		grads = append(grads, append([]float32(nil), gv.Data().([]float32)...))
	}
	return out, grads
}

func randTensor(rng *rand.Rand, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
	for i, d := 0, t.Data().([]float32); i < len(d); i++ {
		d[i] = rng.Float32()*2 - 1
	}
	return t
}

// closeTo reports whether got matches want within tol relative to want's largest magnitude.
func closeTo(got, want []float32, tol float64) (bool, string) {
	if len(got) != len(want) {
		return false, fmt.Sprintf("%d values, want %d", len(got), len(want))
	}
	var scale, worst float64
	at := -1
	for i := range want {
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	if worst > tol*math.Max(scale, 1e-6) || math.IsNaN(worst) {
		return false, fmt.Sprintf("value %d: got %g, want %g (scale %g)", at, got[at], want[at], scale)
	}
	return true, ""
}

// compare runs fast and ref on the same random inputs and checks output and gradients.
func compare(t *testing.T, fast, ref build, shapes ...tensor.Shape) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]*tensor.Dense, len(shapes))
	for i, s := range shapes {
		vals[i] = randTensor(rng, s...)
	}
	fo, fg := run(t, fast, 7, vals...)
	ro, rg := run(t, ref, 7, vals...)
	if ok, msg := closeTo(fo, ro, 1e-4); !ok {
		t.Errorf("output: %s", msg)
	}
	for i := range fg {
		if ok, msg := closeTo(fg[i], rg[i], 1e-4); !ok {
			t.Errorf("gradient of input %d: %s", i, msg)
		}
	}
}

func TestConv2DMatchesGorgonia(t *testing.T) { eachBLAS(t, testConv2DMatchesGorgonia) }

func testConv2DMatchesGorgonia(t *testing.T) {
	tests := []struct {
		name        string
		x, w        tensor.Shape
		pad, stride int
	}{
		{"3x3 pad 1", tensor.Shape{2, 3, 7, 6}, tensor.Shape{4, 3, 3, 3}, 1, 1},
		{"3x3 pad 0 stride 2", tensor.Shape{3, 2, 9, 8}, tensor.Shape{5, 2, 3, 3}, 0, 2},
		{"3x3 pad 2 stride 2", tensor.Shape{2, 2, 6, 7}, tensor.Shape{3, 2, 3, 3}, 2, 2},
		{"5x3 pad 1", tensor.Shape{2, 3, 8, 8}, tensor.Shape{2, 3, 5, 3}, 1, 1},
		{"3x3 pad 0", tensor.Shape{2, 3, 7, 6}, tensor.Shape{4, 3, 3, 3}, 0, 1},
		{"3x3 pad 2", tensor.Shape{2, 2, 5, 9}, tensor.Shape{3, 2, 3, 3}, 2, 1},
		{"5x5 pad 2", tensor.Shape{2, 3, 11, 10}, tensor.Shape{9, 3, 5, 5}, 2, 1},
		{"3x3 pad 1, 40 wide", tensor.Shape{2, 2, 3, 40}, tensor.Shape{10, 2, 3, 3}, 1, 1},
		{"groups of 4 and 1", tensor.Shape{5, 3, 8, 8}, tensor.Shape{4, 3, 3, 3}, 1, 1},
		{"1x1, groups of 2 and 1", tensor.Shape{3, 5, 12, 12}, tensor.Shape{7, 5, 1, 1}, 0, 1},
		{"deep layer, 4x4", tensor.Shape{33, 16, 4, 4}, tensor.Shape{24, 16, 3, 3}, 1, 1},
		{"1x1", tensor.Shape{3, 4, 5, 5}, tensor.Shape{6, 4, 1, 1}, 0, 1},
		{"one image", tensor.Shape{1, 1, 4, 4}, tensor.Shape{1, 1, 3, 3}, 1, 1},
		{"network layer", tensor.Shape{4, 32, 16, 16}, tensor.Shape{64, 32, 3, 3}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// x through an op, so that it is not a leaf and gets its gradient
			fast := func(in []*G.Node) (*G.Node, error) { return Conv2D(notLeaf(in[0]), in[1], tt.pad, tt.stride) }
			ref := func(in []*G.Node) (*G.Node, error) {
				return G.Conv2d(notLeaf(in[0]), in[1], tt.w[2:], []int{tt.pad, tt.pad}, []int{tt.stride, tt.stride}, []int{1, 1})
			}
			compare(t, fast, ref, tt.x, tt.w)
		})
	}
}

// TestConv2DFiniteDifferences checks the gradients against numeric ones, independently of
// Gorgonia's own convolution.
func TestConv2DFiniteDifferences(t *testing.T) { eachBLAS(t, testConv2DFiniteDifferences) }

func testConv2DFiniteDifferences(t *testing.T) {
	for _, c := range []struct{ pad, stride int }{{1, 2}, {1, 1}, {0, 1}} {
		t.Run(fmt.Sprintf("pad %d stride %d", c.pad, c.stride), func(t *testing.T) {
			xs, ws := tensor.Shape{2, 2, 5, 4}, tensor.Shape{3, 2, 3, 3}
			op := &convOp{kh: 3, kw: 3, pad: c.pad, stride: c.stride}
			g := op.geom(xs, ws)
			rng := rand.New(rand.NewPCG(3, 4))
			x, w := randTensor(rng, xs...), randTensor(rng, ws...)
			f := func(in []*G.Node) (*G.Node, error) { return Conv2D(notLeaf(in[0]), in[1], c.pad, c.stride) }
			_, grads := run(t, f, 5, x, w)
			r := randTensor(rand.New(rand.NewPCG(5, 99)), g.n, g.f, g.oh, g.ow)
			cost := func(x, w *tensor.Dense) float64 {
				y := make([]float32, g.n*g.f*g.ohw)
				convForward(g, x.Data().([]float32), w.Data().([]float32), y)
				var s float64
				for i, v := range y {
					s += float64(v) * float64(r.Data().([]float32)[i])
				}
				return s
			}
			for k, v := range []*tensor.Dense{x, w} {
				d := v.Data().([]float32)
				for _, i := range []int{0, 3, len(d) / 2, len(d) - 1} {
					const h = 1e-2
					old := d[i]
					d[i] = old + h
					up := cost(x, w)
					d[i] = old - h
					down := cost(x, w)
					d[i] = old
					num := (up - down) / (2 * h)
					if got := float64(grads[k][i]); math.Abs(got-num) > 1e-3*math.Max(1, math.Abs(num)) {
						t.Errorf("input %d value %d: gradient %g, finite difference %g", k, i, got, num)
					}
				}
			}
		})
	}
}

// notLeaf returns x·1: the same values, through an op.
func notLeaf(x *G.Node) *G.Node { return G.Must(G.Mul(x, G.NewConstant(float32(1)))) }

// TestConv2DLeafInput checks that a leaf input gets no gradient op and that the filters
// still get theirs.
func TestConv2DLeafInput(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, 3, 6, 6), G.WithName("x"), G.WithInit(G.Ones()))
	w := G.NewTensor(g, tensor.Float32, 4, G.WithShape(4, 3, 3, 3), G.WithName("w"), G.WithInit(G.Ones()))
	cost := G.Must(G.Sum(G.Must(Conv2D(x, w, 1, 1))))
	if _, err := G.Grad(cost, w); err != nil {
		t.Fatal(err)
	}
	for _, n := range g.AllNodes() {
		if _, ok := n.Op().(*convDataGradOp); ok {
			t.Errorf("graph has %v for a leaf input", n.Op())
		}
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(w))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	dw, err := w.Grad()
	if err != nil {
		t.Fatal(err)
	}
	// every filter tap sees 2 images × (6x6 output pixels minus those over the zero padding)
	if got := dw.Data().([]float32)[4]; got != 2*36 {
		t.Errorf("centre tap gradient %v, want %v", got, 2*36)
	}
}

func TestBiasMatchesGorgonia(t *testing.T) {
	tests := []struct {
		name string
		x, b tensor.Shape
		relu bool
	}{
		{"4-d relu", tensor.Shape{3, 4, 5, 6}, tensor.Shape{4}, true},
		{"4-d relu, bias (1,C,1,1)", tensor.Shape{2, 3, 4, 4}, tensor.Shape{1, 3, 1, 1}, true},
		{"2-d relu", tensor.Shape{5, 7}, tensor.Shape{7}, true},
		{"2-d add", tensor.Shape{5, 7}, tensor.Shape{7}, false},
		{"4-d add", tensor.Shape{2, 3, 4, 5}, tensor.Shape{3}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fast := func(in []*G.Node) (*G.Node, error) {
				if tt.relu {
					return BiasReLU(in[0], in[1])
				}
				return BiasAdd(in[0], in[1])
			}
			ref := func(in []*G.Node) (*G.Node, error) {
				x, b := in[0], in[1]
				bs := make(tensor.Shape, x.Dims())
				var axes []byte
				for i := range bs {
					bs[i] = 1
					if i != 1 {
						axes = append(axes, byte(i))
					}
				}
				bs[1] = x.Shape()[1]
				bb, err := G.Reshape(b, bs)
				if err != nil {
					return nil, err
				}
				y, err := G.BroadcastAdd(x, bb, nil, axes)
				if err != nil || !tt.relu {
					return y, err
				}
				return G.Rectify(y)
			}
			compare(t, fast, ref, tt.x, tt.b)
		})
	}
}

func TestMaxPool2x2MatchesGorgonia(t *testing.T) {
	for _, s := range []tensor.Shape{{2, 3, 4, 6}, {1, 2, 5, 7}, {3, 1, 2, 2}, {4, 32, 16, 16}, {2, 3, 64, 64}, {2, 2, 6, 40}, {1, 2, 7, 35}} {
		t.Run(fmt.Sprint(s), func(t *testing.T) {
			fast := func(in []*G.Node) (*G.Node, error) { return MaxPool2x2(in[0]) }
			ref := func(in []*G.Node) (*G.Node, error) {
				return G.MaxPool2D(in[0], tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2})
			}
			compare(t, fast, ref, s)
		})
	}
}

func TestBiasReLUMaxPool2x2MatchesChain(t *testing.T) {
	for _, s := range []tensor.Shape{{2, 3, 4, 6}, {1, 2, 5, 7}, {4, 32, 16, 16}, {2, 3, 64, 64}, {2, 2, 6, 40}, {1, 2, 7, 35}} {
		t.Run(fmt.Sprint(s), func(t *testing.T) {
			fast := func(in []*G.Node) (*G.Node, error) { return BiasReLUMaxPool2x2(in[0], in[1]) }
			ref := func(in []*G.Node) (*G.Node, error) {
				bb, err := G.Reshape(in[1], tensor.Shape{1, s[1], 1, 1})
				if err != nil {
					return nil, err
				}
				y, err := G.BroadcastAdd(in[0], bb, nil, []byte{0, 2, 3})
				if err != nil {
					return nil, err
				}
				if y, err = G.Rectify(y); err != nil {
					return nil, err
				}
				return G.MaxPool2D(y, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2})
			}
			compare(t, fast, ref, s, tensor.Shape{s[1]})
		})
	}
}

// TestBlockMatchesGorgonia chains the ops as a network does: conv, bias + ReLU, pool, twice.
func TestBlockMatchesGorgonia(t *testing.T) {
	fast := func(in []*G.Node) (*G.Node, error) {
		h := notLeaf(in[0])
		for i := 0; i < 2; i++ {
			y, err := Conv2D(h, in[1+2*i], 1, 1)
			if err != nil {
				return nil, err
			}
			if y, err = BiasReLU(y, in[2+2*i]); err != nil {
				return nil, err
			}
			if h, err = MaxPool2x2(y); err != nil {
				return nil, err
			}
		}
		return h, nil
	}
	ref := func(in []*G.Node) (*G.Node, error) {
		h := notLeaf(in[0])
		for i := 0; i < 2; i++ {
			y, err := G.Conv2d(h, in[1+2*i], tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1})
			if err != nil {
				return nil, err
			}
			b := in[2+2*i]
			bb, err := G.Reshape(b, tensor.Shape{1, b.Shape()[0], 1, 1})
			if err != nil {
				return nil, err
			}
			if y, err = G.BroadcastAdd(y, bb, nil, []byte{0, 2, 3}); err != nil {
				return nil, err
			}
			if y, err = G.Rectify(y); err != nil {
				return nil, err
			}
			if h, err = G.MaxPool2D(y, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}); err != nil {
				return nil, err
			}
		}
		return h, nil
	}
	compare(t, fast, ref, tensor.Shape{4, 3, 16, 16}, tensor.Shape{8, 3, 3, 3}, tensor.Shape{8}, tensor.Shape{16, 8, 3, 3}, tensor.Shape{16})
}

func TestBadShapes(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, 3, 8, 8), G.WithName("x"))
	v := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("v"))
	w := G.NewTensor(g, tensor.Float32, 4, G.WithShape(4, 2, 3, 3), G.WithName("w"))
	big := G.NewTensor(g, tensor.Float32, 4, G.WithShape(4, 3, 11, 11), G.WithName("big"))
	b := G.NewVector(g, tensor.Float32, G.WithShape(5), G.WithName("b"))
	tests := []struct {
		name string
		f    func() (*G.Node, error)
	}{
		{"conv channels", func() (*G.Node, error) { return Conv2D(x, w, 1, 1) }},
		{"conv 2-d input", func() (*G.Node, error) { return Conv2D(v, w, 1, 1) }},
		{"conv stride 0", func() (*G.Node, error) { return Conv2D(x, big, 1, 0) }},
		{"conv filter too big", func() (*G.Node, error) { return Conv2D(x, big, 1, 1) }},
		{"bias size", func() (*G.Node, error) { return BiasReLU(x, b) }},
		{"pool 2-d", func() (*G.Node, error) { return MaxPool2x2(v) }},
		{"fused pool 2-d", func() (*G.Node, error) { return BiasReLUMaxPool2x2(v, b) }},
		{"fused pool bias size", func() (*G.Node, error) { return BiasReLUMaxPool2x2(x, b) }},
	}
	for _, tt := range tests {
		if _, err := tt.f(); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestReLUMatchesGorgonia(t *testing.T) {
	tests := []struct {
		name  string
		shape tensor.Shape
		add   bool
	}{
		{"4-d", tensor.Shape{3, 4, 5, 6}, false},
		{"2-d", tensor.Shape{5, 7}, false},
		{"4-d add", tensor.Shape{2, 3, 4, 5}, true},
		{"2-d add", tensor.Shape{4, 9}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// inputs through an op each, so that both get their gradients
			fast := func(in []*G.Node) (*G.Node, error) {
				if tt.add {
					return AddReLU(notLeaf(in[0]), notLeaf(in[1]))
				}
				return ReLU(notLeaf(in[0]))
			}
			ref := func(in []*G.Node) (*G.Node, error) {
				x := notLeaf(in[0])
				if tt.add {
					x = G.Must(G.Add(x, notLeaf(in[1])))
				}
				return G.Rectify(x)
			}
			shapes := []tensor.Shape{tt.shape}
			if tt.add {
				shapes = append(shapes, tt.shape)
			}
			compare(t, fast, ref, shapes...)
		})
	}
}

// TestAddReLUSameInput checks that x + x gets twice the gradient of each term.
func TestAddReLUSameInput(t *testing.T) {
	fast := func(in []*G.Node) (*G.Node, error) { x := notLeaf(in[0]); return AddReLU(x, x) }
	ref := func(in []*G.Node) (*G.Node, error) {
		return G.Rectify(G.Must(G.Mul(notLeaf(in[0]), G.NewConstant(float32(2)))))
	}
	compare(t, fast, ref, tensor.Shape{3, 8})
}

func TestPositive(t *testing.T) {
	for _, v := range []float32{0, float32(math.Copysign(0, -1)), 1e-45, 1, 3e38, float32(math.Inf(1)), float32(math.Inf(-1)), -1e-45, -2, float32(math.NaN()), -float32(math.NaN())} {
		if got, want := positive(math.Float32bits(v)), v > 0; got != want {
			t.Errorf("positive(%v) = %v, want %v", v, got, want)
		}
	}
}

func TestMulMaskMatchesGorgonia(t *testing.T) {
	for _, s := range []tensor.Shape{{3, 4, 5, 6}, {5, 7}} {
		t.Run(fmt.Sprint(s), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(8, 8))
			mask := tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32))
			for i, d := 0, mask.Data().([]float32); i < len(d); i++ {
				if rng.Float64() >= 0.3 {
					d[i] = 1 / 0.7
				}
			}
			with := func(f func(x, m *G.Node) (*G.Node, error)) build {
				return func(in []*G.Node) (*G.Node, error) {
					m := G.NewTensor(in[0].Graph(), tensor.Float32, s.Dims(), G.WithShape(s...), G.WithName("mask"), G.WithValue(mask))
					return f(notLeaf(in[0]), m)
				}
			}
			compare(t, with(MulMask), with(func(x, m *G.Node) (*G.Node, error) { return G.HadamardProd(x, m) }), s)
		})
	}
}

// splitMix64 is SplitMix64 as a math/rand/v2 source: the stream FillMask reads.
type splitMix64 struct{ s uint64 }

func (r *splitMix64) Uint64() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// TestFillMask checks FillMask against the mask drawn one Float64 at a time from the same
// stream, on lengths around its chunk size and at rates whose threshold is and is not a
// whole number of 2^-53 steps, and that the kept share is near 1-p.
func TestFillMask(t *testing.T) {
	for _, tc := range []struct {
		n    int
		p    float64
		seed uint64
	}{
		{1, 0.5, 0}, {100, 0.25, 1}, {1<<14 - 1, 0.1, 2}, {1 << 14, 0.3, 3},
		{3<<14 + 7, 0.5, 1<<63 + 5}, {200_000, 0.2, 42}, {1000, 0, 9},
	} {
		t.Run(fmt.Sprintf("n=%d,p=%g", tc.n, tc.p), func(t *testing.T) {
			m := make([]float32, tc.n)
			for i := range m {
				m[i] = -1 // every value must be written
			}
			FillMask(m, tc.p, tc.seed)
			rng := rand.New(&splitMix64{tc.seed})
			keep := float32(1 / (1 - tc.p))
			kept := 0
			for i, v := range m {
				want := keep
				if rng.Float64() < tc.p {
					want = 0
				}
				if v != want {
					t.Fatalf("m[%d] = %v, want %v", i, v, want)
				}
				if v != 0 {
					kept++
				}
			}
			// the kept count is binomial(n, 1-p): within 5 standard deviations.
			mean, sd := float64(tc.n)*(1-tc.p), math.Sqrt(float64(tc.n)*tc.p*(1-tc.p))
			if math.Abs(float64(kept)-mean) > 5*sd+1 {
				t.Errorf("kept %d of %d at p=%g, expected about %.0f", kept, tc.n, tc.p, mean)
			}
		})
	}
}
