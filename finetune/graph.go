package finetune

import (
	"fmt"
	"math"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/catdog-ml/catdog/internal/gops"
)

// ConvFunc convolves x (N, C, H, W) with filters w (F, C, K, K), zero padding pad on every
// side, stride 1, no bias. It is the one seam where the convolution op is chosen
// (Model.SetConv); the default is FastConv.
type ConvFunc func(x, w *G.Node, pad int) (*G.Node, error)

// FastConv is catdog's im2col + SGEMM convolution op (internal/gops), parallel over the
// batch: the default.
func FastConv(x, w *G.Node, pad int) (*G.Node, error) { return gops.Conv2D(x, w, pad, 1) }

// GorgoniaConv is Gorgonia's own Conv2d (same math, slower).
func GorgoniaConv(x, w *G.Node, pad int) (*G.Node, error) {
	k := w.Shape()[2]
	return G.Conv2d(x, w, tensor.Shape{k, k}, []int{pad, pad}, []int{1, 1}, []int{1, 1})
}

// graph is a model compiled for batches of exactly n samples, for training (dropout on,
// batch statistics, gradients) or inference.
type graph struct {
	m     *Model
	n     int
	train bool

	g      *G.ExprGraph
	vm     G.VM
	x, y   *G.Node // input (n, sample...) and labels (n, 1) (train only)
	xT, yT *tensor.Dense
	logits *G.Node // (n, 1) for two classes, (n, C) for C >= 3
	loss   *G.Node // scalar (train only)

	learn []*Param  // trainable params, in model order
	grads G.Nodes   // their gradients (train only)
	masks []mask    // dropout masks to draw before each step
	bns   []bnTrack // batch norms whose running statistics follow each step
}

type mask struct {
	node *G.Node
	t    *tensor.Dense
	p    float64
}

type bnTrack struct {
	w     bnW
	stats *bnStats
	shift []float32 // the convolution bias left out of the op's input (bnOp.shift), or nil
}

// gorgoniaBLAS makes Gorgonia's own float32 products (the dense layers' Mul) use gops's
// SGEMM kernel. Gorgonia's BLAS is process-wide state of its own, so it is set once.
var gorgoniaBLAS sync.Once

// build compiles m for batches of n samples, its loss unweighted.
func (m *Model) build(n int, train bool) (*graph, error) { return m.compile(n, train, nil) }

// compile compiles m for batches of n samples. The training graph's loss, from the logits,
// is binary cross-entropy (a sigmoid output) or categorical cross-entropy (softmax), each
// sample weighted by weights[its label] (nil: all 1).
func (m *Model) compile(n int, train bool, weights []float64) (*graph, error) {
	gorgoniaBLAS.Do(func() { G.Use(gops.Implementation{}) })
	gr := &graph{m: m, n: n, train: train, g: G.NewGraph()}
	b := &graphBuilder{gr: gr, conv: m.conv, nodes: map[*Param]*G.Node{}, cancelled: map[*Param]bool{}}
	if b.conv == nil {
		b.conv = FastConv
	}
	xShape := append([]int{n}, m.Input...)
	gr.xT = tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(xShape...))
	gr.x = G.NewTensor(gr.g, tensor.Float32, len(xShape), G.WithShape(xShape...), G.WithName("x"), G.WithValue(gr.xT))

	h := gr.x
	units := m.units[:len(m.units)-1] // the final sigmoid or softmax is left out: the graph stops at the logits
	for i := 0; i < len(units); i++ {
		u := units[i]
		var fused int
		var err error
		if h, fused, err = u.info.forward(b, u, h, units[i+1:]); err != nil {
			return nil, fmt.Errorf("model %s: building layer %s (%s): %w", m.Name, u.name, u.Layer, err)
		}
		i += fused
	}
	gr.logits = h
	if !train {
		gr.vm = G.NewTapeMachine(gr.g)
		return gr, nil
	}

	gr.yT = tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(n, 1))
	gr.y = G.NewMatrix(gr.g, tensor.Float32, G.WithShape(n, 1), G.WithName("y"), G.WithValue(gr.yT))
	var loss *G.Node
	var err error
	if m.Classes() == 2 {
		loss, err = bceWithLogits(h, gr.y, weights)
	} else {
		loss, err = G.ApplyOp(newCEOp(weights), h, gr.y)
	}
	if err != nil {
		return nil, fmt.Errorf("model %s: building the loss: %w", m.Name, err)
	}
	gr.loss = loss
	var wrt G.Nodes
	var at []int // gr.learn's index of each of wrt
	for _, p := range m.params {
		if !p.Trainable {
			continue
		}
		if nd, ok := b.nodes[p]; ok {
			at = append(at, len(gr.learn))
			gr.learn = append(gr.learn, p)
			wrt = append(wrt, nd)
		} else if b.cancelled[p] {
			gr.learn = append(gr.learn, p)
		}
	}
	grads, err := G.Grad(loss, wrt...)
	if err != nil {
		return nil, fmt.Errorf("model %s: differentiating: %w", m.Name, err)
	}
	gr.grads = make(G.Nodes, len(gr.learn))
	for i, g := range grads {
		gr.grads[at[i]] = g
	}
	for i, p := range gr.learn {
		if gr.grads[i] == nil { // a cancelled weight: a constant zero gradient
			z := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(p.Shape...))
			gr.grads[i] = G.NewTensor(gr.g, tensor.Float32, len(p.Shape), G.WithShape(p.Shape...), G.WithName(p.Name+".zerograd"), G.WithValue(z))
		}
	}
	gr.vm = G.NewTapeMachine(gr.g)
	return gr, nil
}

// graphBuilder is what a kind's forward (kindInfo.forward) builds its part of a graph with.
type graphBuilder struct {
	gr   *graph
	conv ConvFunc
	// nodes holds the graph's node of each weight, made on first use.
	nodes map[*Param]*G.Node
	// cancelled holds the weights left out of the graph because they cannot change its
	// output (convBN): their gradient is zero.
	cancelled map[*Param]bool
}

// param returns p's node in the graph, holding p's values (not a copy).
func (b *graphBuilder) param(p *Param) *G.Node {
	if nd, ok := b.nodes[p]; ok {
		return nd
	}
	t := tensor.New(tensor.WithShape(p.Shape...), tensor.WithBacking(p.Data))
	nd := G.NewTensor(b.gr.g, tensor.Float32, len(p.Shape), G.WithShape(p.Shape...), G.WithName(p.Name), G.WithValue(t))
	b.nodes[p] = nd
	return nd
}

// addBias adds a per-channel bias, then applies ReLU when relu is set (one fused op).
func (b *graphBuilder) addBias(h *G.Node, bias *Param, relu bool) (*G.Node, error) {
	if relu {
		return gops.BiasReLU(h, b.param(bias))
	}
	return gops.BiasAdd(h, b.param(bias))
}

// convBias convolves h with c's filters (padding pad), adds its bias, then applies ReLU
// when relu is set.
func (b *graphBuilder) convBias(h *G.Node, c convW, pad int, relu bool) (*G.Node, error) {
	y, err := b.conv(h, b.param(c.w), pad)
	if err != nil {
		return nil, err
	}
	return b.addBias(y, c.b, relu)
}

// convNoBias convolves h with c's filters, padding pad: a depthwise convolution when
// depthwise is set, else through the model's ConvFunc.
func (b *graphBuilder) convNoBias(h *G.Node, c convW, pad int, depthwise bool) (*G.Node, error) {
	if depthwise {
		return gops.DepthwiseConv2D(h, b.param(c.w), pad, 1)
	}
	return b.conv(h, b.param(c.w), pad)
}

// bn normalises h by the batch norm w (catdog's bnOp, named id); when training, its batch
// statistics are kept to update w's running ones after each step. What the op fuses is
// in f.
func (b *graphBuilder) bn(h *G.Node, w bnW, id string, f bnFuse) (*G.Node, error) {
	op := &bnOp{id: id, dims: h.Shape().Dims(), train: b.gr.train, relu: f.relu || f.add != nil, add: f.add != nil,
		mean: w.mean.Data, vari: w.vari.Data}
	if f.bias != nil {
		op.shift = f.bias.Data
	}
	if b.gr.train {
		op.stats = &bnStats{}
		b.gr.bns = append(b.gr.bns, bnTrack{w: w, stats: op.stats, shift: op.shift})
	}
	in := []*G.Node{h, b.param(w.gamma), b.param(w.beta)}
	if f.add != nil {
		in = append(in, f.add)
	}
	return G.ApplyOp(op, in...)
}

// bnFuse is what a batch norm op computes besides the normalisation.
type bnFuse struct {
	// bias is the bias of the convolution before the batch norm, left out of its input
	// (convBN).
	bias *Param
	// relu applies max(0, ·) to the result; add, when not nil, is added before it.
	relu bool
	add  *G.Node
}

// convBN convolves h with c's filters (padding pad) and normalises the result by the batch
// norm w (named id), fusing f's ReLU and residual input. The convolution's bias is not
// added: batch statistics cancel it exactly, so its gradient is zero (compile gives it a
// constant zero gradient, which leaves it unchanged), and the running mean, which counts it,
// is read less the bias. The export keeps the bias: the same function.
// A depthwise convolution (gops.DepthwiseConv2D) when depthwise is set.
func (b *graphBuilder) convBN(h *G.Node, c convW, pad int, depthwise bool, w bnW, id string, f bnFuse) (*G.Node, error) {
	y, err := b.convNoBias(h, c, pad, depthwise)
	if err != nil {
		return nil, err
	}
	f.bias = c.b
	b.cancelled[c.b] = true
	return b.bn(y, w, id, f)
}

// dropout multiplies h by a mask drawn before each training step (graph.fillMasks) that
// zeroes a value with probability p and scales the others by 1/(1-p).
func (b *graphBuilder) dropout(h *G.Node, p float64, name string) (*G.Node, error) {
	mk := mask{p: p, t: tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(h.Shape().Clone()...))}
	mk.node = G.NewTensor(b.gr.g, tensor.Float32, h.Shape().Dims(), G.WithShape(h.Shape().Clone()...), G.WithName(name), G.WithValue(mk.t))
	b.gr.masks = append(b.gr.masks, mk)
	return gops.MulMask(h, mk.node)
}

// fusesReLU reports whether the layers after a convolution or a dense layer start with a
// ReLU, which its bias op then applies (the same values: see gops).
func fusesReLU(next []*unit) bool { return len(next) > 0 && next[0].Kind == KindReLU }

// bceWithLogits is the mean binary cross-entropy of sigmoid(z) against y, computed from
// the logits z, each sample weighted by weights[its label] (nil: all 1). It is one op:
// Gorgonia v0.9.18's register reuse corrupts a node read by several elementwise ops, and
// the loss reads z four times when built from primitives; the categorical cross-entropy
// (ceOp) is one op for the same reason.
func bceWithLogits(z, y *G.Node, weights []float64) (*G.Node, error) {
	return G.ApplyOp(newBCEOp(weights), z, y)
}

// fillMasks draws fresh dropout masks: one Uint64 from draw per mask, the seed from which
// gops.FillMask fills it in parallel.
func (gr *graph) fillMasks(draw func() uint64) {
	for _, mk := range gr.masks {
		gops.FillMask(mk.t.Data().([]float32), mk.p, draw())
	}
}

// run evaluates the graph on x (n·sample values) and labels y (train only), returning the
// logits. When training, it leaves the gradients in gr.grads and updates the batch norms'
// running statistics.
func (gr *graph) run(x []float32, y []float32) ([]float32, error) {
	copy(gr.xT.Data().([]float32), x)
	if gr.train {
		copy(gr.yT.Data().([]float32), y)
	}
	gr.vm.Reset()
	if err := gr.vm.RunAll(); err != nil {
		return nil, fmt.Errorf("model %s: running the graph: %w", gr.m.Name, err)
	}
	_, z, err := float32s(gr.logits.Value(), "logits")
	if err != nil {
		return nil, err
	}
	if gr.train {
		for _, b := range gr.bns {
			updateRunning(b.w, b.stats, b.shift)
		}
	}
	return z, nil
}

// gradients points dst[i] at the gradient of gr.learn[i] that the last run left (valid
// until the next run).
func (gr *graph) gradients(dst [][]float32) error {
	for i, g := range gr.grads {
		_, d, err := float32s(g.Value(), "gradient")
		if err != nil {
			return err
		}
		dst[i] = d
	}
	return nil
}

// updateRunning folds one batch's statistics into the running ones; shift, when not nil,
// is the convolution bias left out of the batch (bnOp.shift), which the running mean counts.
func updateRunning(w bnW, s *bnStats, shift []float32) {
	unbias := 1.0
	if s.count > 1 {
		unbias = float64(s.count) / float64(s.count-1)
	}
	for k := range w.mean.Data {
		mean := s.mean[k]
		if shift != nil {
			mean += float64(shift[k])
		}
		w.mean.Data[k] = float32((1-BNMomentum)*float64(w.mean.Data[k]) + BNMomentum*mean)
		w.vari.Data[k] = float32((1-BNMomentum)*float64(w.vari.Data[k]) + BNMomentum*s.vari[k]*unbias)
	}
}

// close frees the graph's machine.
func (gr *graph) close() {
	if gr.vm != nil {
		gr.vm.Close()
	}
}

// sigmoid is 1/(1+e^-z).
func sigmoid(z float32) float32 { return float32(1 / (1 + math.Exp(-float64(z)))) }

// bceLoss is the binary cross-entropy of sigmoid(z) against y, computed from the logit.
func bceLoss(z, y float32) float64 {
	zf, yf := float64(z), float64(y)
	return math.Max(zf, 0) - zf*yf + math.Log1p(math.Exp(-math.Abs(zf)))
}
