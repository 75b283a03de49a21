package finetune

import (
	"errors"
	"fmt"
	"image/color"
	"math/rand/v2"
	"strconv"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/catdog-ml/catdog/internal/gops"
	"github.com/catdog-ml/catdog/internal/plot"
	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/pb"
)

// kindInfo describes one layer kind: everything finetune asks about a kind is answered
// here, and nowhere else. Adding a kind is adding one entry to kinds (and to the PyTorch
// mirror, bench/parity/torch_ref.py's LAYERS).
type kindInfo struct {
	kind Kind
	// names are the names ParseLayers reads for the kind, the kind itself first; syntax
	// is its item as the unknown-layer error lists it.
	names  []string
	syntax string
	// parse reads an item whose name is one of names and whose arguments (after the name,
	// split at ':') are args; nil means the kind takes no arguments.
	parse func(item, name string, args []string) ([]Layer, error)
	// format writes the layer as a spec item ParseLayers reads back; nil means the kind's
	// name alone.
	format func(l Layer) string

	// weights counts the values of the layer's parameters on a sample of shape in (checked
	// against MaxParams before anything is allocated); nil means none.
	weights func(l Layer, in []int) int64
	// output returns the layer's output shape for a sample of shape in, or why it cannot
	// take that input (NewModel prefixes the model and the layer); nil means the input's.
	output func(l Layer, in []int) ([]int, error)
	// init makes the unit's parameters (Model.newConv, newDense, newBN), drawing their
	// initial values from rng; the order of the calls is the order of the draws and of
	// Model.Params, which checkpoints and the PyTorch mirror follow. nil means none.
	init func(m *Model, u *unit, rng *rand.Rand)

	// forward adds the layer to a Gorgonia graph, for training or inference (b.gr.train).
	forward forwardFunc
	// export writes the layer's inference math as ONNX nodes on x and returns their output.
	export func(e *exporter, u *unit, x string) string
	// onnx reads ONNX nodes as layers of the kind (BlockFrom); its zero value reads none.
	onnx onnxReader

	// color fills the kind's boxes in the network picture (plot.Network, through
	// KindColor), whose legend names them by the kind.
	color color.RGBA
}

// forwardFunc adds layer u to a graph on h, where next are the layers after it (up to the
// final sigmoid, which the graph leaves out). It returns the output and how many of next
// it computed too, fused into its own op.
type forwardFunc func(b *graphBuilder, u *unit, h *G.Node, next []*unit) (*G.Node, int, error)

// alone makes the forwardFunc of a layer that fuses nothing.
func alone(f func(b *graphBuilder, u *unit, h *G.Node) (*G.Node, error)) forwardFunc {
	return func(b *graphBuilder, u *unit, h *G.Node, _ []*unit) (*G.Node, int, error) {
		y, err := f(b, u, h)
		return y, 0, err
	}
}

// kinds holds every layer kind, in the order of docs/training.md's table.
var kinds = [...]kindInfo{
	{
		kind: KindConv, names: []string{"conv"}, syntax: "conv:N[:K[:PAD]]",
		color: plot.PaletteColor(0),
		parse: parseConv,
		format: func(l Layer) string {
			return fmt.Sprintf("conv:%d:%d:%d", l.N, l.K, l.Pad)
		},
		weights: func(l Layer, in []int) int64 {
			return int64(l.N) * (int64(in[0])*int64(l.K)*int64(l.K) + 1)
		},
		output: func(l Layer, in []int) ([]int, error) { return windowOutput(in, l.N, l.K, l.Pad) },
		init: func(m *Model, u *unit, rng *rand.Rand) {
			u.conv = m.newConv(u.name, rng, u.N, u.in[0], u.K)
		},
		forward: convForward,
		export:  func(e *exporter, u *unit, x string) string { return e.conv(x, u.conv, u.Pad) },
		onnx:    onnxReader{ops: []string{"Conv"}, inputs: 2, read: readConv},
	},
	{
		kind: KindDepthwise, names: []string{"dwconv", "depthwise"}, syntax: "dwconv[:K[:PAD]]",
		color: plot.PaletteColor(0),
		parse: parseDepthwise,
		format: func(l Layer) string {
			return fmt.Sprintf("dwconv:%d:%d", l.K, l.Pad)
		},
		weights: func(l Layer, in []int) int64 {
			return int64(in[0]) * (int64(l.K)*int64(l.K) + 1)
		},
		output: func(l Layer, in []int) ([]int, error) {
			if err := needMaps(in); err != nil {
				return nil, err
			}
			return windowOutput(in, in[0], l.K, l.Pad)
		},
		init: func(m *Model, u *unit, rng *rand.Rand) {
			u.conv = m.newDepthwise(u.name, rng, u.in[0], u.K)
		},
		forward: convForward,
		export: func(e *exporter, u *unit, x string) string {
			p := int64(u.Pad)
			return e.b.Conv(x, e.init(u.conv.w), e.init(u.conv.b), onnx.ConvOpts{Pads: [4]int64{p, p, p, p}, Group: int64(u.in[0])})
		},
	},
	{
		kind: KindReLU, names: []string{"relu"}, syntax: "relu",
		color:   plot.PaletteColor(2),
		forward: alone(func(_ *graphBuilder, _ *unit, h *G.Node) (*G.Node, error) { return gops.ReLU(h) }),
		export:  func(e *exporter, _ *unit, x string) string { return e.b.Relu(x) },
		onnx: onnxReader{ops: []string{"Relu"}, read: func(r *blockReader, n *pb.NodeProto) (string, error) {
			r.add(ReLU(), nil)
			return n.Output[0], nil
		}},
	},
	{
		kind: KindReLU6, names: []string{"relu6"}, syntax: "relu6",
		color: plot.PaletteColor(2),
		forward: alone(func(_ *graphBuilder, _ *unit, h *G.Node) (*G.Node, error) {
			return G.ApplyOp(relu6Op{dims: h.Shape().Dims()}, h)
		}),
		export: func(e *exporter, _ *unit, x string) string { return e.relu6(x) },
		onnx:   onnxReader{ops: []string{"Clip"}, read: readClip},
	},
	{
		kind: KindMaxPool, names: []string{"maxpool", "pool"}, syntax: "maxpool[:K]",
		color: plot.PaletteColor(1),
		parse: func(item, name string, args []string) ([]Layer, error) {
			v, err := specInts(item, name, args, 0, 1)
			if err != nil {
				return nil, err
			}
			l := MaxPool(2)
			if len(v) == 1 {
				l.K = v[0]
			}
			if l.K < 1 {
				return nil, fmt.Errorf("layer %q: pool window must be at least 1", item)
			}
			return []Layer{l}, nil
		},
		format: func(l Layer) string { return fmt.Sprintf("maxpool:%d", l.K) },
		output: func(l Layer, in []int) ([]int, error) {
			if err := needMaps(in); err != nil {
				return nil, err
			}
			if in[1] < l.K || in[2] < l.K {
				return nil, fmt.Errorf("does not fit a %dx%d input", in[1], in[2])
			}
			return []int{in[0], in[1] / l.K, in[2] / l.K}, nil
		},
		forward: alone(func(_ *graphBuilder, u *unit, h *G.Node) (*G.Node, error) {
			if u.K == 2 {
				return gops.MaxPool2x2(h)
			}
			return G.MaxPool2D(h, tensor.Shape{u.K, u.K}, []int{0, 0}, []int{u.K, u.K})
		}),
		export: func(e *exporter, u *unit, x string) string { return e.b.MaxPool(x, int64(u.K), int64(u.K)) },
	},
	{
		kind: KindDropout, names: []string{"dropout"}, syntax: "dropout:P",
		color: plot.PaletteColor(7),
		parse: func(item, _ string, args []string) ([]Layer, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("layer %q: want dropout:P", item)
			}
			p, err := strconv.ParseFloat(args[0], 64)
			if err != nil || p < 0 || p >= 1 {
				return nil, fmt.Errorf("layer %q: dropout probability must be in [0, 1)", item)
			}
			return []Layer{Dropout(p)}, nil
		},
		format: func(l Layer) string { return "dropout:" + strconv.FormatFloat(l.P, 'g', -1, 64) },
		forward: alone(func(b *graphBuilder, u *unit, h *G.Node) (*G.Node, error) {
			if !b.gr.train || u.P == 0 {
				return h, nil
			}
			return b.dropout(h, u.P, u.name+".mask")
		}),
		export: func(e *exporter, _ *unit, x string) string { return e.b.Dropout(x) },
		onnx:   onnxReader{ops: []string{"Identity", "Dropout"}, read: readIdentity},
	},
	{
		kind: KindBatchNorm, names: []string{"batchnorm", "bn"}, syntax: "batchnorm",
		color:   plot.PaletteColor(4),
		weights: func(_ Layer, in []int) int64 { return 4 * int64(in[0]) },
		init: func(m *Model, u *unit, _ *rand.Rand) {
			u.bn = m.newBN(u.name, u.in[0])
		},
		forward: func(b *graphBuilder, u *unit, h *G.Node, next []*unit) (*G.Node, int, error) {
			relu := fusesReLU(next)
			y, err := b.bn(h, u.bn, u.name, bnFuse{relu: relu})
			if relu {
				return y, 1, err
			}
			return y, 0, err
		},
		export: func(e *exporter, u *unit, x string) string { return e.bn(x, u.bn) },
	},
	{
		kind: KindFlatten, names: []string{"flatten"}, syntax: "flatten",
		color:  plot.PaletteColor(5),
		output: func(_ Layer, in []int) ([]int, error) { return []int{prod(in)}, nil },
		forward: alone(func(b *graphBuilder, u *unit, h *G.Node) (*G.Node, error) {
			return G.Reshape(h, tensor.Shape{b.gr.n, prod(u.out)})
		}),
		export: func(e *exporter, _ *unit, x string) string { return e.b.Flatten(x, 1) },
		onnx:   onnxReader{ops: []string{"Flatten"}, read: readFlatten},
	},
	{
		kind: KindGlobalAvgPool, names: []string{"gap", "globalavgpool"}, syntax: "gap",
		color: color.RGBA{R: 0xa8, G: 0x55, B: 0x1c, A: 0xff},
		output: func(_ Layer, in []int) ([]int, error) {
			if err := needMaps(in); err != nil {
				return nil, err
			}
			return []int{in[0]}, nil
		},
		forward: alone(func(b *graphBuilder, u *unit, h *G.Node) (*G.Node, error) {
			return globalAvgPool(b.gr.g, h, u.name)
		}),
		export: func(e *exporter, _ *unit, x string) string { return e.b.Flatten(e.b.GlobalAveragePool(x), 1) },
		onnx:   onnxReader{ops: []string{"GlobalAveragePool"}, read: readGAP},
	},
	{
		kind: KindDense, names: []string{"dense"}, syntax: "dense:N[:relu|:sigmoid|:softmax]",
		color:  plot.PaletteColor(3),
		parse:  parseDense,
		format: func(l Layer) string { return fmt.Sprintf("dense:%d", l.N) },
		weights: func(l Layer, in []int) int64 {
			return int64(l.N) * (int64(in[0]) + 1)
		},
		output: func(l Layer, in []int) ([]int, error) {
			if len(in) != 1 {
				return nil, fmt.Errorf("needs a vector input, got %v: add flatten or gap before it", in)
			}
			return []int{l.N}, nil
		},
		init: func(m *Model, u *unit, rng *rand.Rand) {
			u.conv = m.newDense(u.name, rng, u.in[0], u.N)
		},
		forward: denseForward,
		export: func(e *exporter, u *unit, x string) string {
			return e.b.Gemm(x, e.init(u.conv.w), e.init(u.conv.b), false)
		},
		onnx: onnxReader{ops: []string{"Gemm"}, inputs: 2, read: readGemm},
	},
	{
		kind: KindSigmoid, names: []string{"sigmoid"}, syntax: "sigmoid",
		color:   plot.PaletteColor(6),
		forward: alone(func(_ *graphBuilder, _ *unit, h *G.Node) (*G.Node, error) { return G.Sigmoid(h) }),
		export:  func(e *exporter, _ *unit, x string) string { return e.b.Sigmoid(x) },
	},
	{
		// softmax is only the last layer (NewModel refuses it elsewhere), which the graphs
		// leave out: training takes the loss from the logits, inference applies it on them
		// (probabilities).
		kind: KindSoftmax, names: []string{"softmax"}, syntax: "softmax",
		color: plot.PaletteColor(8),
		forward: alone(func(_ *graphBuilder, _ *unit, _ *G.Node) (*G.Node, error) {
			return nil, errors.New("softmax is only the last layer")
		}),
		export: func(e *exporter, _ *unit, x string) string {
			return e.b.Node("Softmax", []string{x}, map[string]any{"axis": int64(-1)})
		},
	},
	{
		kind: KindResidual, names: []string{"residual", "res"}, syntax: "residual:N",
		color: plot.PaletteColor(9),
		parse: func(item, name string, args []string) ([]Layer, error) {
			v, err := specInts(item, name, args, 1, 1)
			if err != nil {
				return nil, err
			}
			if v[0] < 1 {
				return nil, fmt.Errorf("layer %q: residual needs at least 1 channel", item)
			}
			return []Layer{Residual(v[0])}, nil
		},
		format: func(l Layer) string { return fmt.Sprintf("residual:%d", l.N) },
		weights: func(l Layer, in []int) int64 {
			c, n := int64(in[0]), int64(l.N)
			p := n*(c*9+1) + n*(n*9+1) + 8*n
			if c != n {
				p += n * (c + 1)
			}
			return p
		},
		output: func(l Layer, in []int) ([]int, error) {
			if err := needMaps(in); err != nil {
				return nil, err
			}
			return []int{l.N, in[1], in[2]}, nil
		},
		init: func(m *Model, u *unit, rng *rand.Rand) {
			c := u.in[0]
			u.conv = m.newConv(u.name+".conv1", rng, u.N, c, 3)
			u.bn = m.newBN(u.name+".bn1", u.N)
			u.conv2 = m.newConv(u.name+".conv2", rng, u.N, u.N, 3)
			u.bn2 = m.newBN(u.name+".bn2", u.N)
			if c != u.N {
				u.proj = m.newConv(u.name+".proj", rng, u.N, c, 1)
			}
		},
		forward: alone(residualForward),
		export:  residualExport,
	},
}

// KindColor returns the colour the network picture gives layers of kind k, or nil for a
// kind finetune does not know (such as a transfer model's "backbone" row).
func KindColor(k Kind) color.Color {
	if info := kindOf(k); info != nil {
		return info.color
	}
	return nil
}

// kindOf returns the description of kind k, or nil for a kind finetune does not know.
func kindOf(k Kind) *kindInfo {
	for i := range kinds {
		if kinds[i].kind == k {
			return &kinds[i]
		}
	}
	return nil
}

// kindNamed returns the kind ParseLayers reads for name (lower case), or nil.
func kindNamed(name string) *kindInfo {
	for i := range kinds {
		for _, n := range kinds[i].names {
			if n == name {
				return &kinds[i]
			}
		}
	}
	return nil
}

// kindSyntax lists every kind's item, as the unknown-layer error shows them.
func kindSyntax() string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = k.syntax
	}
	return strings.Join(s, ", ")
}

// windowOutput is the output shape (c, OH, OW) of a k×k window moved one pixel at a time
// over the (C, H, W) input in, padded pad pixels on every side.
func windowOutput(in []int, c, k, pad int) ([]int, error) {
	if err := needMaps(in); err != nil {
		return nil, err
	}
	oh, ow := in[1]+2*pad-k+1, in[2]+2*pad-k+1
	if oh < 1 || ow < 1 {
		return nil, fmt.Errorf("does not fit a %dx%d input", in[1], in[2])
	}
	return []int{c, oh, ow}, nil
}

// needMaps refuses an input that is not (C, H, W).
func needMaps(in []int) error {
	if len(in) != 3 {
		return fmt.Errorf("needs (C, H, W) input, got %v", in)
	}
	return nil
}

// specInts reads the arguments of item (named name) as min to max non-negative whole
// numbers.
func specInts(item, name string, args []string, min, max int) ([]int, error) {
	if len(args) < min || len(args) > max {
		return nil, fmt.Errorf("layer %q: want %d to %d numbers after %q", item, min, max, name)
	}
	v := make([]int, len(args))
	for i, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("layer %q: %q is not a non-negative whole number", item, a)
		}
		v[i] = n
	}
	return v, nil
}

// parseDepthwise reads dwconv[:K[:PAD]]: a K×K filter per channel (default 3), padding PAD
// (default K/2).
func parseDepthwise(item, name string, args []string) ([]Layer, error) {
	v, err := specInts(item, name, args, 0, 2)
	if err != nil {
		return nil, err
	}
	l := DepthwiseConv(3, 1)
	if len(v) > 0 {
		l.K, l.Pad = v[0], v[0]/2
	}
	if len(v) > 1 {
		l.Pad = v[1]
	}
	if l.K < 1 {
		return nil, fmt.Errorf("layer %q: a kernel of at least 1", item)
	}
	return []Layer{l}, nil
}

// parseConv reads conv:N[:K[:PAD]]: N filters of K×K (default 3), padding PAD (default K/2).
func parseConv(item, name string, args []string) ([]Layer, error) {
	v, err := specInts(item, name, args, 1, 3)
	if err != nil {
		return nil, err
	}
	l := Conv(v[0], 3, 1)
	if len(v) > 1 {
		l.K, l.Pad = v[1], v[1]/2
	}
	if len(v) > 2 {
		l.Pad = v[2]
	}
	if l.N < 1 || l.K < 1 {
		return nil, fmt.Errorf("layer %q: conv needs at least 1 filter of side at least 1", item)
	}
	return []Layer{l}, nil
}

// convForward adds a convolution and its bias. A ReLU right after it is fused into its
// bias op, and a ReLU then a 2x2 max-pool into one bias+ReLU+pool op (the same values: the
// bias is constant over a window and ReLU is monotone; see gops).
func convForward(b *graphBuilder, u *unit, h *G.Node, next []*unit) (*G.Node, int, error) {
	if len(next) > 0 && next[0].Kind == KindBatchNorm {
		relu := fusesReLU(next[1:])
		y, err := b.convBN(h, u.conv, u.Pad, u.Kind == KindDepthwise, next[0].bn, next[0].name, bnFuse{relu: relu})
		if relu {
			return y, 2, err
		}
		return y, 1, err
	}
	if u.Kind == KindDepthwise {
		y, err := b.convNoBias(h, u.conv, u.Pad, true)
		if err != nil {
			return nil, 0, err
		}
		relu := fusesReLU(next)
		if y, err = b.addBias(y, u.conv.b, relu); relu {
			return y, 1, err
		}
		return y, 0, err
	}
	if !fusesReLU(next) {
		y, err := b.convBias(h, u.conv, u.Pad, false)
		return y, 0, err
	}
	if len(next) > 1 && next[1].Kind == KindMaxPool && next[1].K == 2 {
		y, err := b.conv(h, b.param(u.conv.w), u.Pad)
		if err != nil {
			return nil, 0, err
		}
		y, err = gops.BiasReLUMaxPool2x2(y, b.param(u.conv.b))
		return y, 2, err
	}
	y, err := b.convBias(h, u.conv, u.Pad, true)
	return y, 1, err
}

// denseForward adds a matrix product and a bias, with a ReLU right after it fused into the
// bias op.
func denseForward(b *graphBuilder, u *unit, h *G.Node, next []*unit) (*G.Node, int, error) {
	relu := fusesReLU(next)
	y, err := G.Mul(h, b.param(u.conv.w))
	if err != nil {
		return nil, 0, err
	}
	y, err = b.addBias(y, u.conv.b, relu)
	if relu {
		return y, 1, err
	}
	return y, 0, err
}

// residualForward builds relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)): two
// convolutions, each with its batch norm, ReLU and (the second) the shortcut fused into
// the batch norm's op (graphBuilder.convBN).
func residualForward(b *graphBuilder, u *unit, x *G.Node) (*G.Node, error) {
	h, err := b.convBN(x, u.conv, 1, false, u.bn, u.name+".bn1", bnFuse{relu: true})
	if err != nil {
		return nil, err
	}
	s := x
	if u.proj.w != nil {
		if s, err = b.convBias(x, u.proj, 0, false); err != nil {
			return nil, err
		}
	}
	return b.convBN(h, u.conv2, 1, false, u.bn2, u.name+".bn2", bnFuse{add: s})
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

// residualExport writes a residual block as the nodes it is made of, and an Add.
func residualExport(e *exporter, u *unit, x string) string {
	h := e.b.Relu(e.bn(e.conv(x, u.conv, 1), u.bn))
	h = e.bn(e.conv(h, u.conv2, 1), u.bn2)
	s := x
	if u.proj.w != nil {
		s = e.conv(x, u.proj, 0)
	}
	return e.b.Relu(e.b.Add(h, s))
}

// parseDense reads dense:N[:relu|:sigmoid|:softmax]: N units, then the activation when one is named.
func parseDense(item, name string, args []string) ([]Layer, error) {
	var act string
	if len(args) == 2 {
		act, args = strings.ToLower(args[1]), args[:1]
	}
	v, err := specInts(item, name, args, 1, 1)
	if err != nil {
		return nil, err
	}
	if v[0] < 1 {
		return nil, fmt.Errorf("layer %q: dense needs at least 1 unit", item)
	}
	switch act {
	case "":
		return []Layer{Dense(v[0])}, nil
	case "relu":
		return []Layer{Dense(v[0]), ReLU()}, nil
	case "sigmoid":
		return []Layer{Dense(v[0]), Sigmoid()}, nil
	case "softmax":
		return []Layer{Dense(v[0]), Softmax()}, nil
	}
	return nil, fmt.Errorf("layer %q: unknown activation %q (want relu, sigmoid or softmax)", item, act)
}
