//go:build !noasm

package gops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestPoolVectorMatchesScalar checks the AVX-512 pooling routines against the Go loops, bit
// for bit, on values drawn from a few levels so that windows hold ties (the first maximum
// takes the gradient), with and without the fused bias and ReLU, and col2im's addTo.
func TestPoolVectorMatchesScalar(t *testing.T) {
	if !haveVec {
		t.Skip("no AVX-512F here")
	}
	for _, s := range []tensor.Shape{{2, 3, 64, 64}, {2, 2, 6, 40}, {1, 2, 7, 35}, {3, 4, 32, 32}, {2, 3, 16, 16}, {2, 2, 8, 9}, {1, 3, 2, 2}, {1, 2, 4, 62}} {
		for _, fused := range []bool{false, true} {
			t.Run(fmt.Sprint(s, fused), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(s[3]), 9))
				x := tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32))
				special := []float32{float32(math.NaN()), float32(math.Copysign(0, -1)), 0}
				for i, d := 0, x.Data().([]float32); i < len(d); i++ {
					d[i] = float32(rng.IntN(4)) - 1.5 // four levels: ties in most windows
					if rng.IntN(50) == 0 {
						d[i] = special[rng.IntN(len(special))] // and some NaN, -0 and +0
					}
				}
				b := tensor.New(tensor.WithShape(s[1]), tensor.Of(tensor.Float32))
				for i, d := 0, b.Data().([]float32); i < len(d); i++ {
					d[i] = float32(rng.IntN(3)) - 1
				}
				run := func(vec bool) (y, dx []float32) {
					defer func(old bool) { haveVec = old }(haveVec)
					haveVec = vec
					var f build = func(in []*G.Node) (*G.Node, error) { return MaxPool2x2(notLeaf(in[0])) }
					vals := []*tensor.Dense{x}
					if fused {
						f = func(in []*G.Node) (*G.Node, error) { return BiasReLUMaxPool2x2(notLeaf(in[0]), in[1]) }
						vals = append(vals, b)
					}
					out, grads := run(t, f, 3, vals...)
					return out, grads[0]
				}
				vy, vdx := run(true)
				sy, sdx := run(false)
				bits := func(v []float32) []uint32 {
					b := make([]uint32, len(v))
					for i, f := range v {
						b[i] = math.Float32bits(f)
					}
					return b
				}
				if !slices.Equal(bits(vy), bits(sy)) {
					t.Error("outputs differ")
				}
				if !slices.Equal(bits(vdx), bits(sdx)) {
					t.Error("gradients differ")
				}
			})
		}
	}
	for _, n := range []int{1, 15, 16, 17, 40, 64} {
		a, b := make([]float32, n), make([]float32, n+1)
		for i := range b {
			b[i] = float32(i)
		}
		for i := range a {
			a[i] = 0.5
		}
		addTo(&a[0], &b[0], n)
		for i, v := range a {
			if v != 0.5+float32(i) {
				t.Fatalf("addTo n=%d: a[%d] = %v", n, i, v)
			}
		}
	}
}

func TestPadCopy(t *testing.T) {
	if !haveVec {
		t.Skip("no AVX-512F here")
	}
	for _, c := range []struct{ lo, hi, n int }{{0, 1, 1}, {1, 16, 16}, {0, 15, 16}, {1, 31, 32}, {0, 64, 64}, {3, 20, 24}, {2, 2, 5}, {0, 0, 7}, {17, 40, 45}} {
		src := make([]float32, c.hi-c.lo+1)
		for i := range src {
			src[i] = float32(i + 1)
		}
		dst := make([]float32, c.n+1)
		for i := range dst {
			dst[i] = -1
		}
		p := &dst[0] // any valid address when nothing is read
		if c.hi > c.lo {
			p = &src[0]
		}
		padCopy(&dst[0], p, c.lo, c.hi, c.n)
		for i, v := range dst {
			want := float32(0)
			switch {
			case i >= c.n:
				want = -1 // past n: untouched
			case i >= c.lo && i < c.hi:
				want = float32(i - c.lo + 1)
			}
			if v != want {
				t.Fatalf("%+v: dst[%d] = %v, want %v", c, i, v, want)
			}
		}
	}
}

// TestReductions checks SumDot and Affine against float64 loops, at lengths
// around the 16-value turns, with and without AVX-512.
func TestReductions(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, vec := range []bool{false, true} {
		if vec && !haveVec {
			continue
		}
		for _, n := range []int{0, 1, 7, 15, 16, 17, 33, 100, 4096} {
			t.Run(fmt.Sprint(vec, n), func(t *testing.T) {
				defer func(old bool) { haveVec = old }(haveVec)
				haveVec = vec
				a, b := make([]float32, n), make([]float32, n+3)
				for i := range a {
					a[i] = rng.Float32()*4 - 1
				}
				for i := range b {
					b[i] = rng.Float32()*2 - 1.5
				}
				var wa, wab float64
				for i, v := range a {
					wa += float64(v)
					wab += float64(v) * float64(b[i])
				}
				sa, sab := SumDot(a, b)
				if math.Abs(sa-wa) > 1e-9*float64(n+1) || math.Abs(sab-wab) > 1e-9*float64(n+1) {
					t.Errorf("SumDot = %v, %v; want %v, %v", sa, sab, wa, wab)
				}
				dst := make([]float32, n+1)
				dst[n] = 42 // past the end: untouched
				Affine(dst[:n], a, b, 0.5, -2, 0.25)
				for i := range n {
					if want := 0.5*float64(a[i]) - 2*float64(b[i]) + 0.25; math.Abs(float64(dst[i])-want) > 1e-5 {
						t.Fatalf("Affine[%d] = %v, want %v", i, dst[i], want)
					}
				}
				Affine(dst[:n], a, nil, 3, 0, -1)
				for i := range n {
					if want := 3*float64(a[i]) - 1; math.Abs(float64(dst[i])-want) > 1e-5 {
						t.Fatalf("Affine without b [%d] = %v, want %v", i, dst[i], want)
					}
				}
				if dst[n] != 42 {
					t.Error("Affine wrote past its end")
				}
			})
		}
	}
}

// TestOptimizerSteps checks AdamStep and MomentumStep, with and without AVX-512, against
// float64 loops, over more than one chunk and a masked tail, and that subnormal moments are
// flushed to zero.
func TestOptimizerSteps(t *testing.T) {
	for _, vec := range []bool{false, true} {
		if vec && !haveVec {
			continue
		}
		t.Run(fmt.Sprint(vec), func(t *testing.T) {
			defer func(old bool) { haveVec = old }(haveVec)
			haveVec = vec
			rng := rand.New(rand.NewPCG(5, 5))
			n := stepChunk + 37
			w, m, v, g := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range w {
				w[i], m[i], v[i], g[i] = rng.Float32()-0.5, rng.Float32()*0.1-0.05, rng.Float32()*0.01, rng.Float32()*2-1
			}
			m[3], v[3], g[3] = 1e-38, 1e-38, 0 // decay into the subnormal range
			w0, m0, v0 := slices.Clone(w), slices.Clone(m), slices.Clone(v)
			const b1, b2, lr, eps = 0.9, 0.999, 0.01, 1e-7
			AdamStep(w, m, v, g, b1, b2, lr, eps)
			for i := range n {
				mm := float64(float32(b1))*float64(m0[i]) + float64(1-float32(b1))*float64(g[i])
				vv := float64(float32(b2))*float64(v0[i]) + float64(1-float32(b2))*float64(g[i])*float64(g[i])
				if i == 3 {
					mm, vv = 0, 0
				}
				ww := float64(w0[i]) - lr*mm/(math.Sqrt(vv)+eps)
				if math.Abs(float64(m[i])-mm) > 1e-6 || math.Abs(float64(v[i])-vv) > 1e-6 || math.Abs(float64(w[i])-ww) > 1e-4 {
					t.Fatalf("Adam %d: w %v m %v v %v, want %v %v %v", i, w[i], m[i], v[i], ww, mm, vv)
				}
			}
			if m[3] != 0 || v[3] != 0 {
				t.Errorf("subnormal moments kept: m %g v %g", m[3], v[3])
			}
			vel := slices.Clone(m0)
			vel[5], g[5] = 1e-38, 0
			vel0 := slices.Clone(vel)
			w = slices.Clone(w0)
			MomentumStep(w, vel, g, 0.9, 0.01)
			for i := range n {
				vv := 0.9*float64(vel0[i]) - 0.01*float64(g[i])
				if i == 5 {
					vv = 0
				}
				if math.Abs(float64(vel[i])-vv) > 1e-6 || math.Abs(float64(w[i])-(float64(w0[i])+vv)) > 1e-6 {
					t.Fatalf("momentum %d: w %v vel %v, want %v %v", i, w[i], vel[i], float64(w0[i])+vv, vv)
				}
			}
		})
	}
}

// TestOptimizerStepsBits checks that the AVX-512 updates round as the Go loops do, bit for
// bit, over several steps: training compared with PyTorch (finetune's
// TestTrainingMatchesPyTorch) amplifies a changed rounding a hundredfold in 12 steps.
func TestOptimizerStepsBits(t *testing.T) {
	if !haveVec {
		t.Skip("no AVX-512F here")
	}
	rng := rand.New(rand.NewPCG(6, 6))
	n := 1000
	var ws, ms, vs [2][]float32
	for k := range 2 {
		ws[k], ms[k], vs[k] = make([]float32, n), make([]float32, n), make([]float32, n)
	}
	for i := range n {
		ws[0][i] = rng.Float32() - 0.5
	}
	copy(ws[1], ws[0])
	defer func(old bool) { haveVec = old }(haveVec)
	for step := range 6 {
		g := make([]float32, n)
		for i := range g {
			g[i] = (rng.Float32() - 0.5) * float32(step+1)
		}
		for k, vec := range []bool{true, false} {
			haveVec = vec
			if step%2 == 0 {
				AdamStep(ws[k], ms[k], vs[k], g, 0.9, 0.999, 0.003, 1e-7)
			} else {
				MomentumStep(ws[k], ms[k], g, 0.9, 0.01)
			}
		}
	}
	for i := range n {
		if ws[0][i] != ws[1][i] || ms[0][i] != ms[1][i] || vs[0][i] != vs[1][i] {
			t.Fatalf("weight %d: AVX-512 w %v m %v v %v, Go %v %v %v", i, ws[0][i], ms[0][i], vs[0][i], ws[1][i], ms[1][i], vs[1][i])
		}
	}
}

// setVec turns the AVX-512 passes off (on: leaves them as the CPU allows) until restore.
func setVec(on bool) (restore func()) {
	old := haveVec
	haveVec = on && old
	return func() { haveVec = old }
}

// TestElementwiseVectorMatchesScalar checks the AVX-512 elementwise routines against the Go
// loops, bit for bit, through the ops that use them (bias with and without ReLU, ReLU and
// AddReLU, ReLU's gradient, MulMask, the bias gradients' channel sums), on lengths with and without a tail of under 16 and
// values that include NaN, ±0, ±Inf, subnormals and sums that cancel.
func TestElementwiseVectorMatchesScalar(t *testing.T) {
	if !haveVec {
		t.Skip("no AVX-512F here")
	}
	nan := func(b uint32) float32 { return math.Float32frombits(b) }
	special := []float32{float32(math.NaN()), nan(0x7fc12345), nan(0xff812345), nan(0x7f800001),
		float32(math.Copysign(0, -1)), 0, float32(math.Inf(1)), float32(math.Inf(-1)),
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1, -1}
	// fill draws normal values and, one in eight, special ones; a bias gets no NaN (x86
	// keeps the first of two NaN operands, and the Go compiler may swap an addition's).
	fill := func(rng *rand.Rand, s tensor.Shape, bias bool) *tensor.Dense {
		x := tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32))
		for i, d := 0, x.Data().([]float32); i < len(d); i++ {
			d[i] = float32(rng.NormFloat64())
			if v := special[rng.IntN(len(special))]; rng.IntN(8) == 0 && !(bias && v != v) {
				d[i] = v
			}
		}
		return x
	}
	ops := []struct {
		name string
		op   func(s tensor.Shape) G.Op
		in   int // inputs of x's shape; a bias of s[1] values follows when bias
		bias bool
		// sum: a NaN matches any NaN. Where both operands of an addition are NaN, x86 keeps
		// the first, and the Go compiler may swap an addition's operands.
		sum bool
	}{
		{"bias", func(s tensor.Shape) G.Op { return &biasOp{xDims: s.Dims(), bShape: tensor.Shape{s[1]}} }, 1, true, false},
		{"bias+relu", func(s tensor.Shape) G.Op { return &biasOp{relu: true, xDims: s.Dims(), bShape: tensor.Shape{s[1]}} }, 1, true, false},
		{"relu", func(s tensor.Shape) G.Op { return &addReLUOp{dims: s.Dims(), arity: 1} }, 1, false, false},
		{"add+relu", func(s tensor.Shape) G.Op { return &addReLUOp{dims: s.Dims(), arity: 2} }, 2, false, false},
		{"relu gradient", func(s tensor.Shape) G.Op { return &reluGradOp{dims: s.Dims()} }, 2, false, false},
		{"mask", func(s tensor.Shape) G.Op { return &mulMaskOp{dims: s.Dims()} }, 2, false, false},
		{"channel sum", func(s tensor.Shape) G.Op { return &channelSumOp{xDims: s.Dims(), bShape: tensor.Shape{s[1]}} }, 1, false, true},
		{"masked channel sum", func(s tensor.Shape) G.Op { return &maskedSumOp{bShape: tensor.Shape{s[1]}} }, 2, false, true},
	}
	for _, s := range []tensor.Shape{{2, 3, 5, 7}, {3, 2, 4, 4}, {1, 5, 1, 33}, {4, 1}, {2, 3, 16, 17}, {5, 2, 9, 9}} {
		for _, o := range ops {
			t.Run(fmt.Sprint(o.name, s), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(s.TotalSize()), 3))
				var in []G.Value
				for range o.in {
					in = append(in, fill(rng, s, false))
				}
				if o.bias {
					in = append(in, fill(rng, tensor.Shape{s[1]}, true))
				}
				run := func(vec bool) []float32 {
					defer setVec(vec)()
					type doer interface {
						UsePreallocDo(G.Value, ...G.Value) (G.Value, error)
					}
					out, err := o.op(s).(doer).UsePreallocDo(nil, in...)
					if err != nil {
						t.Fatal(err)
					}
					return slices.Clone(out.Data().([]float32))
				}
				scalar, vector := run(false), run(true)
				for i := range scalar {
					if o.sum && scalar[i] != scalar[i] && vector[i] != vector[i] {
						continue
					}
					if math.Float32bits(scalar[i]) != math.Float32bits(vector[i]) {
						t.Fatalf("value %d: Go %v (%#x), AVX-512 %v (%#x)", i, scalar[i], math.Float32bits(scalar[i]), vector[i], math.Float32bits(vector[i]))
					}
				}
			})
		}
	}
}

// TestVectorRoutinesStayInBounds checks that the AVX-512 routines with a masked last turn
// write nothing past the n values they are given: guard values after each output stay put
// (a write past a row would land, in the ops, in a row written later, where the bit-for-bit
// tests could not see it).
func TestVectorRoutinesStayInBounds(t *testing.T) {
	if !haveVec {
		t.Skip("no AVX-512F here")
	}
	const guard = 12345
	for n := 1; n <= 40; n++ {
		a, b := make([]float32, 2*n+32), make([]float32, 2*n+32)
		for i := range a {
			a[i], b[i] = float32(i%7)-3, float32(i%5)-2
		}
		for _, r := range []struct {
			name string
			out  int // values the routine writes
			call func(dst []float32)
		}{
			{"maxPool16", n, func(d []float32) { maxPool16(&a[0], &b[0], &d[0], n) }},
			{"biasReLU", n, func(d []float32) { biasReLU(&d[0], &a[0], n, 0.5, true) }},
			{"addMax0", n, func(d []float32) { addMax0(&d[0], &a[0], &b[0], n) }},
			{"reluGrad", n, func(d []float32) { reluGrad(&d[0], &a[0], &b[0], n) }},
			{"mulTo", n, func(d []float32) { mulTo(&d[0], &a[0], &b[0], n) }},
			{"addTo", n, func(d []float32) { addTo(&d[0], &a[0], n) }},
			{"affine", n, func(d []float32) { affine(&d[0], &a[0], &b[0], n, 1, 2, 3) }},
		} {
			d := make([]float32, r.out+32)
			for i := range d {
				d[i] = guard
			}
			r.call(d)
			for i := r.out; i < len(d); i++ {
				if d[i] != guard {
					t.Fatalf("%s(n=%d) wrote %v at %d, past its %d values", r.name, n, d[i], i, r.out)
				}
			}
		}
		var acc [16]float32
		sumLanes(&acc, &a[0], &b[0], n) // reads only: a fault would end the test
	}
}
