package gops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BiasReLU returns max(0, x + b), b broadcast along axis 1: x is (N, C, ...) — the output of
// Conv2D (N, C, H, W) or of a dense layer (N, C) — and b holds C values in any shape
// ((C), (1, C), (1, C, 1, 1)...). One pass forward, one pass backward.
func BiasReLU(x, b *G.Node) (*G.Node, error) { return bias(x, b, true) }

// BiasAdd returns x + b, b broadcast along axis 1 as in BiasReLU.
func BiasAdd(x, b *G.Node) (*G.Node, error) { return bias(x, b, false) }

func bias(x, b *G.Node, relu bool) (*G.Node, error) {
	xs, bs := x.Shape(), b.Shape()
	if xs.Dims() < 2 {
		return nil, fmt.Errorf("gops: bias: input must be (N, C, ...), got shape %v", xs)
	}
	if bs.TotalSize() != xs[1] {
		return nil, fmt.Errorf("gops: bias: input has %d channels, bias shape %v holds %d values", xs[1], bs, bs.TotalSize())
	}
	return G.ApplyOp(&biasOp{relu: relu, xDims: xs.Dims(), bShape: bs.Clone()}, x, b)
}

// biasOp: (x, b) -> y = x + b (then ReLU when relu).
type biasOp struct {
	out    Output
	relu   bool
	xDims  int
	bShape tensor.Shape
}

func (op *biasOp) Arity() int                       { return 2 }
func (op *biasOp) Type() hm.Type                    { return FnType(op.xDims, op.xDims, op.bShape.Dims()) }
func (op *biasOp) ReturnsPtr() bool                 { return false }
func (op *biasOp) CallsExtern() bool                { return false }
func (op *biasOp) OverwritesInput() int             { return -1 }
func (op *biasOp) WriteHash(h hash.Hash)            { writeHash(h, op) }
func (op *biasOp) Hashcode() uint32                 { return HashOf(op) }
func (op *biasOp) DiffWRT(n int) []bool             { return []bool{true, true} }
func (op *biasOp) Do(v ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, v...) }
func (op *biasOp) String() string {
	if op.relu {
		return fmt.Sprintf("gops.BiasReLU{b: %v}", op.bShape)
	}
	return fmt.Sprintf("gops.BiasAdd{b: %v}", op.bShape)
}

func (op *biasOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	xs, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	return xs.Clone(), nil
}

func (op *biasOp) UsePreallocDo(prealloc G.Value, v ...G.Value) (G.Value, error) {
	if len(v) != 2 {
		return nil, fmt.Errorf("gops: %v: want 2 inputs, got %d", op, len(v))
	}
	xs, x, err := float32s(v[0], "bias input")
	if err != nil {
		return nil, err
	}
	_, b, err := float32s(v[1], "bias")
	if err != nil {
		return nil, err
	}
	if xs.Dims() < 2 || len(b) != xs[1] {
		return nil, fmt.Errorf("gops: %v: input %v does not match %d bias values", op, xs, len(b))
	}
	out, y := op.out.Get(prealloc, xs, b) // y may be x: elementwise in place is safe
	n, c := xs[0], xs[1]
	plane := len(x) / max(1, n*c)
	parallel(n, func(_, i int) {
		for ch := 0; ch < c; ch++ {
			off := (i*c + ch) * plane
			src, dst, bv := x[off:off+plane], y[off:off+plane], b[ch]
			if haveVec && plane > 0 {
				biasReLU(&dst[0], &src[0], plane, bv, op.relu)
				continue
			}
			if op.relu {
				for t, v := range src {
					y := math.Float32bits(v + bv)
					if !positive(y) {
						y = 0
					}
					dst[t] = math.Float32frombits(y)
				}
			} else {
				for t, v := range src {
					dst[t] = v + bv
				}
			}
		}
	})
	return out, nil
}

func (op *biasOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx := grad
	if op.relu {
		var err error
		if dx, err = G.ApplyOp(&reluGradOp{dims: op.xDims}, output, grad); err != nil {
			return nil, fmt.Errorf("gops: %v gradient: %w", op, err)
		}
	}
	db, err := G.ApplyOp(&channelSumOp{xDims: op.xDims, bShape: op.bShape}, dx)
	if err != nil {
		return nil, fmt.Errorf("gops: %v bias gradient: %w", op, err)
	}
	return G.Nodes{dx, db}, nil
}

// positive reports whether the float32 whose bits are b is greater than zero (NaN is not):
// one unsigned comparison of the bits, which the compiler turns into a conditional move
// where a comparison of floats would be a branch, mispredicted about half the time after
// a ReLU.
func positive(b uint32) bool { return b-1 < 0x7f800000 }

// reluGradOp: (y, dy) -> dy where y > 0, else 0.
type reluGradOp struct {
	dims int
	out  Output
}

func (op *reluGradOp) Arity() int                       { return 2 }
func (op *reluGradOp) Type() hm.Type                    { return FnType(op.dims, op.dims, op.dims) }
func (op *reluGradOp) ReturnsPtr() bool                 { return false }
func (op *reluGradOp) CallsExtern() bool                { return false }
func (op *reluGradOp) OverwritesInput() int             { return -1 }
func (op *reluGradOp) WriteHash(h hash.Hash)            { writeHash(h, op) }
func (op *reluGradOp) Hashcode() uint32                 { return HashOf(op) }
func (op *reluGradOp) String() string                   { return fmt.Sprintf("gops.ReLUGrad{%d-d}", op.dims) }
func (op *reluGradOp) DiffWRT(n int) []bool             { return []bool{false, false} }
func (op *reluGradOp) Do(v ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, v...) }
func (op *reluGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("gops: %v has no gradient", op)
}
func (op *reluGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds, 0)
	return s.Clone(), err
}

func (op *reluGradOp) UsePreallocDo(prealloc G.Value, v ...G.Value) (G.Value, error) {
	if len(v) != 2 {
		return nil, fmt.Errorf("gops: %v: want 2 inputs, got %d", op, len(v))
	}
	ys, y, err := float32s(v[0], "ReLU output")
	if err != nil {
		return nil, err
	}
	_, dy, err := float32s(v[1], "ReLU output gradient")
	if err != nil {
		return nil, err
	}
	if len(dy) != len(y) {
		return nil, fmt.Errorf("gops: %v: output has %d values, its gradient %d", op, len(y), len(dy))
	}
	out, dx := op.out.Get(prealloc, ys) // elementwise: in place over y or dy is safe
	byItem(ys, len(y), func(lo, hi int) { ReLUGradTo(dx[lo:hi], y[lo:hi], dy[lo:hi]) })
	return out, nil
}

// channelSumOp: (N, C, ...) -> the C sums over every axis but 1, shaped as the bias.
type channelSumOp struct {
	out    Output
	xDims  int
	bShape tensor.Shape
}

func (op *channelSumOp) Arity() int            { return 1 }
func (op *channelSumOp) Type() hm.Type         { return FnType(op.bShape.Dims(), op.xDims) }
func (op *channelSumOp) ReturnsPtr() bool      { return false }
func (op *channelSumOp) CallsExtern() bool     { return false }
func (op *channelSumOp) OverwritesInput() int  { return -1 }
func (op *channelSumOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *channelSumOp) Hashcode() uint32      { return HashOf(op) }
func (op *channelSumOp) String() string {
	return fmt.Sprintf("gops.ChannelSum{%d-d -> %v}", op.xDims, op.bShape)
}
func (op *channelSumOp) DiffWRT(n int) []bool             { return []bool{false} }
func (op *channelSumOp) Do(v ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, v...) }
func (op *channelSumOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("gops: %v has no gradient", op)
}
func (op *channelSumOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.bShape.Clone(), nil
}

func (op *channelSumOp) UsePreallocDo(prealloc G.Value, v ...G.Value) (G.Value, error) {
	if len(v) != 1 {
		return nil, fmt.Errorf("gops: %v: want 1 input, got %d", op, len(v))
	}
	xs, x, err := float32s(v[0], "channel sum input")
	if err != nil {
		return nil, err
	}
	if xs.Dims() < 2 || xs[1] != op.bShape.TotalSize() {
		return nil, fmt.Errorf("gops: %v: input shape %v", op, xs)
	}
	out, db := op.out.Get(prealloc, op.bShape, x)
	n, c := xs[0], xs[1]
	plane := len(x) / max(1, n*c)
	parallel(c, func(_, ch int) {
		var s laneSum
		for i := 0; i < n; i++ {
			off := (i*c + ch) * plane
			s.add(x[off:off+plane], nil)
		}
		db[ch] = s.total()
	})
	return out, nil
}

// laneSum is a float32 sum taken in 16 lanes, as AVX-512 takes it: value i goes to lane
// i%16 (per add call), and the lanes are added pairwise at the end. The assembly and the Go
// loop give the same bits, and the sum is the same whatever the number of threads.
type laneSum [16]float32

// add adds x[i] to the lanes, only where y[i] > 0 when y is not nil.
func (l *laneSum) add(x, y []float32) {
	if len(x) == 0 {
		return
	}
	if haveVec {
		var yp *float32
		if y != nil {
			yp = &y[0]
		}
		sumLanes((*[16]float32)(l), &x[0], yp, len(x))
		return
	}
	for i, v := range x {
		if y != nil && !(y[i] > 0) {
			continue // adding +0 instead: the same bits (no lane is ever -0)
		}
		l[i%16] += v
	}
}

// total adds the lanes pairwise: 8 pairs, 4, 2, 1.
func (l *laneSum) total() float32 {
	s := *l
	for w := 8; w > 0; w /= 2 {
		for j := range w {
			s[j] += s[j+w]
		}
	}
	return s[0]
}
