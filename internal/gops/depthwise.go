package gops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// DepthwiseConv2D convolves each channel of x (N, C, H, W) with its own filter of w
// (C, 1, KH, KW), zero padding pad pixels on every side and moving stride pixels at a time:
// ONNX's Conv with group = C, MobileNet's depthwise layer. The result is (N, C, OH, OW),
// OH = (H + 2·pad - KH)/stride + 1. It adds no bias.
//
// A depthwise layer does KH·KW multiply-adds per output value, too few for a matrix
// product to pay: each (image, channel) plane is a direct stencil, the planes spread over
// all cores; the filter gradient sums each channel's planes in image order, so its bits do
// not depend on the number of threads. When x is a leaf of the graph no gradient flows to
// it, as in Conv2D.
func DepthwiseConv2D(x, w *G.Node, pad, stride int) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 4 {
		return nil, fmt.Errorf("gops.DepthwiseConv2D: input must be (N, C, H, W), got shape %v", xs)
	}
	if ws.Dims() != 4 || ws[1] != 1 {
		return nil, fmt.Errorf("gops.DepthwiseConv2D: filters must be (C, 1, KH, KW), got shape %v", ws)
	}
	if xs[1] != ws[0] {
		return nil, fmt.Errorf("gops.DepthwiseConv2D: input has %d channels, filters %d", xs[1], ws[0])
	}
	if pad < 0 || stride < 1 {
		return nil, fmt.Errorf("gops.DepthwiseConv2D: need pad >= 0 and stride >= 1, got pad %d, stride %d", pad, stride)
	}
	op := &depthwiseOp{kh: ws[2], kw: ws[3], pad: pad, stride: stride, noInputGrad: x.Op() == nil}
	if g := op.geom(xs); g.oh < 1 || g.ow < 1 {
		return nil, fmt.Errorf("gops.DepthwiseConv2D: %dx%d filters with pad %d do not fit a %dx%d input", ws[2], ws[3], pad, xs[2], xs[3])
	}
	return G.ApplyOp(op, x, w)
}

// depthwiseOp: (x, w) -> y.
type depthwiseOp struct {
	out                 Output
	kh, kw, pad, stride int
	noInputGrad         bool
}

// geom is the convolution's geometry for input shape xs (f = c).
func (op *depthwiseOp) geom(xs tensor.Shape) geom {
	g := geom{n: xs[0], c: xs[1], h: xs[2], w: xs[3], f: xs[1], kh: op.kh, kw: op.kw, pad: op.pad, stride: op.stride}
	g.oh = (g.h+2*g.pad-g.kh)/g.stride + 1
	g.ow = (g.w+2*g.pad-g.kw)/g.stride + 1
	g.k, g.ohw, g.chw = g.kh*g.kw, g.oh*g.ow, g.c*g.h*g.w
	return g
}

func (op *depthwiseOp) Arity() int                       { return 2 }
func (op *depthwiseOp) Type() hm.Type                    { return FnType(4, 4, 4) }
func (op *depthwiseOp) ReturnsPtr() bool                 { return false }
func (op *depthwiseOp) CallsExtern() bool                { return false }
func (op *depthwiseOp) OverwritesInput() int             { return -1 }
func (op *depthwiseOp) WriteHash(h hash.Hash)            { writeHash(h, op) }
func (op *depthwiseOp) Hashcode() uint32                 { return HashOf(op) }
func (op *depthwiseOp) DiffWRT(int) []bool               { return []bool{!op.noInputGrad, true} }
func (op *depthwiseOp) Do(v ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, v...) }
func (op *depthwiseOp) String() string {
	return fmt.Sprintf("gops.DepthwiseConv2D{k: %dx%d, pad: %d, stride: %d, input grad: %v}", op.kh, op.kw, op.pad, op.stride, !op.noInputGrad)
}

func (op *depthwiseOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	xs, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	if xs.Dims() != 4 {
		return nil, fmt.Errorf("gops.DepthwiseConv2D: want a 4-d input, got %v", xs)
	}
	g := op.geom(xs)
	return tensor.Shape{g.n, g.c, g.oh, g.ow}, nil
}

func (op *depthwiseOp) UsePreallocDo(prealloc G.Value, v ...G.Value) (G.Value, error) {
	if len(v) != 2 {
		return nil, fmt.Errorf("gops.DepthwiseConv2D: want 2 inputs, got %d", len(v))
	}
	xs, x, err := float32s(v[0], "DepthwiseConv2D input")
	if err != nil {
		return nil, err
	}
	_, w, err := float32s(v[1], "DepthwiseConv2D filters")
	if err != nil {
		return nil, err
	}
	g := op.geom(xs)
	if len(w) != g.c*g.k {
		return nil, fmt.Errorf("gops.DepthwiseConv2D: %d filter values for %d channels of %dx%d", len(w), g.c, g.kh, g.kw)
	}
	out, y := op.out.Get(prealloc, tensor.Shape{g.n, g.c, g.oh, g.ow}, x, w)
	depthwiseForward(g, x, w, y)
	return out, nil
}

func (op *depthwiseOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	x, w := inputs[0], inputs[1]
	fwd := *op
	fwd.out = Output{}
	var dx *G.Node
	if !op.noInputGrad {
		var err error
		if dx, err = G.ApplyOp(&depthwiseGradOp{depthwiseOp: fwd, data: true, shape: x.Shape().Clone()}, w, grad); err != nil {
			return nil, fmt.Errorf("gops.DepthwiseConv2D gradient wrt input: %w", err)
		}
	}
	dw, err := G.ApplyOp(&depthwiseGradOp{depthwiseOp: fwd, shape: w.Shape().Clone()}, x, grad)
	if err != nil {
		return nil, fmt.Errorf("gops.DepthwiseConv2D gradient wrt filters: %w", err)
	}
	return G.Nodes{dx, dw}, nil
}

// depthwiseGradOp: (w, dy) -> dx when data, else (x, dy) -> dw; shape is the result's.
type depthwiseGradOp struct {
	depthwiseOp
	out   Output
	data  bool
	shape tensor.Shape
}

func (op *depthwiseGradOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *depthwiseGradOp) Hashcode() uint32      { return HashOf(op) }
func (op *depthwiseGradOp) String() string {
	return fmt.Sprintf("gops.DepthwiseConv2DGrad{k: %dx%d, pad: %d, stride: %d, data: %v, %v}", op.kh, op.kw, op.pad, op.stride, op.data, op.shape)
}
func (op *depthwiseGradOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op *depthwiseGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("gops: %v has no gradient", op)
}
func (op *depthwiseGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op *depthwiseGradOp) Do(v ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, v...) }
func (op *depthwiseGradOp) UsePreallocDo(prealloc G.Value, v ...G.Value) (G.Value, error) {
	if len(v) != 2 {
		return nil, fmt.Errorf("gops.DepthwiseConv2DGrad: want 2 inputs, got %d", len(v))
	}
	as, a, err := float32s(v[0], "DepthwiseConv2D input or filters")
	if err != nil {
		return nil, err
	}
	_, dy, err := float32s(v[1], "DepthwiseConv2D output gradient")
	if err != nil {
		return nil, err
	}
	xs := op.shape
	if !op.data {
		xs = as
	}
	g := op.geom(xs)
	if len(dy) != g.n*g.c*g.ohw {
		return nil, fmt.Errorf("gops.DepthwiseConv2DGrad: output gradient of %d values, want %d", len(dy), g.n*g.c*g.ohw)
	}
	out, d := op.out.Get(prealloc, op.shape, a, dy)
	if op.data {
		depthwiseBackwardData(g, a, dy, d)
	} else {
		depthwiseBackwardFilter(g, a, dy, d)
	}
	return out, nil
}

// tap is one filter position's share of one output row: the row's n outputs from yo in the
// output plane meet the input plane at xo, xo+stride, ... with weight k of the filter.
type tap struct{ k, yo, xo, n int }

// taps lists the taps of g's planes, the padding cut off: the same for every plane.
func (g geom) taps() []tap {
	var ts []tap
	for i := range g.kh {
		for j := range g.kw {
			lo, hi := span(g.ow, g.w, g.pad, g.stride, j)
			if lo >= hi {
				continue
			}
			for oy := range g.oh {
				if iy := oy*g.stride - g.pad + i; iy >= 0 && iy < g.h {
					ts = append(ts, tap{k: i*g.kw + j, yo: oy*g.ow + lo, xo: iy*g.w + lo*g.stride - g.pad + j, n: hi - lo})
				}
			}
		}
	}
	return ts
}

// depthwiseForward writes y = x ⊛ w, plane by plane.
func depthwiseForward(g geom, x, w, y []float32) {
	hw, taps := g.h*g.w, g.taps()
	parallel(g.n*g.c, func(_, p int) {
		xp, yp, wc := x[p*hw:][:hw], y[p*g.ohw:][:g.ohw], w[p%g.c*g.k:][:g.k]
		clear(yp)
		for _, t := range taps {
			v, yr := wc[t.k], yp[t.yo:][:t.n]
			if g.stride == 1 {
				xr := xp[t.xo:][:t.n]
				for u := range yr {
					yr[u] += v * xr[u]
				}
				continue
			}
			for u := range yr {
				yr[u] += v * xp[t.xo+u*g.stride]
			}
		}
	})
}

// depthwiseBackwardData writes dx, the gradient of x, from dy, plane by plane.
func depthwiseBackwardData(g geom, w, dy, dx []float32) {
	hw, taps := g.h*g.w, g.taps()
	parallel(g.n*g.c, func(_, p int) {
		dxp, dyp, wc := dx[p*hw:][:hw], dy[p*g.ohw:][:g.ohw], w[p%g.c*g.k:][:g.k]
		clear(dxp)
		for _, t := range taps {
			v, dr := wc[t.k], dyp[t.yo:][:t.n]
			if g.stride == 1 {
				xr := dxp[t.xo:][:t.n]
				for u := range dr {
					xr[u] += v * dr[u]
				}
				continue
			}
			for u := range dr {
				dxp[t.xo+u*g.stride] += v * dr[u]
			}
		}
	})
}

// depthwiseBackwardFilter writes dw, the gradient of w: for each channel, the sum over its
// planes in image order, in float64.
func depthwiseBackwardFilter(g geom, x, dy, dw []float32) {
	hw, taps := g.h*g.w, g.taps()
	parallel(g.c, func(_, c int) {
		sums := make([]float64, g.k)
		for n := range g.n {
			p := n*g.c + c
			xp, dyp := x[p*hw:][:hw], dy[p*g.ohw:][:g.ohw]
			for _, t := range taps {
				var s float32
				for u, d := range dyp[t.yo:][:t.n] {
					s += d * xp[t.xo+u*g.stride]
				}
				sums[t.k] += float64(s)
			}
		}
		for k, s := range sums {
			dw[c*g.k+k] = float32(s)
		}
	})
}
