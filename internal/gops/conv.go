package gops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Conv2D convolves x (N, C, H, W) with the filters w (F, C, KH, KW), zero padding pad pixels
// on every side and moving stride pixels at a time; the result is (N, F, OH, OW) with
// OH = (H + 2·pad - KH)/stride + 1 (and the same for OW). It adds no bias: follow it with
// BiasReLU or BiasAdd.
//
// The forward pass is im2col + one SGEMM per image, images spread over all cores; the
// gradients with respect to x and w are ops of the same kind. When x is a leaf of the graph
// (the batch of images fed to the network) no gradient flows to it, which saves the
// largest backward pass of the first layer: training never needs it. Asking gorgonia.Grad
// for the gradient of such an x is an error.
func Conv2D(x, w *G.Node, pad, stride int) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 4 {
		return nil, fmt.Errorf("gops.Conv2D: input must be (N, C, H, W), got shape %v", xs)
	}
	if ws.Dims() != 4 {
		return nil, fmt.Errorf("gops.Conv2D: filters must be (F, C, KH, KW), got shape %v", ws)
	}
	if xs[1] != ws[1] {
		return nil, fmt.Errorf("gops.Conv2D: input has %d channels, filters expect %d", xs[1], ws[1])
	}
	if pad < 0 || stride < 1 {
		return nil, fmt.Errorf("gops.Conv2D: need pad >= 0 and stride >= 1, got pad %d, stride %d", pad, stride)
	}
	op := &convOp{kh: ws[2], kw: ws[3], pad: pad, stride: stride, noInputGrad: x.Op() == nil}
	if g := op.geom(xs, ws); g.oh < 1 || g.ow < 1 {
		return nil, fmt.Errorf("gops.Conv2D: %dx%d filters with pad %d do not fit a %dx%d input", ws[2], ws[3], pad, xs[2], xs[3])
	}
	return G.ApplyOp(op, x, w)
}

// geom is the geometry of one convolution.
type geom struct {
	n, c, h, w     int // input
	f, kh, kw      int // filters
	pad, stride    int
	oh, ow         int // output
	k, ohw, chw    int // c·kh·kw, oh·ow, c·h·w
	im2colIdentity bool
	// gidx, when set (withGather), is where each filter position's outputs read the input
	// plane: gidx[p·ohw + t], -1 for padding; im2col then gathers.
	gidx []int32
}

// gatherPixels is the largest output map whose im2col is gathered: below it, a copy per
// plane or per row costs more in calls than it moves.
const gatherPixels = 64

// withGather returns g with the gather indices of its filter positions set when im2col
// should gather: AVX-512, small output maps.
func (g geom) withGather() geom {
	if !haveVec || g.im2colIdentity || g.ohw > gatherPixels || g.h*g.w >= 1<<31 {
		return g
	}
	g.gidx = make([]int32, g.kh*g.kw*g.ohw)
	for i := 0; i < g.kh; i++ {
		for j := 0; j < g.kw; j++ {
			row := g.gidx[(i*g.kw+j)*g.ohw:][:g.ohw]
			for oy := 0; oy < g.oh; oy++ {
				for ox := 0; ox < g.ow; ox++ {
					iy, ix := oy*g.stride-g.pad+i, ox*g.stride-g.pad+j
					v := int32(-1)
					if iy >= 0 && iy < g.h && ix >= 0 && ix < g.w {
						v = int32(iy*g.w + ix)
					}
					row[oy*g.ow+ox] = v
				}
			}
		}
	}
	return g
}

func (op *convOp) geom(xs, ws tensor.Shape) geom {
	g := geom{n: xs[0], c: xs[1], h: xs[2], w: xs[3], f: ws[0], kh: op.kh, kw: op.kw, pad: op.pad, stride: op.stride}
	g.oh = (g.h+2*g.pad-g.kh)/g.stride + 1
	g.ow = (g.w+2*g.pad-g.kw)/g.stride + 1
	g.k, g.ohw, g.chw = g.c*g.kh*g.kw, g.oh*g.ow, g.c*g.h*g.w
	g.im2colIdentity = g.kh == 1 && g.kw == 1 && g.pad == 0 && g.stride == 1
	return g
}

// convOp: (x, w) -> y.
type convOp struct {
	out                 Output
	kh, kw, pad, stride int
	noInputGrad         bool // x is a leaf: no gradient for it
}

func (op *convOp) Arity() int       { return 2 }
func (op *convOp) Type() hm.Type    { return FnType(4, 4, 4) }
func (op *convOp) ReturnsPtr() bool { return false }
func (op *convOp) CallsExtern() bool {
	return false
}
func (op *convOp) OverwritesInput() int             { return -1 }
func (op *convOp) WriteHash(h hash.Hash)            { writeHash(h, op) }
func (op *convOp) Hashcode() uint32                 { return HashOf(op) }
func (op *convOp) DiffWRT(n int) []bool             { return []bool{!op.noInputGrad, true} }
func (op *convOp) Do(v ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, v...) }
func (op *convOp) String() string {
	return fmt.Sprintf("gops.Conv2D{k: %dx%d, pad: %d, stride: %d, input grad: %v}", op.kh, op.kw, op.pad, op.stride, !op.noInputGrad)
}

func (op *convOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	xs, err := shapeOf(ds, 0)
	if err != nil {
		return nil, err
	}
	ws, err := shapeOf(ds, 1)
	if err != nil {
		return nil, err
	}
	if xs.Dims() != 4 || ws.Dims() != 4 {
		return nil, fmt.Errorf("gops.Conv2D: want 4-d input and filters, got %v and %v", xs, ws)
	}
	g := op.geom(xs, ws)
	return tensor.Shape{g.n, g.f, g.oh, g.ow}, nil
}

func (op *convOp) UsePreallocDo(prealloc G.Value, v ...G.Value) (G.Value, error) {
	if len(v) != 2 {
		return nil, fmt.Errorf("gops.Conv2D: want 2 inputs, got %d", len(v))
	}
	xs, x, err := float32s(v[0], "Conv2D input")
	if err != nil {
		return nil, err
	}
	ws, w, err := float32s(v[1], "Conv2D filters")
	if err != nil {
		return nil, err
	}
	g := op.geom(xs, ws)
	out, y := op.out.Get(prealloc, tensor.Shape{g.n, g.f, g.oh, g.ow}, x, w)
	convForward(g, x, w, y)
	return out, nil
}

func (op *convOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	x, w := inputs[0], inputs[1]
	fwd := *op
	fwd.out = Output{} // the gradient ops have their own
	var dx *G.Node
	if !op.noInputGrad {
		var err error
		if dx, err = G.ApplyOp(&convDataGradOp{convOp: fwd, xShape: x.Shape().Clone()}, w, grad); err != nil {
			return nil, fmt.Errorf("gops.Conv2D gradient wrt input: %w", err)
		}
	}
	dw, err := G.ApplyOp(&convFilterGradOp{convOp: fwd, wShape: w.Shape().Clone()}, x, grad)
	if err != nil {
		return nil, fmt.Errorf("gops.Conv2D gradient wrt filters: %w", err)
	}
	return G.Nodes{dx, dw}, nil
}

// convDataGradOp: (w, dy) -> dx.
type convDataGradOp struct {
	convOp
	out    Output
	xShape tensor.Shape
}

func (op *convDataGradOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *convDataGradOp) Hashcode() uint32      { return HashOf(op) }
func (op *convDataGradOp) String() string {
	return fmt.Sprintf("gops.Conv2DDataGrad{k: %dx%d, pad: %d, stride: %d, x: %v}", op.kh, op.kw, op.pad, op.stride, op.xShape)
}
func (op *convDataGradOp) DiffWRT(n int) []bool { return []bool{false, false} }
func (op *convDataGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("gops: %v has no gradient", op)
}
func (op *convDataGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.xShape.Clone(), nil
}
func (op *convDataGradOp) Do(v ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, v...) }
func (op *convDataGradOp) UsePreallocDo(prealloc G.Value, v ...G.Value) (G.Value, error) {
	if len(v) != 2 {
		return nil, fmt.Errorf("gops.Conv2DDataGrad: want 2 inputs, got %d", len(v))
	}
	ws, w, err := float32s(v[0], "Conv2D filters")
	if err != nil {
		return nil, err
	}
	_, dy, err := float32s(v[1], "Conv2D output gradient")
	if err != nil {
		return nil, err
	}
	g := op.geom(op.xShape, ws)
	out, dx := op.out.Get(prealloc, op.xShape, w, dy)
	convBackwardData(g, w, dy, dx)
	return out, nil
}

// convFilterGradOp: (x, dy) -> dw.
type convFilterGradOp struct {
	convOp
	out    Output
	wShape tensor.Shape
}

func (op *convFilterGradOp) WriteHash(h hash.Hash) { writeHash(h, op) }
func (op *convFilterGradOp) Hashcode() uint32      { return HashOf(op) }
func (op *convFilterGradOp) String() string {
	return fmt.Sprintf("gops.Conv2DFilterGrad{k: %dx%d, pad: %d, stride: %d, w: %v}", op.kh, op.kw, op.pad, op.stride, op.wShape)
}
func (op *convFilterGradOp) DiffWRT(n int) []bool { return []bool{false, false} }
func (op *convFilterGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("gops: %v has no gradient", op)
}
func (op *convFilterGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.wShape.Clone(), nil
}
func (op *convFilterGradOp) Do(v ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, v...) }
func (op *convFilterGradOp) UsePreallocDo(prealloc G.Value, v ...G.Value) (G.Value, error) {
	if len(v) != 2 {
		return nil, fmt.Errorf("gops.Conv2DFilterGrad: want 2 inputs, got %d", len(v))
	}
	xs, x, err := float32s(v[0], "Conv2D input")
	if err != nil {
		return nil, err
	}
	_, dy, err := float32s(v[1], "Conv2D output gradient")
	if err != nil {
		return nil, err
	}
	g := op.geom(xs, op.wShape)
	out, dw := op.out.Get(prealloc, op.wShape, x, dy)
	convBackwardFilter(g, x, dy, dw)
	return out, nil
}

// groupPixels is the number of output pixels from which one product covers one image:
// below it, a product covers a group of consecutive images side by side (the columns of
// their im2col matrices), so that the filters are packed once for the group rather than
// once per image, and the filter gradient's partial sum is added to once per group. At
// 8x8 and 4x4 (the deep layers of resnet-gap) a product per image is mostly packing.
const groupPixels = 256

// group is the number of images per product (see groupPixels).
func (g geom) group() int { return max(1, min(g.n, groupPixels/g.ohw)) }

// convBuffers returns, for each of w workers, a column buffer of K × (group·OHW) and, when
// images are grouped, an output buffer of max(F, C) × (group·OHW); release gives them back.
func convBuffers(g geom, w int) (cols, outs [][]float32, release func()) {
	cols, outs = make([][]float32, w), make([][]float32, w)
	gs := g.group()
	for i := range cols {
		if gs > 1 || !g.im2colIdentity {
			cols[i] = getScratch(g.k * gs * g.ohw)
		}
		if gs > 1 {
			outs[i] = getScratch(max(g.f, g.c) * gs * g.ohw)
		}
	}
	return cols, outs, func() {
		for i := range cols {
			putScratch(cols[i])
			putScratch(outs[i])
		}
	}
}

// gather copies the n images' (rows × OHW) planes from src (image after image) side by
// side into dst (rows × n·OHW); scatter is the way back.
func gather(dst, src []float32, rows, ohw, n int) {
	ld := n * ohw
	for i := 0; i < n; i++ {
		for r := 0; r < rows; r++ {
			copy(dst[r*ld+i*ohw:r*ld+(i+1)*ohw], src[(i*rows+r)*ohw:])
		}
	}
}

func scatter(dst, src []float32, rows, ohw, n int) {
	ld := n * ohw
	for i := 0; i < n; i++ {
		for r := 0; r < rows; r++ {
			copy(dst[(i*rows+r)*ohw:(i*rows+r+1)*ohw], src[r*ld+i*ohw:])
		}
	}
}

// columns lays out the im2col matrices of the images x[i0:i0+n] side by side in col
// (K × n·OHW) and returns it, or returns x's own image when it is its im2col matrix (one
// image, 1×1 filters).
func columns(g geom, x, col []float32, i0, n int) []float32 {
	if g.im2colIdentity {
		if n == 1 {
			return x[i0*g.chw : (i0+1)*g.chw]
		}
		gather(col, x[i0*g.chw:], g.c, g.ohw, n)
		return col[:g.k*n*g.ohw]
	}
	for i := 0; i < n; i++ {
		im2col(g, x[(i0+i)*g.chw:(i0+i+1)*g.chw], col[i*g.ohw:], n*g.ohw)
	}
	return col[:g.k*n*g.ohw]
}

// convForward computes y = conv(x, w): per group of images, y (F × n·OHW) = w (F×K) ·
// their im2col matrices (K × n·OHW).
func convForward(g geom, x, w, y []float32) {
	g = g.withGather()
	gs := g.group()
	groups := (g.n + gs - 1) / gs
	cols, outs, release := convBuffers(g, workers(groups))
	defer release()
	wm := newFilters(false, w, g.f, g.k)
	defer wm.release()
	parallel(groups, func(k, gi int) {
		i0 := gi * gs
		n := min(gs, g.n-i0)
		col := columns(g, x, cols[k], i0, n)
		yg := y[i0*g.f*g.ohw : (i0+n)*g.f*g.ohw]
		if n == 1 {
			wm.mul(g.ohw, col, yg)
			return
		}
		out := outs[k][:g.f*n*g.ohw]
		wm.mul(n*g.ohw, col, out)
		scatter(yg, out, g.f, g.ohw, n)
	})
}

// filters is a convolution's filter matrix w (F×K), or its transpose, as the left operand
// of every image's product in one op call: packed once for all of them when gops's kernel
// runs (the fallback BLASes pack their own).
type filters struct {
	t      bool
	w      []float32
	m, k   int // rows and depth of the operand: F, K (K, F when t)
	kn     *kernel
	packed *packedA
}

// newFilters returns w (f×k) as a left operand, transposed when t.
func newFilters(t bool, w []float32, f, k int) filters {
	fm := filters{t: t, w: w, m: f, k: k}
	if t {
		fm.m, fm.k = k, f
	}
	if fm.kn = active.Load(); fm.kn != nil && fm.m > 0 && fm.k > 0 {
		fm.packed = prepackA(fm.kn, t, w, k, fm.m, fm.k)
	}
	return fm
}

// mul writes c (m × n, row stride n) = the operand · b (k × n, row stride n).
func (fm filters) mul(n int, b, c []float32) {
	if fm.packed != nil {
		gemmWith(fm.kn, fm.m, n, fm.k, fm.packed, matB{false, b, n}, 0, c, n)
		return
	}
	lda := fm.k
	if fm.t {
		lda = fm.m
	}
	sgemm(fm.t, false, fm.m, n, fm.k, fm.w, lda, b, n, 0, c, n)
}

// release gives the packed panels back.
func (fm filters) release() {
	if fm.packed != nil {
		fm.packed.release()
	}
}

// convBackwardData computes dx: per group of images, col2im(wᵀ (K×F) · dy (F × n·OHW)).
func convBackwardData(g geom, w, dy, dx []float32) {
	gs := g.group()
	groups := (g.n + gs - 1) / gs
	cols, outs, release := convBuffers(g, workers(groups))
	defer release()
	wt := newFilters(true, w, g.f, g.k)
	defer wt.release()
	parallel(groups, func(k, gi int) {
		i0 := gi * gs
		n := min(gs, g.n-i0)
		ld := n * g.ohw
		dyg := dy[i0*g.f*g.ohw : (i0+n)*g.f*g.ohw]
		dxg := dx[i0*g.chw : (i0+n)*g.chw]
		if n > 1 {
			gather(outs[k], dyg, g.f, g.ohw, n)
			dyg = outs[k][:g.f*ld]
		}
		if g.im2colIdentity {
			if n == 1 {
				wt.mul(g.ohw, dyg, dxg)
				return
			}
			col := cols[k][:g.k*ld]
			wt.mul(ld, dyg, col)
			scatter(dxg, col, g.c, g.ohw, n)
			return
		}
		col := cols[k][:g.k*ld]
		wt.mul(ld, dyg, col)
		clear(dxg)
		for i := 0; i < n; i++ {
			col2im(g, col[i*g.ohw:], dxg[i*g.chw:(i+1)*g.chw], ld)
		}
	})
}

// filterGroups is the most partial sums convBackwardFilter splits a batch into. The runs
// depend on the batch size and the geometry only, never on the number of workers, so the
// sum is the same bits whatever GOMAXPROCS is.
const filterGroups = 16

// convBackwardFilter computes dw = Σ_n dy_n (F×OHW) · col(x_n)ᵀ (OHW×K): the batch is cut
// into at most filterGroups runs of consecutive images, each run summed in image order
// (a group of images per product, see groupPixels) into a partial sum (in parallel, one run
// per task), then the partial sums are added in run order. The order of every addition is
// fixed by the batch size and the geometry alone.
func convBackwardFilter(g geom, x, dy, dw []float32) {
	g = g.withGather()
	gs := g.group()
	run := max(gs, (g.n+filterGroups-1)/filterGroups) // images per run
	runs := (g.n + run - 1) / run
	cols, outs, release := convBuffers(g, workers(runs))
	defer release()
	parts := make([][]float32, runs)
	parts[0] = dw
	for i := 1; i < runs; i++ {
		parts[i] = getScratch(len(dw))
		defer putScratch(parts[i])
	}
	parallel(runs, func(k, ri int) {
		part := parts[ri]
		clear(part)
		for i0 := ri * run; i0 < min(g.n, (ri+1)*run); i0 += gs {
			n := min(gs, g.n-i0, (ri+1)*run-i0)
			ld := n * g.ohw
			col := columns(g, x, cols[k], i0, n)
			dyg := dy[i0*g.f*g.ohw : (i0+n)*g.f*g.ohw]
			if n > 1 {
				gather(outs[k], dyg, g.f, g.ohw, n)
				dyg = outs[k][:g.f*ld]
			}
			sgemm(false, true, g.f, g.k, ld, dyg, ld, col, ld, 1, part, g.k)
		}
	})
	for _, p := range parts[1:] {
		for i, v := range p {
			dw[i] += v
		}
	}
}

// im2col lays out the patches of one image x (C×H×W) as columns: row (c, i, j) of col
// (K×OHW, rows ld apart) holds x[c, oy·s-p+i, ox·s-p+j] for every output pixel (oy, ox),
// zero outside.
func im2col(g geom, x, col []float32, ld int) {
	if g.gidx != nil {
		_, _ = x[g.chw-1], col[(g.k-1)*ld+g.ohw-1] // every value it reads and writes
		im2colGather(&col[0], &x[0], &g.gidx[0], g.c, g.kh*g.kw, g.ohw, ld, g.h*g.w)
		return
	}
	plane := g.stride == 1 && g.ow == g.w && haveVec
	for c := 0; c < g.c; c++ {
		xc := x[c*g.h*g.w : (c+1)*g.h*g.w]
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				row := col[((c*g.kh+i)*g.kw+j)*ld:][:g.ohw]
				// output columns whose input column ox·s-p+j lies inside [0, w)
				lo, hi := span(g.ow, g.w, g.pad, g.stride, j)
				if plane {
					im2colPlane(g, xc, row, i, j, lo, hi)
					continue
				}
				for oy := 0; oy < g.oh; oy++ {
					dst := row[oy*g.ow : (oy+1)*g.ow]
					iy := oy*g.stride - g.pad + i
					if iy < 0 || iy >= g.h || lo >= hi {
						clear(dst)
						continue
					}
					src := xc[iy*g.w : (iy+1)*g.w]
					if g.stride == 1 && haveVec { // one call, the padding with the copy
						s := src[lo-g.pad+j : hi-g.pad+j]
						padCopy(&dst[0], &s[0], lo, hi, len(dst))
						continue
					}
					clear(dst[:lo])
					clear(dst[hi:])
					if g.stride == 1 {
						copy(dst[lo:hi], src[lo-g.pad+j:])
						continue
					}
					for ox := lo; ox < hi; ox++ {
						dst[ox] = src[ox*g.stride-g.pad+j]
					}
				}
			}
		}
	}
}

// planeShift gives, for a stride-1 convolution whose output rows are as wide as its input
// rows (ow = w), the row (i) and column (j) of the filter: the output values t of a plane
// whose input value t+off exists, [tlo, thi), and the rows [rlo, rhi) with any. In those
// rows, the output columns outside [lo, hi) read across an input row's edge: they are the
// padding.
func planeShift(g geom, i, j int) (off, tlo, thi, rlo, rhi int) {
	rlo, rhi = max(0, g.pad-i), min(g.oh, g.h+g.pad-i)
	off = (i-g.pad)*g.w + j - g.pad
	tlo, thi = max(rlo*g.ow, -off), min(rhi*g.ow, g.h*g.w-off)
	return off, tlo, max(tlo, thi), rlo, rhi
}

// im2colPlane writes the row of im2col for filter position (i, j) of one channel xc when
// ow = w and the stride is 1: the whole plane is the channel shifted by one offset, so one
// padCopy writes it, then the columns outside [lo, hi), which that copy filled from the
// next or the previous input row, are cleared. (Small maps otherwise take a call per row.)
func im2colPlane(g geom, xc, row []float32, i, j, lo, hi int) {
	off, tlo, thi, rlo, rhi := planeShift(g, i, j)
	if tlo >= thi {
		clear(row)
		return
	}
	s := xc[tlo+off : thi+off]
	padCopy(&row[0], &s[0], tlo, thi, len(row))
	clearEdges(row[rlo*g.ow:rhi*g.ow], g.ow, lo, hi)
}

// clearEdges zeroes the columns outside [lo, hi) of the rows of width w in rows: a column
// or two of padding, stores rather than calls.
func clearEdges(rows []float32, w, lo, hi int) {
	if lo == 0 && hi == w {
		return
	}
	for r := 0; r+w <= len(rows); r += w {
		row := rows[r : r+w]
		for ox := 0; ox < lo; ox++ {
			row[ox] = 0
		}
		for ox := hi; ox < w; ox++ {
			row[ox] = 0
		}
	}
}

// col2imPlane adds the row of col for filter position (i, j) into one channel dc when
// ow = w and the stride is 1, im2colPlane's adjoint: the padding columns of the row (which
// col owns: scratch of the input-gradient product) are cleared, then one addTo adds the
// whole plane, shifted.
func col2imPlane(g geom, row, dc []float32, i, j, lo, hi int) {
	off, tlo, thi, rlo, rhi := planeShift(g, i, j)
	if tlo >= thi {
		return
	}
	clearEdges(row[rlo*g.ow:rhi*g.ow], g.ow, lo, hi)
	d := dc[tlo+off : thi+off]
	addTo(&d[0], &row[tlo], len(d))
}

// col2im adds the columns of col (K×OHW, rows ld apart) back into the image dx (C×H×W):
// the adjoint of im2col. It clears the padding columns of col's rows on the way.
func col2im(g geom, col, dx []float32, ld int) {
	plane := g.stride == 1 && g.ow == g.w && haveVec
	for c := 0; c < g.c; c++ {
		dc := dx[c*g.h*g.w : (c+1)*g.h*g.w]
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				row := col[((c*g.kh+i)*g.kw+j)*ld:][:g.ohw]
				lo, hi := span(g.ow, g.w, g.pad, g.stride, j)
				if lo >= hi {
					continue
				}
				if plane {
					col2imPlane(g, row, dc, i, j, lo, hi)
					continue
				}
				for oy := 0; oy < g.oh; oy++ {
					iy := oy*g.stride - g.pad + i
					if iy < 0 || iy >= g.h {
						continue
					}
					src := row[oy*g.ow : (oy+1)*g.ow]
					dst := dc[iy*g.w : (iy+1)*g.w]
					if g.stride == 1 {
						d := dst[lo-g.pad+j : hi-g.pad+j]
						s := src[lo:hi]
						if haveVec {
							addTo(&d[0], &s[0], len(d))
							continue
						}
						for t := range d {
							d[t] += s[t]
						}
						continue
					}
					for ox := lo; ox < hi; ox++ {
						dst[ox*g.stride-g.pad+j] += src[ox]
					}
				}
			}
		}
	}
}

// span returns the range [lo, hi) of output columns ox whose input column ox·s-p+j is
// inside [0, w).
func span(ow, w, pad, stride, j int) (lo, hi int) {
	// ox·s ≥ p-j  ⇔  ox ≥ ceil((p-j)/s)
	if d := pad - j; d > 0 {
		lo = (d + stride - 1) / stride
	}
	// ox·s-p+j ≤ w-1  ⇔  ox ≤ floor((w-1+p-j)/s)
	if d := w - 1 + pad - j; d >= 0 {
		hi = min(ow, d/stride+1)
	}
	return lo, max(lo, hi)
}
