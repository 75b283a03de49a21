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
	logits *G.Node // (n, 1)
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
}

// build compiles m for batches of n samples.
// gorgoniaBLAS makes Gorgonia's own float32 products (the dense layers' Mul) use gops's
// SGEMM kernel. Gorgonia's BLAS is process-wide state of its own, so it is set once.
var gorgoniaBLAS sync.Once

func (m *Model) build(n int, train bool) (*graph, error) {
	gorgoniaBLAS.Do(func() { G.Use(gops.Implementation{}) })
	gr := &graph{m: m, n: n, train: train, g: G.NewGraph()}
	g := gr.g
	conv := m.conv
	if conv == nil {
		conv = FastConv
	}
	nodes := map[*Param]*G.Node{}
	param := func(p *Param) *G.Node {
		if nd, ok := nodes[p]; ok {
			return nd
		}
		t := tensor.New(tensor.WithShape(p.Shape...), tensor.WithBacking(p.Data))
		nd := G.NewTensor(g, tensor.Float32, len(p.Shape), G.WithShape(p.Shape...), G.WithName(p.Name), G.WithValue(t))
		nodes[p] = nd
		return nd
	}
	xShape := append([]int{n}, m.Input...)
	gr.xT = tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(xShape...))
	gr.x = G.NewTensor(g, tensor.Float32, len(xShape), G.WithShape(xShape...), G.WithName("x"), G.WithValue(gr.xT))

	// addBias adds a per-channel bias, then applies ReLU when relu is set (one fused op).
	addBias := func(h *G.Node, b *Param, relu bool) (*G.Node, error) {
		if relu {
			return gops.BiasReLU(h, param(b))
		}
		return gops.BiasAdd(h, param(b))
	}
	convBias := func(h *G.Node, c convW, pad int, relu bool) (*G.Node, error) {
		y, err := conv(h, param(c.w), pad)
		if err != nil {
			return nil, err
		}
		return addBias(y, c.b, relu)
	}
	bn := func(h *G.Node, w bnW, id string) (*G.Node, error) {
		op := &bnOp{id: id, dims: h.Shape().Dims(), train: train, mean: w.mean.Data, vari: w.vari.Data}
		if train {
			op.stats = &bnStats{}
			gr.bns = append(gr.bns, bnTrack{w: w, stats: op.stats})
		}
		return G.ApplyOp(op, h, param(w.gamma), param(w.beta))
	}

	h := gr.x
	last := len(m.units) - 1
	for i := 0; i < last; i++ { // the final sigmoid is left out: the graph stops at the logit
		u := m.units[i]
		// A ReLU right after a convolution or a dense layer is fused into its bias op, and
		// conv, ReLU, 2x2 max-pool into conv then one bias+ReLU+pool op (the same values:
		// the bias is constant over a window and ReLU is monotone; see gops).
		relu := i+1 < last && m.units[i+1].Kind == KindReLU && (u.Kind == KindConv || u.Kind == KindDense)
		pool := relu && u.Kind == KindConv && i+2 < last && m.units[i+2].Kind == KindMaxPool && m.units[i+2].K == 2
		if relu {
			i++
		}
		if pool {
			i++
		}
		var err error
		switch {
		case pool:
			if h, err = conv(h, param(u.conv.w), u.Pad); err == nil {
				h, err = gops.BiasReLUMaxPool2x2(h, param(u.conv.b))
			}
		case u.Kind == KindConv:
			h, err = convBias(h, u.conv, u.Pad, relu)
		case u.Kind == KindReLU:
			h, err = G.Rectify(h)
		case u.Kind == KindReLU6:
			h, err = G.ApplyOp(relu6Op{dims: h.Shape().Dims()}, h)
		case u.Kind == KindSigmoid:
			h, err = G.Sigmoid(h)
		case u.Kind == KindMaxPool:
			if u.K == 2 {
				h, err = gops.MaxPool2x2(h)
			} else {
				h, err = G.MaxPool2D(h, tensor.Shape{u.K, u.K}, []int{0, 0}, []int{u.K, u.K})
			}
		case u.Kind == KindDropout:
			if !train || u.P == 0 {
				continue
			}
			mk := mask{p: u.P, t: tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(h.Shape().Clone()...))}
			mk.node = G.NewTensor(g, tensor.Float32, h.Shape().Dims(), G.WithShape(h.Shape().Clone()...), G.WithName(u.name+".mask"), G.WithValue(mk.t))
			gr.masks = append(gr.masks, mk)
			h, err = G.HadamardProd(h, mk.node)
		case u.Kind == KindBatchNorm:
			h, err = bn(h, u.bn, u.name)
		case u.Kind == KindFlatten:
			h, err = G.Reshape(h, tensor.Shape{n, prod(u.out)})
		case u.Kind == KindGlobalAvgPool:
			h, err = globalAvgPool(g, h, u.name)
		case u.Kind == KindDense:
			if h, err = G.Mul(h, param(u.conv.w)); err == nil {
				h, err = addBias(h, u.conv.b, relu)
			}
		case u.Kind == KindResidual:
			h, err = residual(h, u, convBias, bn)
		default:
			err = fmt.Errorf("unknown layer kind %q", u.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("model %s: building layer %s (%s): %w", m.Name, u.name, u.Layer, err)
		}
	}
	gr.logits = h
	if !train {
		gr.vm = G.NewTapeMachine(g)
		return gr, nil
	}

	gr.yT = tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(n, 1))
	gr.y = G.NewMatrix(g, tensor.Float32, G.WithShape(n, 1), G.WithName("y"), G.WithValue(gr.yT))
	loss, err := bceWithLogits(h, gr.y)
	if err != nil {
		return nil, fmt.Errorf("model %s: building the loss: %w", m.Name, err)
	}
	gr.loss = loss
	var wrt G.Nodes
	for _, p := range m.params {
		if nd, ok := nodes[p]; ok && p.Trainable {
			gr.learn = append(gr.learn, p)
			wrt = append(wrt, nd)
		}
	}
	if gr.grads, err = G.Grad(loss, wrt...); err != nil {
		return nil, fmt.Errorf("model %s: differentiating: %w", m.Name, err)
	}
	gr.vm = G.NewTapeMachine(g)
	return gr, nil
}

// residual builds relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).
func residual(x *G.Node, u *unit,
	convBias func(*G.Node, convW, int, bool) (*G.Node, error),
	bn func(*G.Node, bnW, string) (*G.Node, error)) (*G.Node, error) {
	h, err := convBias(x, u.conv, 1, false)
	if err != nil {
		return nil, err
	}
	if h, err = bn(h, u.bn, u.name+".bn1"); err != nil {
		return nil, err
	}
	if h, err = G.Rectify(h); err != nil {
		return nil, err
	}
	if h, err = convBias(h, u.conv2, 1, false); err != nil {
		return nil, err
	}
	if h, err = bn(h, u.bn2, u.name+".bn2"); err != nil {
		return nil, err
	}
	s := x
	if u.proj.w != nil {
		if s, err = convBias(x, u.proj, 0, false); err != nil {
			return nil, err
		}
	}
	if h, err = G.Add(h, s); err != nil {
		return nil, err
	}
	return G.Rectify(h)
}

// globalAvgPool averages (N, C, H, W) over H and W as one matrix product:
// (N·C, H·W) × (H·W, 1) of 1/(H·W).
func globalAvgPool(g *G.ExprGraph, x *G.Node, name string) (*G.Node, error) {
	s := x.Shape()
	n, c, hw := s[0], s[1], s[2]*s[3]
	flat, err := G.Reshape(x, tensor.Shape{n * c, hw})
	if err != nil {
		return nil, err
	}
	avg := make([]float32, hw)
	for i := range avg {
		avg[i] = 1 / float32(hw)
	}
	w := G.NewMatrix(g, tensor.Float32, G.WithShape(hw, 1), G.WithName(name+".avg"),
		G.WithValue(tensor.New(tensor.WithShape(hw, 1), tensor.WithBacking(avg))))
	y, err := G.Mul(flat, w)
	if err != nil {
		return nil, err
	}
	return G.Reshape(y, tensor.Shape{n, c})
}

// bceWithLogits is the mean binary cross-entropy of sigmoid(z) against y, computed from
// the logits z (one op: Gorgonia v0.9.18's register reuse corrupts a node read by several
// elementwise ops, and the loss reads z four times when built from primitives).
func bceWithLogits(z, y *G.Node) (*G.Node, error) {
	return G.ApplyOp(bceOp{}, z, y)
}

// fillMasks draws fresh dropout masks from draw (uniform in [0, 1)).
func (gr *graph) fillMasks(draw func() float64) {
	for _, mk := range gr.masks {
		d := mk.t.Data().([]float32)
		keep := float32(1 / (1 - mk.p))
		for i := range d {
			if draw() < mk.p {
				d[i] = 0
			} else {
				d[i] = keep
			}
		}
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
			updateRunning(b.w, b.stats)
		}
	}
	return z, nil
}

// updateRunning folds one batch's statistics into the running ones.
func updateRunning(w bnW, s *bnStats) {
	unbias := 1.0
	if s.count > 1 {
		unbias = float64(s.count) / float64(s.count-1)
	}
	for k := range w.mean.Data {
		w.mean.Data[k] = float32((1-BNMomentum)*float64(w.mean.Data[k]) + BNMomentum*s.mean[k])
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
