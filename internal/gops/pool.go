package gops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MaxPool2x2 takes the maximum of every 2x2 window of x (N, C, H, W), stride 2, no padding:
// the result is (N, C, H/2, W/2) (an odd last row or column is dropped, as in PyTorch and
// Keras). The gradient goes to the first maximum of each window in row-major order, as in
// Gorgonia's MaxPool2D. A NaN in a window is kept or passed over as x86's MAXPS does (see
// window), on every CPU.
func MaxPool2x2(x *G.Node) (*G.Node, error) {
	xs := x.Shape()
	if xs.Dims() != 4 {
		return nil, fmt.Errorf("gops.MaxPool2x2: input must be (N, C, H, W), got shape %v", xs)
	}
	if xs[2] < 2 || xs[3] < 2 {
		return nil, fmt.Errorf("gops.MaxPool2x2: input %v is smaller than 2x2", xs)
	}
	return G.ApplyOp(&poolOp{}, x)
}

// poolOp: x -> y.
type poolOp struct{ out Output }

func (op *poolOp) Arity() int                       { return 1 }
func (op *poolOp) Type() hm.Type                    { return FnType(4, 4) }
func (op *poolOp) ReturnsPtr() bool                 { return false }
func (op *poolOp) CallsExtern() bool                { return false }
func (op *poolOp) OverwritesInput() int             { return -1 }
func (op *poolOp) WriteHash(h hash.Hash)            { writeHash(h, op) }
func (op *poolOp) Hashcode() uint32                 { return HashOf(op) }
func (op *poolOp) String() string                   { return "gops.MaxPool2x2" }
func (op *poolOp) DiffWRT(n int) []bool             { return []bool{true} }
func (op *poolOp) Do(v ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, v...) }

func (op *poolOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	if s.Dims() != 4 {
		return nil, fmt.Errorf("gops.MaxPool2x2: want a 4-d input, got %v", s)
	}
	return tensor.Shape{s[0], s[1], s[2] / 2, s[3] / 2}, nil
}

func (op *poolOp) UsePreallocDo(prealloc G.Value, v ...G.Value) (G.Value, error) {
	if len(v) != 1 {
		return nil, fmt.Errorf("gops.MaxPool2x2: want 1 input, got %d", len(v))
	}
	xs, x, err := float32s(v[0], "MaxPool2x2 input")
	if err != nil {
		return nil, err
	}
	if xs.Dims() != 4 {
		return nil, fmt.Errorf("gops.MaxPool2x2: want a 4-d input, got %v", xs)
	}
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	oh, ow := h/2, w/2
	out, y := op.out.Get(prealloc, tensor.Shape{n, c, oh, ow}, x)
	pool2x2(x, y, nil, n, c, h, w)
	return out, nil
}

// maxps is x86's MAXPS on two values: a when a > b, else b (b when either is NaN, and for
// -0 against +0).
func maxps(a, b float32) float32 {
	if a > b {
		return a
	}
	return b
}

// window is the maximum of a 2x2 window, top row (x0, x1), bottom row (x2, x3), taken as
// maxPool16 takes it: the rows' maxima column by column, then the larger column. Its NaN
// and signed-zero rules are MAXPS's, so that the assembly and these loops (the columns
// past its 16-wide turns, CPUs without AVX-512) give the same bits.
func window(x0, x1, x2, x3 float32) float32 {
	return maxps(maxps(x0, x2), maxps(x1, x3))
}

// pool2x2 writes the 2x2 max-pool of x (n, c, h, w) into y, or, when b is not nil,
// max(0, max + b[channel]).
func pool2x2(x, y, b []float32, n, c, h, w int) {
	oh, ow := h/2, w/2
	parallel(n, func(_, i int) {
		for ch := 0; ch < c; ch++ {
			p := i*c + ch
			xp, yp := x[p*h*w:(p+1)*h*w], y[p*oh*ow:(p+1)*oh*ow]
			for oy := 0; oy < oh; oy++ {
				r0, r1 := xp[2*oy*w:][:2*ow], xp[(2*oy+1)*w:][:2*ow]
				yr := yp[oy*ow:][:ow]
				if haveVec && ow > 0 {
					maxPool16(&r0[0], &r1[0], &yr[0], ow)
					continue
				}
				for ox := range ow {
					yr[ox] = window(r0[2*ox], r0[2*ox+1], r1[2*ox], r1[2*ox+1])
				}
			}
			if b != nil && haveVec && len(yp) > 0 {
				biasReLU(&yp[0], &yp[0], len(yp), b[ch], true)
			} else if b != nil {
				bv := b[ch]
				for t, v := range yp {
					y := math.Float32bits(v + bv)
					if !positive(y) {
						y = 0
					}
					yp[t] = math.Float32frombits(y)
				}
			}
		}
	})
}

func (op *poolOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&poolGradOp{}, inputs[0], output, grad)
	if err != nil {
		return nil, fmt.Errorf("gops.MaxPool2x2 gradient: %w", err)
	}
	return G.Nodes{dx}, nil
}

// poolGradOp: (x, y, dy) -> dx: dy goes to the first maximum of each window of x, and, when
// relu, only where the pooled output y is positive (y = max(0, max + b) in the fused op).
type poolGradOp struct {
	relu bool
	out  Output
}

func (op *poolGradOp) Arity() int                       { return 3 }
func (op *poolGradOp) Type() hm.Type                    { return FnType(4, 4, 4, 4) }
func (op *poolGradOp) ReturnsPtr() bool                 { return false }
func (op *poolGradOp) CallsExtern() bool                { return false }
func (op *poolGradOp) OverwritesInput() int             { return -1 }
func (op *poolGradOp) WriteHash(h hash.Hash)            { writeHash(h, op) }
func (op *poolGradOp) Hashcode() uint32                 { return HashOf(op) }
func (op *poolGradOp) String() string                   { return fmt.Sprintf("gops.MaxPool2x2Grad{relu: %v}", op.relu) }
func (op *poolGradOp) DiffWRT(n int) []bool             { return []bool{false, false, false} }
func (op *poolGradOp) Do(v ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, v...) }
func (op *poolGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("gops: %v has no gradient", op)
}
func (op *poolGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ds, 0)
	return s.Clone(), err
}

func (op *poolGradOp) UsePreallocDo(prealloc G.Value, v ...G.Value) (G.Value, error) {
	if len(v) != 3 {
		return nil, fmt.Errorf("gops.MaxPool2x2Grad: want 3 inputs, got %d", len(v))
	}
	xs, x, err := float32s(v[0], "MaxPool2x2 input")
	if err != nil {
		return nil, err
	}
	_, y, err := float32s(v[1], "MaxPool2x2 output")
	if err != nil {
		return nil, err
	}
	_, dy, err := float32s(v[2], "MaxPool2x2 output gradient")
	if err != nil {
		return nil, err
	}
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	oh, ow := h/2, w/2
	if len(y) != n*c*oh*ow || len(dy) != len(y) {
		return nil, fmt.Errorf("gops.MaxPool2x2Grad: input %v does not match output of %d values", xs, len(y))
	}
	out, dx := op.out.Get(prealloc, xs, x, y, dy)
	parallel(n, func(_, i int) {
		for ch := 0; ch < c; ch++ {
			p := i*c + ch
			xp, dxp := x[p*h*w:(p+1)*h*w], dx[p*h*w:(p+1)*h*w]
			yp, dyp := y[p*oh*ow:(p+1)*oh*ow], dy[p*oh*ow:(p+1)*oh*ow]
			if !haveVec || w != 2*ow || h != 2*oh {
				clear(dxp) // not every value is written below
			}
			for oy := 0; oy < oh; oy++ {
				o0, o1 := 2*oy*w, (2*oy+1)*w
				r0, r1 := xp[o0:][:2*ow], xp[o1:][:2*ow]
				d0, d1 := dxp[o0:][:2*ow], dxp[o1:][:2*ow]
				yr, gr := yp[oy*ow:][:ow], dyp[oy*ow:][:ow]
				if haveVec {
					poolGradRows(r0, r1, yr, gr, d0, d1, op.relu)
					continue
				}
				for ox := range ow {
					m := yr[ox]
					g := gr[ox]
					if op.relu && !(m > 0) {
						continue
					}
					// the first maximum in row-major order, as Gorgonia; k indexes the
					// window as 0, 1 (top row), 2, 3 (bottom row); none when the window's
					// maximum is NaN, as in maxPoolGrad16
					a := 2 * ox
					x0, x1, x2, x3 := r0[a], r0[a+1], r1[a], r1[a+1]
					best := window(x0, x1, x2, x3)
					var k int
					switch best {
					case x0:
						k = 0
					case x1:
						k = 1
					case x2:
						k = 2
					case x3:
						k = 3
					default:
						continue
					}
					row := d0
					if k >= 2 {
						row = d1
					}
					row[a+k&1] = g
				}
			}
		}
	})
	return out, nil
}

// poolGradRows writes the gradient of one output row of the 2x2 max-pool into both input
// rows' gradients (every value: 0 where no window's first maximum is): maxPoolGrad16's
// turns of 16 windows, then the last windows through zero-padded buffers, so that narrow
// feature maps (8x8, 16x16) take the same path.
func poolGradRows(r0, r1, y, dy, d0, d1 []float32, relu bool) {
	ow := len(y)
	blocks := ow / 16
	if blocks > 0 {
		maxPoolGrad16(&r0[0], &r1[0], &y[0], &dy[0], &d0[0], &d1[0], blocks, relu)
	}
	t := ow - 16*blocks
	if t == 0 {
		return
	}
	a, o := 32*blocks, 16*blocks
	var b0, b1, e0, e1 [32]float32
	var by, bg [16]float32
	copy(b0[:], r0[a:a+2*t])
	copy(b1[:], r1[a:a+2*t])
	copy(by[:], y[o:])
	copy(bg[:], dy[o:])
	maxPoolGrad16(&b0[0], &b1[0], &by[0], &bg[0], &e0[0], &e1[0], 1, relu)
	copy(d0[a:a+2*t], e0[:2*t])
	copy(d1[a:a+2*t], e1[:2*t])
}
