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
	for _, s := range []tensor.Shape{{2, 3, 64, 64}, {2, 2, 6, 40}, {1, 2, 7, 35}, {3, 4, 32, 32}} {
		for _, fused := range []bool{false, true} {
			t.Run(fmt.Sprint(s, fused), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(s[3]), 9))
				x := tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32))
				for i, d := 0, x.Data().([]float32); i < len(d); i++ {
					d[i] = float32(rng.IntN(4)) - 1.5 // four levels: ties in most windows
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
				if !slices.Equal(vy, sy) {
					t.Error("outputs differ")
				}
				if !slices.Equal(vdx, sdx) {
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

// TestReductions checks SumDot, SumSqDev and Affine against float64 loops, at lengths
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
				var wa, wab, wsq float64
				for i, v := range a {
					wa += float64(v)
					wab += float64(v) * float64(b[i])
					wsq += (float64(v) - 0.3) * (float64(v) - 0.3)
				}
				sa, sab := SumDot(a, b)
				if math.Abs(sa-wa) > 1e-9*float64(n+1) || math.Abs(sab-wab) > 1e-9*float64(n+1) {
					t.Errorf("SumDot = %v, %v; want %v, %v", sa, sab, wa, wab)
				}
				if sq := SumSqDev(a, 0.3); math.Abs(sq-wsq) > 1e-9*float64(n+1) {
					t.Errorf("SumSqDev = %v, want %v", sq, wsq)
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
