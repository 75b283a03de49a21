package gops

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// float32s returns v's data as a contiguous []float32 in row-major order.
func float32s(v G.Value, what string) (tensor.Shape, []float32, error) {
	t, ok := v.(*tensor.Dense)
	if !ok {
		return nil, nil, fmt.Errorf("gops: %s: want a *tensor.Dense, got %T", what, v)
	}
	if t.Dtype() != tensor.Float32 {
		return nil, nil, fmt.Errorf("gops: %s: want float32, got %v", what, t.Dtype())
	}
	if t.RequiresIterator() {
		t = t.Materialize().(*tensor.Dense)
	}
	return t.Shape(), t.Data().([]float32), nil
}

// Output keeps an op's result tensor from one run of a graph to the next. Gorgonia's tape
// machine forgets every value at Reset, so an op that made its result anew at each run
// would allocate, and have the runtime zero, megabytes per layer and training step (a
// tenth of the 3-block CNN's step at 64x64, and the garbage collector's work on top). An op
// that embeds an Output owns its node's value: the value is overwritten by the next run, so
// whoever reads it copies what it needs before that. One Output per op value, and one op
// value per node: ops are made by the functions that apply them, never shared.
type Output struct{ last *tensor.Dense }

// Get returns a tensor of the given shape to write the op's result into, with undefined
// contents: prealloc when it fits and shares no memory with the inputs, else the tensor of
// the previous run when it fits and shares none, else a new one, kept for the next run.
func (o *Output) Get(prealloc G.Value, shape tensor.Shape, inputs ...[]float32) (*tensor.Dense, []float32) {
	if p, ok := prealloc.(*tensor.Dense); ok {
		if d, ok := fits(p, shape, inputs); ok {
			return p, d
		}
	}
	if o.last != nil {
		if d, ok := fits(o.last, shape, inputs); ok {
			return o.last, d
		}
	}
	t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape.Clone()...))
	o.last = t
	return t, t.Data().([]float32)
}

// fits returns p's data when p is a float32 tensor of the given shape that shares no
// memory with the inputs.
func fits(p *tensor.Dense, shape tensor.Shape, inputs [][]float32) ([]float32, bool) {
	if p.Dtype() != tensor.Float32 || !p.Shape().Eq(shape) || p.RequiresIterator() {
		return nil, false
	}
	d := p.Data().([]float32)
	for _, in := range inputs {
		if len(in) > 0 && len(d) > 0 && &in[0] == &d[0] {
			return nil, false
		}
	}
	return d, true
}

// FnType is the Gorgonia type of an op from tensors of the given dims to a tensor of dims
// out, all of one element type: what an Op's Type method returns.
func FnType(out int, in ...int) hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, 0, len(in)+1)
	for _, d := range in {
		ts = append(ts, G.TensorType{Dims: d, Of: a})
	}
	ts = append(ts, G.TensorType{Dims: out, Of: a})
	return hm.NewFnType(ts...)
}

// HashOf hashes an op through its String form, which must name all its parameters: what an
// Op's Hashcode method returns.
func HashOf(s fmt.Stringer) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s.String()))
	return h.Sum32()
}

func writeHash(h hash.Hash, s fmt.Stringer) { h.Write([]byte(s.String())) }

// shapeOf returns the tensor shape among an op's input DimSizers.
func shapeOf(ds []G.DimSizer, i int) (tensor.Shape, error) {
	if i >= len(ds) {
		return nil, fmt.Errorf("gops: want at least %d inputs, got %d", i+1, len(ds))
	}
	s, ok := ds[i].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("gops: input %d: want a tensor.Shape, got %T", i, ds[i])
	}
	return s, nil
}
