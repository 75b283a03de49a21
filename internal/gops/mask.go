package gops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MulMask returns x ⊙ m for a constant mask m of x's shape (dropout's: 0 or 1/(1-p) per
// value, drawn before each step): one pass over the batch's images in parallel, into a kept
// output; its gradient is dy ⊙ m, the same op. m gets no gradient. Gorgonia's HadamardProd
// computes the same values on one core into a new tensor at every step.
func MulMask(x, m *G.Node) (*G.Node, error) {
	if !x.Shape().Eq(m.Shape()) {
		return nil, fmt.Errorf("gops.MulMask: shapes %v and %v differ", x.Shape(), m.Shape())
	}
	return G.ApplyOp(&mulMaskOp{dims: x.Dims()}, x, m)
}

// mulMaskOp: (x, m) -> x ⊙ m.
type mulMaskOp struct {
	dims int
	out  Output
}

func (op *mulMaskOp) Arity() int                       { return 2 }
func (op *mulMaskOp) Type() hm.Type                    { return FnType(op.dims, op.dims, op.dims) }
func (op *mulMaskOp) ReturnsPtr() bool                 { return false }
func (op *mulMaskOp) CallsExtern() bool                { return false }
func (op *mulMaskOp) OverwritesInput() int             { return -1 }
func (op *mulMaskOp) WriteHash(h hash.Hash)            { writeHash(h, op) }
func (op *mulMaskOp) Hashcode() uint32                 { return HashOf(op) }
func (op *mulMaskOp) String() string                   { return fmt.Sprintf("gops.MulMask{%d-d}", op.dims) }
func (op *mulMaskOp) DiffWRT(n int) []bool             { return []bool{true, false} }
func (op *mulMaskOp) Do(v ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, v...) }

func (op *mulMaskOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds, 0)
	return s.Clone(), err
}

func (op *mulMaskOp) UsePreallocDo(prealloc G.Value, v ...G.Value) (G.Value, error) {
	if len(v) != 2 {
		return nil, fmt.Errorf("gops: %v: want 2 inputs, got %d", op, len(v))
	}
	s, x, err := float32s(v[0], "MulMask input")
	if err != nil {
		return nil, err
	}
	_, m, err := float32s(v[1], "MulMask mask")
	if err != nil {
		return nil, err
	}
	if len(m) != len(x) {
		return nil, fmt.Errorf("gops: %v: input of %d values, mask of %d", op, len(x), len(m))
	}
	out, y := op.out.Get(prealloc, s) // elementwise: in place over an input is safe
	byItem(s, len(x), func(lo, hi int) {
		xs, ms, ys := x[lo:hi], m[lo:hi], y[lo:hi]
		if haveVec && hi > lo {
			mulTo(&ys[0], &xs[0], &ms[0], hi-lo)
			return
		}
		for t, v := range xs {
			ys[t] = v * ms[t]
		}
	})
	return out, nil
}

func (op *mulMaskOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&mulMaskOp{dims: op.dims}, grad, inputs[1])
	if err != nil {
		return nil, fmt.Errorf("gops: %v gradient: %w", op, err)
	}
	return G.Nodes{dx, nil}, nil
}

// FillMask fills m with a dropout mask at rate p from the random stream that starts at seed:
// value i is 0 where u_i < p and 1/(1-p) otherwise, u_i being the (i+1)-th draw of
// SplitMix64 from seed read as math/rand/v2's Float64 reads a Uint64 (its low 53 bits over
// 2^53). SplitMix64's (i+1)-th output depends only on seed and i, so the mask is filled in
// parallel and is the same whatever the number of threads; a PyTorch reference rebuilds it
// from seed alone (bench/parity/torch_ref.py). p must be in [0, 1).
func FillMask(m []float32, p float64, seed uint64) {
	keep := math.Float32bits(float32(1 / (1 - p)))
	// u < p ⇔ low53 < p·2^53 ⇔ low53 < ⌈p·2^53⌉: both sides are exact in float64.
	thr := uint64(math.Ceil(p * (1 << 53)))
	const chunk = 1 << 14
	ForEach((len(m)+chunk-1)/chunk, func(c int) {
		lo := c * chunk
		d := m[lo:min(lo+chunk, len(m))]
		s := seed + uint64(lo)*splitMixGamma
		for i := range d {
			s += splitMixGamma
			z := s
			z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
			z = (z ^ z>>27) * 0x94D049BB133111EB
			z ^= z >> 31
			// dropped: low53 - thr wraps around, setting the top bit. Without a branch,
			// which would guess wrong p of the time.
			drop := (z&(1<<53-1) - thr) >> 63
			d[i] = math.Float32frombits(keep & uint32(drop-1))
		}
	})
}

// splitMixGamma is SplitMix64's increment.
const splitMixGamma = 0x9E3779B97F4A7C15
