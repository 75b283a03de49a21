package gops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ReLU returns max(0, x), elementwise, in one pass; its gradient is one masked pass, zero
// where the output is zero (as PyTorch's). Gorgonia's own Rectify makes a comparison
// tensor and a product, each a pass and a new tensor, forward and backward.
func ReLU(x *G.Node) (*G.Node, error) {
	return G.ApplyOp(&addReLUOp{dims: x.Dims(), arity: 1}, x)
}

// AddReLU returns max(0, a + b) for a and b of one shape, in one pass: the end of a
// residual block. Both inputs get the same gradient, one masked pass.
func AddReLU(a, b *G.Node) (*G.Node, error) {
	if !a.Shape().Eq(b.Shape()) {
		return nil, fmt.Errorf("gops.AddReLU: shapes %v and %v differ", a.Shape(), b.Shape())
	}
	return G.ApplyOp(&addReLUOp{dims: a.Dims(), arity: 2}, a, b)
}

// addReLUOp: (a[, b]) -> max(0, a [+ b]).
type addReLUOp struct {
	dims, arity int
	out         Output
}

func (op *addReLUOp) Arity() int { return op.arity }
func (op *addReLUOp) Type() hm.Type {
	in := make([]int, op.arity)
	for i := range in {
		in[i] = op.dims
	}
	return FnType(op.dims, in...)
}
func (op *addReLUOp) ReturnsPtr() bool                 { return false }
func (op *addReLUOp) CallsExtern() bool                { return false }
func (op *addReLUOp) OverwritesInput() int             { return -1 }
func (op *addReLUOp) WriteHash(h hash.Hash)            { writeHash(h, op) }
func (op *addReLUOp) Hashcode() uint32                 { return HashOf(op) }
func (op *addReLUOp) DiffWRT(n int) []bool             { return []bool{true, true}[:op.arity] }
func (op *addReLUOp) Do(v ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, v...) }
func (op *addReLUOp) String() string {
	if op.arity == 1 {
		return fmt.Sprintf("gops.ReLU{%d-d}", op.dims)
	}
	return fmt.Sprintf("gops.AddReLU{%d-d}", op.dims)
}

func (op *addReLUOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds, 0)
	return s.Clone(), err
}

func (op *addReLUOp) UsePreallocDo(prealloc G.Value, v ...G.Value) (G.Value, error) {
	if len(v) != op.arity {
		return nil, fmt.Errorf("gops: %v: want %d inputs, got %d", op, op.arity, len(v))
	}
	s, a, err := float32s(v[0], "ReLU input")
	if err != nil {
		return nil, err
	}
	var b []float32
	if op.arity == 2 {
		if _, b, err = float32s(v[1], "ReLU input"); err != nil {
			return nil, err
		}
		if len(b) != len(a) {
			return nil, fmt.Errorf("gops: %v: inputs of %d and %d values", op, len(a), len(b))
		}
	}
	out, y := op.out.Get(prealloc, s) // elementwise: in place over an input is safe
	byItem(s, len(a), func(lo, hi int) {
		var bs []float32
		if b != nil {
			bs = b[lo:hi]
		}
		AddReLUTo(y[lo:hi], a[lo:hi], bs)
	})
	return out, nil
}

func (op *addReLUOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&reluGradOp{dims: op.dims}, output, grad)
	if err != nil {
		return nil, fmt.Errorf("gops: %v gradient: %w", op, err)
	}
	if op.arity == 1 {
		return G.Nodes{d}, nil
	}
	return G.Nodes{d, d}, nil
}

// reluNaN is max(v, 0), a NaN giving the one NaN 0x7fc00000 (whatever its bits: Go's max
// keeps them, or not, as the compiler lowers it), as addMax0 does.
func reluNaN(v float32) float32 {
	if v != v {
		return math.Float32frombits(0x7fc00000)
	}
	return max(v, 0)
}

// ReLUGrad returns dy where y > 0, else 0, in one masked pass: the gradient through a ReLU,
// or through the ReLU that ends another op, whose output is y.
func ReLUGrad(y, dy *G.Node) (*G.Node, error) {
	if !y.Shape().Eq(dy.Shape()) {
		return nil, fmt.Errorf("gops.ReLUGrad: shapes %v and %v differ", y.Shape(), dy.Shape())
	}
	return G.ApplyOp(&reluGradOp{dims: y.Dims()}, y, dy)
}

// AddReLUTo writes dst[i] = max(a[i] + b[i], 0) for every i of dst, or max(a[i], 0) when b
// is nil, with ReLU's values (a NaN gives 0x7fc00000); dst may be a or b. It is the slice
// form of ReLU and AddReLU, for ops that end in a ReLU (a batch norm's, on a block of
// values still in cache).
func AddReLUTo(dst, a, b []float32) {
	if len(dst) == 0 {
		return
	}
	a = a[:len(dst)]
	if b != nil {
		b = b[:len(dst)]
	}
	if haveVec {
		var bp *float32
		if b != nil {
			bp = &b[0]
		}
		addMax0(&dst[0], &a[0], bp, len(dst))
		return
	}
	if b == nil {
		for i, v := range a {
			dst[i] = reluNaN(v)
		}
		return
	}
	for i, v := range a {
		dst[i] = reluNaN(v + b[i])
	}
}

// ReLUGradTo writes dst[i] = dy[i] where y[i] > 0, else 0, for every i of dst: the slice
// form of ReLUGrad. dst may be dy.
func ReLUGradTo(dst, y, dy []float32) {
	if len(dst) == 0 {
		return
	}
	y, dy = y[:len(dst)], dy[:len(dst)]
	if haveVec {
		reluGrad(&dst[0], &y[0], &dy[0], len(dst))
		return
	}
	for t, v := range y {
		d := math.Float32bits(dy[t])
		if !positive(math.Float32bits(v)) {
			d = 0
		}
		dst[t] = math.Float32frombits(d)
	}
}
