package finetune

import (
	"fmt"
	"hash"
	"math"

	"github.com/catdog-ml/catdog/internal/gops"
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file holds catdog's own Gorgonia op: batch normalisation over the channel axis
// (axis 1) of (N, C) or (N, C, H, W) tensors. Gorgonia's BatchNorm at v0.9.18 keeps its
// running statistics inside the op, gives scale and shift the shape of the whole input
// and draws their initial values itself; this op instead takes scale and shift as (C)
// inputs, reads the running statistics from the model's weights at inference, and hands
// the batch statistics back after a training step so the model updates its running
// averages outside the graph, where the export reads them.

// bnStats are the statistics of the last training batch seen by a bnOp.
type bnStats struct {
	mean, vari []float64 // biased variance
	count      int       // values per channel (N·H·W)
	// sdy and sdyx are the per-channel sums of dy and dy·xhat of this step's backward pass:
	// computed by the first of the three gradient ops that runs, read by the other two. The
	// forward op resets them with the statistics at each step.
	sdy, sdyx []float64
	// dz is this step's gradient through the op's ReLU (dy where the output is positive),
	// made by the gradient op that computes sdy and sdyx, when the op ends in a ReLU. Its
	// storage is kept from step to step.
	dz []float32
}

// bnOp normalises x with the batch statistics (train) or the running ones, then scales by
// gamma and shifts by beta: (x, gamma, beta) -> y; with relu, max(0, y); with add,
// (x, gamma, beta, s) -> max(0, y + s), the end of a residual block. Each is one pass over
// blocks of values still in cache, where separate ops would make a pass each over the
// whole tensor.
type bnOp struct {
	id    string // the layer's name: ops of different layers never hash alike
	dims  int
	train bool
	relu  bool
	add   bool // add implies relu
	// mean and vari are the running statistics, read at inference.
	mean, vari []float32
	// shift, when not nil, is the bias of the convolution before the op, which the graph
	// leaves out of x (graphBuilder.convBN): the batch statistics cancel it exactly, and
	// the running mean, which counts it, is read less shift.
	shift []float32
	// stats receives the batch statistics when training.
	stats *bnStats
	out   gops.Output
}

func (op *bnOp) Arity() int {
	if op.add {
		return 4
	}
	return 3
}
func (op *bnOp) Type() hm.Type {
	if op.add {
		return gops.FnType(op.dims, op.dims, 1, 1, op.dims)
	}
	return gops.FnType(op.dims, op.dims, 1, 1)
}
func (op *bnOp) ReturnsPtr() bool     { return false }
func (op *bnOp) CallsExtern() bool    { return false }
func (op *bnOp) OverwritesInput() int { return -1 }
func (op *bnOp) String() string {
	return fmt.Sprintf("catdog.BatchNorm{%s, train: %v, relu: %v, add: %v, shift: %v}", op.id, op.train, op.relu, op.add, op.shift != nil)
}
func (op *bnOp) WriteHash(h hash.Hash) {
	h.Write([]byte(op.String()))
}
func (op *bnOp) Hashcode() uint32 { return gops.HashOf(op) }
func (op *bnOp) DiffWRT(int) []bool {
	return []bool{true, true, true, true}[:op.Arity()]
}

func (op *bnOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	if len(ds) != op.Arity() {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", op, op.Arity(), len(ds))
	}
	s, ok := ds[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("%v: input shape is a %T", op, ds[0])
	}
	return s.Clone(), nil
}

func (op *bnOp) Do(v ...G.Value) (G.Value, error) {
	xs, x, err := float32s(v[0], "batch norm input")
	if err != nil {
		return nil, err
	}
	_, gamma, err := float32s(v[1], "batch norm scale")
	if err != nil {
		return nil, err
	}
	_, beta, err := float32s(v[2], "batch norm shift")
	if err != nil {
		return nil, err
	}
	n, c, s := bnGeom(xs)
	if len(gamma) != c || len(beta) != c || (op.shift != nil && len(op.shift) != c) {
		return nil, fmt.Errorf("%v: %d channels, scale has %d, shift %d", op, c, len(gamma), len(beta))
	}
	var res []float32
	if op.add {
		if _, res, err = float32s(v[3], "residual input"); err != nil {
			return nil, err
		}
		if len(res) != len(x) {
			return nil, fmt.Errorf("%v: input of %d values, residual input of %d", op, len(x), len(res))
		}
	}
	out, y := op.out.Get(nil, xs, x, res)
	var mean, vari []float64
	if op.train {
		mean, vari = channelStats(x, n, c, s)
		*op.stats = bnStats{mean: mean, vari: vari, count: n * s, dz: op.stats.dz}
	} else {
		mean, vari = make([]float64, c), make([]float64, c)
		for k := range c {
			mean[k], vari[k] = float64(op.mean[k]), float64(op.vari[k])
			if op.shift != nil {
				mean[k] -= float64(op.shift[k])
			}
		}
	}
	gops.ForEach(c, func(k int) {
		inv := 1 / math.Sqrt(vari[k]+BNEpsilon)
		// y = gamma·(x-mean)·inv + beta = a·x + b, as onnxruntime's kernel folds it (with
		// AVX-512 the product and the sum are fused: one rounding fewer)
		a := float32(float64(gamma[k]) * inv)
		b := float32(float64(beta[k]) - mean[k]*float64(gamma[k])*inv)
		for i := range n {
			off := (i*c + k) * s
			ys := y[off : off+s]
			gops.Affine(ys, x[off:off+s], nil, a, 0, b)
			switch {
			case op.add:
				gops.AddReLUTo(ys, ys, res[off:off+s])
			case op.relu:
				gops.AddReLUTo(ys, ys, nil)
			}
		}
	})
	return out, nil
}

func (op *bnOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if !op.train {
		return nil, fmt.Errorf("%v: inference batch norm has no gradient", op)
	}
	// With add, the ReLU's gradient is a node of its own: the residual input gets it as
	// it is. With relu alone, the gradient ops mask dy themselves (bnGradOp.relu).
	dy := grad
	if op.add {
		var err error
		if dy, err = gops.ReLUGrad(output, grad); err != nil {
			return nil, fmt.Errorf("%v gradient: %w", op, err)
		}
	}
	relu := op.relu && !op.add
	res := make(G.Nodes, 3, 4)
	for i := range res {
		in := G.Nodes{inputs[0], inputs[1], dy}
		if relu {
			in = append(in, output)
		}
		n, err := G.ApplyOp(&bnGradOp{id: op.id, dims: op.dims, which: i, relu: relu, stats: op.stats}, in...)
		if err != nil {
			return nil, fmt.Errorf("%v gradient: %w", op, err)
		}
		res[i] = n
	}
	if op.add {
		res = append(res, dy)
	}
	return res, nil
}

// bnGradOp computes one gradient of a training bnOp: (x, gamma, dy) -> dx (which 0),
// dgamma (1) or dbeta (2); with relu, (x, gamma, dy, y), dy the gradient of the ReLU's
// output y.
type bnGradOp struct {
	id    string
	dims  int
	which int
	relu  bool
	// stats are the forward op's statistics of this step's batch, computed from the same x
	// (the backward pass runs after the forward one): reused rather than computed again.
	stats *bnStats
	out   gops.Output
}

func (op *bnGradOp) Arity() int {
	if op.relu {
		return 4
	}
	return 3
}
func (op *bnGradOp) Type() hm.Type {
	in := []int{op.dims, 1, op.dims, op.dims}[:op.Arity()]
	if op.which == 0 {
		return gops.FnType(op.dims, in...)
	}
	return gops.FnType(1, in...)
}
func (op *bnGradOp) ReturnsPtr() bool     { return false }
func (op *bnGradOp) CallsExtern() bool    { return false }
func (op *bnGradOp) OverwritesInput() int { return -1 }
func (op *bnGradOp) String() string {
	return fmt.Sprintf("catdog.BatchNormGrad{%s, %d, relu: %v}", op.id, op.which, op.relu)
}
func (op *bnGradOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op *bnGradOp) Hashcode() uint32      { return gops.HashOf(op) }
func (op *bnGradOp) DiffWRT(int) []bool    { return make([]bool, op.Arity()) }
func (op *bnGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v has no gradient", op)
}

func (op *bnGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	if len(ds) != op.Arity() {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", op, op.Arity(), len(ds))
	}
	i := 0
	if op.which != 0 {
		i = 1
	}
	s, ok := ds[i].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("%v: input shape is a %T", op, ds[i])
	}
	return s.Clone(), nil
}

func (op *bnGradOp) Do(v ...G.Value) (G.Value, error) {
	xs, x, err := float32s(v[0], "batch norm input")
	if err != nil {
		return nil, err
	}
	gs, gamma, err := float32s(v[1], "batch norm scale")
	if err != nil {
		return nil, err
	}
	_, dy, err := float32s(v[2], "batch norm output gradient")
	if err != nil {
		return nil, err
	}
	var y []float32
	if op.relu {
		if _, y, err = float32s(v[3], "batch norm output"); err != nil {
			return nil, err
		}
		if len(y) != len(x) || len(dy) != len(x) {
			return nil, fmt.Errorf("%v: input of %d values, output %d, gradient %d", op, len(x), len(y), len(dy))
		}
	}
	n, c, s := bnGeom(xs)
	var mean, vari []float64
	st := op.stats
	if st != nil && len(st.mean) == c && st.count == n*s {
		mean, vari = st.mean, st.vari
	} else {
		st = nil
		mean, vari = channelStats(x, n, c, s)
	}
	m := float64(n * s)
	sdy, sdyx, dz := gradSums(st, x, dy, y, mean, vari, n, c, s)
	switch op.which {
	case 1, 2:
		out := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(gs.Clone()...))
		d := out.Data().([]float32)
		for k := range c {
			if op.which == 1 {
				d[k] = float32(sdyx[k])
			} else {
				d[k] = float32(sdy[k])
			}
		}
		return out, nil
	}
	// dx = gamma·inv/m · (m·dy - Σdy - xhat·Σ(dy·xhat)) = a·dy + b·x + e per channel, in
	// float32: b·x and e cancel where |mean| is far above the spread, losing about
	// 2⁻²⁴·|mean|/σ of dx's precision (nothing at the activations batch norm sees here)
	out, dx := op.out.Get(nil, xs, x, dz)
	gops.ForEach(c, func(k int) {
		inv := 1 / math.Sqrt(vari[k]+BNEpsilon)
		g := float64(gamma[k]) * inv / m
		a := float32(g * m)
		b := float32(-g * inv * sdyx[k])
		e := float32(g * (mean[k]*inv*sdyx[k] - sdy[k]))
		for i := range n {
			off := (i*c + k) * s
			gops.Affine(dx[off:off+s], dz[off:off+s], x[off:off+s], a, b, e)
		}
	})
	return out, nil
}

// gradSums returns the per-channel sums of dz and of dz·xhat, xhat = (x - mean)/sqrt(vari+ε),
// and dz itself: dz is dy, or, when y (the ReLU's output) is not nil, dy where y is
// positive, else 0, written block by block just before the block's sums. They are st's
// when another gradient op of this step computed them, else computed and kept in st (nil:
// not kept). Σ dz·xhat is inv·(Σ dz·x - mean·Σ dz), both sums by gops.SumDot.
func gradSums(st *bnStats, x, dy, y []float32, mean, vari []float64, n, c, s int) (sdy, sdyx []float64, dz []float32) {
	if st != nil && len(st.sdy) == c && (y == nil || len(st.dz) == len(dy)) {
		if y == nil {
			return st.sdy, st.sdyx, dy
		}
		return st.sdy, st.sdyx, st.dz
	}
	dz = dy
	if y != nil {
		if st != nil && cap(st.dz) >= len(dy) {
			dz = st.dz[:len(dy)]
		} else {
			dz = make([]float32, len(dy))
		}
	}
	sdy, sdyx = make([]float64, c), make([]float64, c)
	gops.ForEach(c, func(k int) {
		var sd, sdx float64 // Σ dz, Σ dz·x
		for i := range n {
			off := (i*c + k) * s
			if y != nil {
				gops.ReLUGradTo(dz[off:off+s], y[off:off+s], dy[off:off+s])
			}
			d, dx := gops.SumDot(dz[off:off+s], x[off:off+s])
			sd += d
			sdx += dx
		}
		sdy[k] = sd
		sdyx[k] = (sdx - mean[k]*sd) / math.Sqrt(vari[k]+BNEpsilon)
	})
	if st != nil {
		st.sdy, st.sdyx = sdy, sdyx
		if y != nil {
			st.dz = dz
		}
	}
	return sdy, sdyx, dz
}

// bnGeom splits a (N, C) or (N, C, H, W) shape into N, C and H·W.
func bnGeom(s tensor.Shape) (n, c, hw int) {
	hw = 1
	for _, d := range s[2:] {
		hw *= d
	}
	return s[0], s[1], hw
}

// channelStats returns the mean and the biased variance of each channel, in one pass: the
// sums of x and of x² in float64, whose variance E[x²] - mean² loses about
// 2⁻⁵³·mean²/variance of its precision (nothing at the activations batch norm sees).
func channelStats(x []float32, n, c, s int) (mean, vari []float64) {
	mean, vari = make([]float64, c), make([]float64, c)
	m := float64(n * s)
	gops.ForEach(c, func(k int) {
		var sum, sq float64
		for i := range n {
			seg := x[(i*c+k)*s : (i*c+k+1)*s]
			si, sqi := gops.SumDot(seg, seg)
			sum += si
			sq += sqi
		}
		mu := sum / m
		mean[k], vari[k] = mu, max(sq/m-mu*mu, 0)
	})
	return mean, vari
}

// float32s returns v's data as a contiguous []float32 in row-major order.
func float32s(v G.Value, what string) (tensor.Shape, []float32, error) {
	t, ok := v.(*tensor.Dense)
	if !ok {
		return nil, nil, fmt.Errorf("finetune: %s: want a *tensor.Dense, got %T", what, v)
	}
	if t.Dtype() != tensor.Float32 {
		return nil, nil, fmt.Errorf("finetune: %s: want float32, got %v", what, t.Dtype())
	}
	if t.RequiresIterator() {
		t = t.Materialize().(*tensor.Dense)
	}
	return t.Shape(), t.Data().([]float32), nil
}

// bceOp is the mean binary cross-entropy of sigmoid(z) against y from the logits:
// (z, y) -> scalar, mean(max(z,0) - z·y + log(1 + e^-|z|)). With class weights, each
// sample's loss is weighted by its class's and the sum divided by the weights' sum.
type bceOp struct{ lossOp }

// newBCEOp returns bceOp with the loss weights of labels 0 and 1 (nil: 1 each).
func newBCEOp(weights []float64) *bceOp {
	return &bceOp{lossOp{lossBase{"catdog.BCEWithLogits", weights}}}
}

func (op *bceOp) Do(v ...G.Value) (G.Value, error) {
	_, z, y, err := logitsLabels(v)
	if err != nil {
		return nil, err
	}
	if op.weights == nil {
		var s float64
		for i := range z {
			s += bceLoss(z[i], y[i])
		}
		return G.NewF32(float32(s / float64(len(z)))), nil
	}
	w, sum, err := sampleWeights(op.weights, y)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", op, err)
	}
	var s float64
	for i := range z {
		s += w[i] * bceLoss(z[i], y[i])
	}
	return G.NewF32(float32(s / sum)), nil
}

func (op *bceOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dz, err := G.ApplyOp(&bceGradOp{lossGradOp{lossBase{"catdog.BCEWithLogitsGrad", op.weights}}}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, fmt.Errorf("%v gradient: %w", op, err)
	}
	return G.Nodes{dz, nil}, nil
}

// bceGradOp is the gradient of bceOp with respect to the logits: (z, y, g) -> g·(sigmoid(z) - y)/n,
// or g·w_y·(sigmoid(z) - y)/Σw with class weights.
type bceGradOp struct{ lossGradOp }

func (op *bceGradOp) Do(v ...G.Value) (G.Value, error) {
	zs, z, y, err := logitsLabels(v)
	if err != nil {
		return nil, err
	}
	g, err := lossGrad(v[2])
	if err != nil {
		return nil, err
	}
	out := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(zs.Clone()...))
	d := out.Data().([]float32)
	if op.weights == nil {
		n := float64(len(z))
		for i := range z {
			d[i] = float32(g * (float64(sigmoid(z[i])) - float64(y[i])) / n)
		}
		return out, nil
	}
	w, sum, err := sampleWeights(op.weights, y)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", op, err)
	}
	for i := range z {
		d[i] = float32(g * w[i] * (float64(sigmoid(z[i])) - float64(y[i])) / sum)
	}
	return out, nil
}

// lossGrad reads the gradient flowing into a loss op: a scalar.
func lossGrad(v G.Value) (float64, error) {
	if s, ok := v.(*G.F32); ok {
		return float64(*s), nil
	}
	_, d, err := float32s(v, "loss gradient")
	if err != nil {
		return 0, err
	}
	return float64(d[0]), nil
}

// ceOp is the mean categorical cross-entropy of softmax(z) against integer labels y, from
// the logits z (n, C) and the labels (n, 1) as float32 class numbers: (z, y) -> scalar,
// mean over the rows of log Σ_j e^(z_j - m) - (z_y - m), m the row's largest logit (so
// nothing overflows). With class weights, each row's loss is weighted by its class's and
// the sum divided by the weights' sum, as PyTorch's nn.CrossEntropyLoss(weight=...). One op,
// with its own gradient (softmax(z) - onehot(y))/n, like bceOp.
type ceOp struct{ lossOp }

// newCEOp returns ceOp with the loss weights of the classes (nil: 1 each).
func newCEOp(weights []float64) *ceOp {
	return &ceOp{lossOp{lossBase{"catdog.CrossEntropyWithLogits", weights}}}
}

func (op *ceOp) Do(v ...G.Value) (G.Value, error) {
	zs, z, y, err := logitsLabels(v)
	if err != nil {
		return nil, err
	}
	labels, err := classLabels(zs, y, op.weights)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", op, err)
	}
	c := zs[1]
	var s, sum float64
	for i, k := range labels {
		w := 1.0
		if op.weights != nil {
			w = op.weights[k]
		}
		s += w * ceRow(z[i*c:(i+1)*c], k, nil)
		sum += w
	}
	return G.NewF32(float32(s / sum)), nil
}

func (op *ceOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dz, err := G.ApplyOp(&ceGradOp{lossGradOp{lossBase{"catdog.CrossEntropyWithLogitsGrad", op.weights}}}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, fmt.Errorf("%v gradient: %w", op, err)
	}
	return G.Nodes{dz, nil}, nil
}

// ceGradOp is the gradient of ceOp with respect to the logits:
// (z, y, g) -> g·w_y·(softmax(z) - onehot(y))/Σw, Σw = n without class weights.
type ceGradOp struct{ lossGradOp }

func (op *ceGradOp) Do(v ...G.Value) (G.Value, error) {
	zs, z, y, err := logitsLabels(v)
	if err != nil {
		return nil, err
	}
	g, err := lossGrad(v[2])
	if err != nil {
		return nil, err
	}
	labels, err := classLabels(zs, y, op.weights)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", op, err)
	}
	c := zs[1]
	sum := float64(len(labels))
	if op.weights != nil {
		sum = 0
		for _, k := range labels {
			sum += op.weights[k]
		}
	}
	out := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(zs.Clone()...))
	d := out.Data().([]float32)
	p := make([]float64, c)
	for i, k := range labels {
		ceRow(z[i*c:(i+1)*c], k, p)
		w := 1.0
		if op.weights != nil {
			w = op.weights[k]
		}
		p[k]--
		for j := range p {
			d[i*c+j] = float32(g * w * p[j] / sum)
		}
	}
	return out, nil
}

// classLabels reads the labels y (float32 class numbers, one per row of logits of shape
// zs) as classes of the logits' width, refusing any other value.
func classLabels(zs tensor.Shape, y []float32, weights []float64) ([]int, error) {
	if len(zs) != 2 || zs[0] != len(y) {
		return nil, fmt.Errorf("logits of shape %v for %d labels", zs, len(y))
	}
	if weights != nil && len(weights) != zs[1] {
		return nil, fmt.Errorf("%d class weights for %d classes", len(weights), zs[1])
	}
	labels := make([]int, len(y))
	for i, v := range y {
		k := int(v)
		if float32(k) != v || k < 0 || k >= zs[1] {
			return nil, fmt.Errorf("label %v of sample %d is not a class (0 to %d)", v, i, zs[1]-1)
		}
		labels[i] = k
	}
	return labels, nil
}

// sampleWeights returns the weight of each sample of labels y (0 or 1) and their sum.
func sampleWeights(weights []float64, y []float32) ([]float64, float64, error) {
	w := make([]float64, len(y))
	var sum float64
	for i, v := range y {
		k := int(v)
		if float32(k) != v || k < 0 || k >= len(weights) {
			return nil, 0, fmt.Errorf("label %v of sample %d is not a class (0 to %d)", v, i, len(weights)-1)
		}
		w[i] = weights[k]
		sum += w[i]
	}
	return w, sum, nil
}

// logitsLabels reads a loss op's first two inputs: the logits, with their shape, and the
// labels.
func logitsLabels(v []G.Value) (tensor.Shape, []float32, []float32, error) {
	zs, z, err := float32s(v[0], "logits")
	if err != nil {
		return nil, nil, nil, err
	}
	_, y, err := float32s(v[1], "labels")
	if err != nil {
		return nil, nil, nil, err
	}
	return zs, z, y, nil
}

// lossBase is what the loss ops and their gradients share: a name, the loss weights of the
// classes (nil: 1 each), and the Gorgonia Op methods that follow from them.
type lossBase struct {
	name    string
	weights []float64
}

func (b *lossBase) String() string        { return b.name + weightsString(b.weights) }
func (b *lossBase) WriteHash(h hash.Hash) { h.Write([]byte(b.String())) }
func (b *lossBase) Hashcode() uint32      { return gops.HashOf(b) }
func (*lossBase) ReturnsPtr() bool        { return false }
func (*lossBase) CallsExtern() bool       { return false }
func (*lossBase) OverwritesInput() int    { return -1 }

// lossOp is a loss from the logits: (z, y) -> scalar, differentiable in z.
type lossOp struct{ lossBase }

func (*lossOp) Arity() int { return 2 }
func (*lossOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(t, t, a)
}
func (*lossOp) DiffWRT(int) []bool { return []bool{true, false} }
func (*lossOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}

// lossGradOp is a loss's gradient in the logits: (z, y, g) -> the shape of z.
type lossGradOp struct{ lossBase }

func (*lossGradOp) Arity() int { return 3 }
func (*lossGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(t, t, a, t)
}
func (*lossGradOp) DiffWRT(int) []bool { return []bool{false, false, false} }
func (op *lossGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v has no gradient", op)
}
func (op *lossGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, ok := ds[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("%v: input shape is a %T", op, ds[0])
	}
	return s.Clone(), nil
}

// weightsString writes class weights into a loss op's name: none when nil.
func weightsString(w []float64) string {
	if w == nil {
		return ""
	}
	return fmt.Sprintf("%v", w)
}

// relu6Op is min(max(x, 0), 6), element-wise.
type relu6Op struct{ dims int }

func (op relu6Op) Arity() int           { return 1 }
func (op relu6Op) Type() hm.Type        { return gops.FnType(op.dims, op.dims) }
func (op relu6Op) ReturnsPtr() bool     { return false }
func (op relu6Op) CallsExtern() bool    { return false }
func (op relu6Op) OverwritesInput() int { return -1 }
func (op relu6Op) String() string       { return fmt.Sprintf("catdog.ReLU6{%d}", op.dims) }
func (op relu6Op) WriteHash(h hash.Hash) {
	h.Write([]byte(op.String()))
}
func (op relu6Op) Hashcode() uint32   { return gops.HashOf(op) }
func (op relu6Op) DiffWRT(int) []bool { return []bool{true} }
func (op relu6Op) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, ok := ds[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("%v: input shape is a %T", op, ds[0])
	}
	return s.Clone(), nil
}

func (op relu6Op) Do(v ...G.Value) (G.Value, error) {
	xs, x, err := float32s(v[0], "relu6 input")
	if err != nil {
		return nil, err
	}
	out := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(xs.Clone()...))
	y := out.Data().([]float32)
	for i, a := range x {
		y[i] = min(max(a, 0), 6)
	}
	return out, nil
}

func (op relu6Op) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(relu6GradOp(op), inputs[0], grad)
	if err != nil {
		return nil, fmt.Errorf("%v gradient: %w", op, err)
	}
	return G.Nodes{dx}, nil
}

// relu6GradOp is relu6Op's gradient: (x, g) -> g where 0 < x < 6, else 0.
type relu6GradOp struct{ dims int }

func (op relu6GradOp) Arity() int           { return 2 }
func (op relu6GradOp) Type() hm.Type        { return gops.FnType(op.dims, op.dims, op.dims) }
func (op relu6GradOp) ReturnsPtr() bool     { return false }
func (op relu6GradOp) CallsExtern() bool    { return false }
func (op relu6GradOp) OverwritesInput() int { return -1 }
func (op relu6GradOp) String() string       { return fmt.Sprintf("catdog.ReLU6Grad{%d}", op.dims) }
func (op relu6GradOp) WriteHash(h hash.Hash) {
	h.Write([]byte(op.String()))
}
func (op relu6GradOp) Hashcode() uint32   { return gops.HashOf(op) }
func (op relu6GradOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op relu6GradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v has no gradient", op)
}
func (op relu6GradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return relu6Op(op).InferShape(ds...)
}

func (op relu6GradOp) Do(v ...G.Value) (G.Value, error) {
	xs, x, err := float32s(v[0], "relu6 input")
	if err != nil {
		return nil, err
	}
	_, g, err := float32s(v[1], "relu6 gradient")
	if err != nil {
		return nil, err
	}
	out := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(xs.Clone()...))
	d := out.Data().([]float32)
	for i, a := range x {
		if a > 0 && a < 6 {
			d[i] = g[i]
		}
	}
	return out, nil
}
