package gops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BiasReLUMaxPool2x2 is MaxPool2x2(BiasReLU(x, b)) in one op: x is (N, C, H, W), typically
// the output of Conv2D, b holds C values, the result is (N, C, H/2, W/2). Since the bias is
// constant over a window and ReLU is monotone, it is max(0, max(window) + b): one pass over
// x forward, one backward, and no full-size intermediate tensor. Values and gradients are
// those of the three ops in a row.
func BiasReLUMaxPool2x2(x, b *G.Node) (*G.Node, error) {
	xs, bs := x.Shape(), b.Shape()
	if xs.Dims() != 4 {
		return nil, fmt.Errorf("gops.BiasReLUMaxPool2x2: input must be (N, C, H, W), got shape %v", xs)
	}
	if xs[2] < 2 || xs[3] < 2 {
		return nil, fmt.Errorf("gops.BiasReLUMaxPool2x2: input %v is smaller than 2x2", xs)
	}
	if bs.TotalSize() != xs[1] {
		return nil, fmt.Errorf("gops.BiasReLUMaxPool2x2: input has %d channels, bias shape %v holds %d values", xs[1], bs, bs.TotalSize())
	}
	return G.ApplyOp(&fusedPoolOp{bShape: bs.Clone()}, x, b)
}

// fusedPoolOp: (x, b) -> max(0, maxpool(x) + b).
type fusedPoolOp struct {
	bShape tensor.Shape
	out    Output
}

func (op *fusedPoolOp) Arity() int            { return 2 }
func (op *fusedPoolOp) Type() hm.Type         { return FnType(4, 4, op.bShape.Dims()) }
func (op *fusedPoolOp) ReturnsPtr() bool      { return false }
func (op *fusedPoolOp) CallsExtern() bool     { return false }
func (op *fusedPoolOp) OverwritesInput() int  { return -1 }
func (op *fusedPoolOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *fusedPoolOp) Hashcode() uint32      { return HashOf(op) }
func (op *fusedPoolOp) String() string {
	return fmt.Sprintf("gops.BiasReLUMaxPool2x2{b: %v}", op.bShape)
}
func (op *fusedPoolOp) DiffWRT(n int) []bool             { return []bool{true, true} }
func (op *fusedPoolOp) Do(v ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, v...) }

func (op *fusedPoolOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	if s.Dims() != 4 {
		return nil, fmt.Errorf("gops.BiasReLUMaxPool2x2: want a 4-d input, got %v", s)
	}
	return tensor.Shape{s[0], s[1], s[2] / 2, s[3] / 2}, nil
}

func (op *fusedPoolOp) UsePreallocDo(prealloc G.Value, v ...G.Value) (G.Value, error) {
	if len(v) != 2 {
		return nil, fmt.Errorf("gops.BiasReLUMaxPool2x2: want 2 inputs, got %d", len(v))
	}
	xs, x, err := float32s(v[0], "BiasReLUMaxPool2x2 input")
	if err != nil {
		return nil, err
	}
	_, b, err := float32s(v[1], "bias")
	if err != nil {
		return nil, err
	}
	if xs.Dims() != 4 || len(b) != xs[1] {
		return nil, fmt.Errorf("gops.BiasReLUMaxPool2x2: input %v does not match %d bias values", xs, len(b))
	}
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	out, y := op.out.Get(prealloc, tensor.Shape{n, c, h / 2, w / 2}, x, b)
	pool2x2(x, y, b, n, c, h, w)
	return out, nil
}

func (op *fusedPoolOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&poolGradOp{relu: true}, inputs[0], output, grad)
	if err != nil {
		return nil, fmt.Errorf("gops: %v gradient: %w", op, err)
	}
	db, err := G.ApplyOp(&maskedSumOp{bShape: op.bShape}, output, grad)
	if err != nil {
		return nil, fmt.Errorf("gops: %v bias gradient: %w", op, err)
	}
	return G.Nodes{dx, db}, nil
}

// maskedSumOp: (y, dy), both (N, C, H, W) -> per channel Σ dy where y > 0, shaped as the bias.
type maskedSumOp struct {
	bShape tensor.Shape
	out    Output
}

func (op *maskedSumOp) Arity() int            { return 2 }
func (op *maskedSumOp) Type() hm.Type         { return FnType(op.bShape.Dims(), 4, 4) }
func (op *maskedSumOp) ReturnsPtr() bool      { return false }
func (op *maskedSumOp) CallsExtern() bool     { return false }
func (op *maskedSumOp) OverwritesInput() int  { return -1 }
func (op *maskedSumOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *maskedSumOp) Hashcode() uint32      { return HashOf(op) }
func (op *maskedSumOp) String() string        { return fmt.Sprintf("gops.ReLUChannelSum{-> %v}", op.bShape) }
func (op *maskedSumOp) DiffWRT(n int) []bool  { return []bool{false, false} }
func (op *maskedSumOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("gops: %v has no gradient", op)
}
func (op *maskedSumOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.bShape.Clone(), nil }
func (op *maskedSumOp) Do(v ...G.Value) (G.Value, error)               { return op.UsePreallocDo(nil, v...) }

func (op *maskedSumOp) UsePreallocDo(prealloc G.Value, v ...G.Value) (G.Value, error) {
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
	if ys.Dims() < 2 || ys[1] != op.bShape.TotalSize() || len(dy) != len(y) {
		return nil, fmt.Errorf("gops: %v: input shape %v", op, ys)
	}
	out, db := op.out.Get(prealloc, op.bShape, y, dy)
	n, c := ys[0], ys[1]
	plane := len(y) / max(1, n*c)
	parallel(c, func(_, ch int) {
		var s laneSum
		for i := 0; i < n; i++ {
			off := (i*c + ch) * plane
			s.add(dy[off:off+plane], y[off:off+plane])
		}
		db[ch] = s.total()
	})
	return out, nil
}
