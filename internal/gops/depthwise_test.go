package gops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestDepthwiseMatchesConv2D checks DepthwiseConv2D, its output and both gradients, against
// Conv2D with the same filters on the diagonal of a full (C, C, KH, KW) filter bank, zeros
// elsewhere: the same function.
func TestDepthwiseMatchesConv2D(t *testing.T) {
	for _, tc := range []struct {
		x           tensor.Shape
		k           int
		pad, stride int
	}{
		{tensor.Shape{2, 3, 7, 7}, 3, 1, 1},
		{tensor.Shape{3, 4, 8, 6}, 3, 1, 2},
		{tensor.Shape{2, 2, 9, 9}, 3, 0, 1},
		{tensor.Shape{2, 5, 7, 7}, 3, 0, 2},
		{tensor.Shape{1, 3, 5, 12}, 5, 2, 1},
		{tensor.Shape{4, 16, 7, 7}, 3, 1, 1}, // MobileNet's last depthwise layer, narrower
		{tensor.Shape{2, 2, 4, 4}, 1, 0, 1},
	} {
		t.Run(fmt.Sprintf("%v k%d pad %d stride %d", tc.x, tc.k, tc.pad, tc.stride), func(t *testing.T) {
			c := tc.x[1]
			rng := rand.New(rand.NewPCG(uint64(tc.x.TotalSize()), 5))
			x, w := randTensor(rng, tc.x...), randTensor(rng, c, 1, tc.k, tc.k)
			full := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(c, c, tc.k, tc.k))
			fd, wd := full.Data().([]float32), w.Data().([]float32)
			kk := tc.k * tc.k
			for ch := range c {
				copy(fd[(ch*c+ch)*kk:][:kk], wd[ch*kk:][:kk])
			}
			out, grads := run(t, func(in []*G.Node) (*G.Node, error) {
				return DepthwiseConv2D(notLeaf(in[0]), in[1], tc.pad, tc.stride)
			}, 7, x, w)
			refOut, refGrads := run(t, func(in []*G.Node) (*G.Node, error) {
				return Conv2D(notLeaf(in[0]), in[1], tc.pad, tc.stride)
			}, 7, x, full)
			if ok, msg := closeTo(out, refOut, 1e-5); !ok {
				t.Errorf("output: %s", msg)
			}
			if ok, msg := closeTo(grads[0], refGrads[0], 1e-5); !ok {
				t.Errorf("input gradient: %s", msg)
			}
			diag := make([]float32, c*kk)
			for ch := range c {
				copy(diag[ch*kk:][:kk], refGrads[1][(ch*c+ch)*kk:][:kk])
			}
			if ok, msg := closeTo(grads[1], diag, 1e-5); !ok {
				t.Errorf("filter gradient: %s", msg)
			}
		})
	}
}

// TestDepthwiseFiniteDifferences checks both gradients against numeric ones.
func TestDepthwiseFiniteDifferences(t *testing.T) {
	xs, ws := tensor.Shape{2, 3, 6, 5}, tensor.Shape{3, 1, 3, 3}
	for _, c := range []struct{ pad, stride int }{{1, 1}, {1, 2}, {0, 1}} {
		t.Run(fmt.Sprintf("pad %d stride %d", c.pad, c.stride), func(t *testing.T) {
			op := &depthwiseOp{kh: 3, kw: 3, pad: c.pad, stride: c.stride}
			g := op.geom(xs)
			rng := rand.New(rand.NewPCG(8, 4))
			x, w := randTensor(rng, xs...), randTensor(rng, ws...)
			_, grads := run(t, func(in []*G.Node) (*G.Node, error) {
				return DepthwiseConv2D(notLeaf(in[0]), in[1], c.pad, c.stride)
			}, 5, x, w)
			r := randTensor(rand.New(rand.NewPCG(5, 99)), g.n, g.c, g.oh, g.ow).Data().([]float32)
			cost := func() float64 {
				y := make([]float32, g.n*g.c*g.ohw)
				depthwiseForward(g, x.Data().([]float32), w.Data().([]float32), y)
				var s float64
				for i, v := range y {
					s += float64(v) * float64(r[i])
				}
				return s
			}
			for k, v := range []*tensor.Dense{x, w} {
				d := v.Data().([]float32)
				for i := range d {
					const h = 1e-2
					old := d[i]
					d[i] = old + h
					up := cost()
					d[i] = old - h
					down := cost()
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

// TestDepthwiseLeafAndShapes: a leaf input gets no gradient; wrong shapes are refused.
func TestDepthwiseLeafAndShapes(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, 3, 5, 5), G.WithName("x"))
	w := G.NewTensor(g, tensor.Float32, 4, G.WithShape(3, 1, 3, 3), G.WithName("w"))
	y, err := DepthwiseConv2D(x, w, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(G.Must(G.Sum(y)), w); err != nil {
		t.Errorf("gradient wrt the filters of a leaf input: %v", err)
	}
	for _, tc := range []struct {
		x, w        tensor.Shape
		pad, stride int
	}{
		{tensor.Shape{2, 3, 5}, tensor.Shape{3, 1, 3, 3}, 1, 1},
		{tensor.Shape{2, 3, 5, 5}, tensor.Shape{3, 3, 3, 3}, 1, 1},
		{tensor.Shape{2, 4, 5, 5}, tensor.Shape{3, 1, 3, 3}, 1, 1},
		{tensor.Shape{2, 3, 2, 2}, tensor.Shape{3, 1, 5, 5}, 0, 1},
		{tensor.Shape{2, 3, 5, 5}, tensor.Shape{3, 1, 3, 3}, -1, 1},
		{tensor.Shape{2, 3, 5, 5}, tensor.Shape{3, 1, 3, 3}, 1, 0},
	} {
		g := G.NewGraph()
		x := G.NewTensor(g, tensor.Float32, tc.x.Dims(), G.WithShape(tc.x...))
		w := G.NewTensor(g, tensor.Float32, tc.w.Dims(), G.WithShape(tc.w...))
		if _, err := DepthwiseConv2D(x, w, tc.pad, tc.stride); err == nil {
			t.Errorf("x %v, w %v, pad %d, stride %d: accepted", tc.x, tc.w, tc.pad, tc.stride)
		}
	}
}
