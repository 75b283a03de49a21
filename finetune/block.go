package finetune

import (
	"errors"
	"fmt"
	"math"

	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/pb"
)

// Block is the top of a pretrained network, read back as layers to train further (fine
// tuning): the layers and their initial weights.
type Block struct {
	Layers []Layer
	// Weights holds the weights by parameter name (Config.Weights), for a model whose
	// first layers are Layers.
	Weights map[string][]float32
}

// BlockFrom reads the nodes of m that turn tensor from into tensor to, a chain, as layers
// with their weights: Conv (one group, or one per channel: depthwise; stride 1, square
// kernel, the same padding on every side), with a BatchNormalization after it folded into
// its weights and bias (its
// statistics stay frozen, as when fine-tuning in Keras with the batch norms in inference
// mode), Relu, Clip between 0 and 6 (ReLU6), GlobalAveragePool (and the Flatten after it),
// Flatten and Gemm.
func BlockFrom(m *onnx.Model, from, to string) (Block, error) {
	fail := func(err error) (Block, error) {
		return Block{}, fmt.Errorf("finetune: block from %s to %s: %w", from, to, err)
	}
	r := &blockReader{m: m, to: to, consumers: map[string][]*pb.NodeProto{}, count: map[Kind]int{},
		block: Block{Weights: map[string][]float32{}}}
	for _, n := range m.Graph().GetNode() {
		for _, in := range n.Input {
			r.consumers[in] = append(r.consumers[in], n)
		}
	}
	x := from
	for x != to {
		next := r.consumers[x]
		if len(next) != 1 {
			return fail(fmt.Errorf("tensor %s feeds %d nodes; want a chain", x, len(next)))
		}
		n := next[0]
		if len(n.Output) < 1 || n.Input[0] != x {
			return fail(fmt.Errorf("node %s (%s) does not take %s as its data", n.GetName(), n.GetOpType(), x))
		}
		rd := readerOf(n.GetOpType())
		if rd == nil {
			return fail(fmt.Errorf("node %s: %s is not a layer finetune trains", n.GetName(), n.GetOpType()))
		}
		if len(n.Input) < rd.inputs {
			return fail(fmt.Errorf("node %s (%s) has %d inputs, want at least %d", n.GetName(), n.GetOpType(), len(n.Input), rd.inputs))
		}
		out, err := rd.read(r, n)
		if err != nil {
			return fail(err)
		}
		x = out
	}
	if len(r.block.Layers) == 0 {
		return fail(errors.New("no layers"))
	}
	return r.block, nil
}

// onnxReader reads ONNX nodes as layers of one kind (kindInfo.onnx), for BlockFrom.
type onnxReader struct {
	// ops are the node types it reads; inputs is the fewest inputs such a node has.
	ops    []string
	inputs int
	// read adds the layers node n stands for (none for an identity) to r, and returns the
	// tensor they end at: n's output, or that of a node after it read with it.
	read func(r *blockReader, n *pb.NodeProto) (string, error)
}

// readerOf returns the reader of ONNX nodes of type op, or nil when no kind reads them.
func readerOf(op string) *onnxReader {
	for i := range kinds {
		for _, o := range kinds[i].onnx.ops {
			if o == op {
				return &kinds[i].onnx
			}
		}
	}
	return nil
}

// blockReader is BlockFrom's state along the chain of nodes it reads.
type blockReader struct {
	m         *onnx.Model
	to        string
	consumers map[string][]*pb.NodeProto // the nodes reading each tensor
	block     Block
	count     map[Kind]int // layers of each kind so far, for their names
	vector    bool         // the data is (N, D), not (N, C, H, W)
}

// init returns a copy of the float32 initializer called name and its shape.
func (r *blockReader) init(name string) ([]float32, []int64, bool) {
	t := r.m.Initializer(name)
	if t == nil {
		return nil, nil, false
	}
	v, err := onnx.Float32s(t)
	if err != nil {
		return nil, nil, false
	}
	return append([]float32(nil), v...), t.GetDims(), true
}

// add appends layer l with its weights, named as NewModel will name them.
func (r *blockReader) add(l Layer, params map[string][]float32) {
	name := unitName(r.count, l.Kind)
	for k, v := range params {
		r.block.Weights[name+"."+k] = v
	}
	r.block.Layers = append(r.block.Layers, l)
}

// after returns the one node that reads tensor out when it is of type op and out is not
// the end of the block, or nil.
func (r *blockReader) after(out, op string) *pb.NodeProto {
	if c := r.consumers[out]; len(c) == 1 && c[0].GetOpType() == op && out != r.to {
		return c[0]
	}
	return nil
}

// readConv reads a Conv node, with a BatchNormalization right after it folded into its
// weights and bias.
func readConv(r *blockReader, n *pb.NodeProto) (string, error) {
	l, params, err := convLayer(n, r.init)
	if err != nil {
		return "", err
	}
	out := n.Output[0]
	if c := r.after(out, "BatchNormalization"); c != nil && len(c.Input) == 5 {
		if err := foldBN(c, params, r.init); err != nil {
			return "", err
		}
		out = c.Output[0]
	}
	r.add(l, params)
	return out, nil
}

// readIdentity reads an Identity or Dropout node (the identity at inference) as no layer.
func readIdentity(_ *blockReader, n *pb.NodeProto) (string, error) {
	if len(n.Output) > 1 && n.Output[1] != "" {
		return "", fmt.Errorf("node %s (%s) has a mask output", n.GetName(), n.GetOpType())
	}
	return n.Output[0], nil
}

// readClip reads Clip between 0 and 6 as ReLU6, and between 0 and +Inf as ReLU.
func readClip(r *blockReader, n *pb.NodeProto) (string, error) {
	switch lo, hi := clipBounds(n, r.init); {
	case lo == 0 && hi == 6:
		r.add(ReLU6(), nil)
	case lo == 0 && math.IsInf(hi, 1):
		r.add(ReLU(), nil)
	default:
		return "", fmt.Errorf("%s between %g and %g is not a ReLU", n.GetOpType(), lo, hi)
	}
	return n.Output[0], nil
}

// readGAP reads GlobalAveragePool, and the Flatten after it, as one gap layer.
func readGAP(r *blockReader, n *pb.NodeProto) (string, error) {
	r.add(GlobalAvgPool(), nil)
	r.vector = true
	out := n.Output[0]
	if c := r.after(out, "Flatten"); c != nil {
		out = c.Output[0]
	}
	return out, nil
}

// readFlatten reads Flatten on axis 1: a flatten layer, or nothing on vectors.
func readFlatten(r *blockReader, n *pb.NodeProto) (string, error) {
	if a, ok := attrOK(n, "axis"); ok && a != 1 {
		return "", fmt.Errorf("Flatten %s on axis %d: only axis 1 is a layer", n.GetName(), a)
	}
	if !r.vector {
		r.add(Flatten(), nil)
		r.vector = true
	}
	return n.Output[0], nil
}

// readGemm reads Gemm with weights (in, out) or, transposed, (out, in) and an optional
// bias as a dense layer.
func readGemm(r *blockReader, n *pb.NodeProto) (string, error) {
	w, dims, ok := r.init(n.Input[1])
	if !ok || len(dims) != 2 || attr(n, "transA") != 0 {
		return "", fmt.Errorf("%s %s: want weights (in, out) as an initializer", n.GetOpType(), n.GetName())
	}
	for _, a := range []string{"alpha", "beta"} {
		if v, ok := attrF(n, a); ok && v != 1 {
			return "", fmt.Errorf("%s %s: %s %g: only 1 is a dense layer", n.GetOpType(), n.GetName(), a, v)
		}
	}
	if attr(n, "transB") != 0 {
		w = transpose(w, int(dims[0]), int(dims[1]))
		dims = []int64{dims[1], dims[0]}
	}
	bias := make([]float32, dims[1])
	if len(n.Input) > 2 && n.Input[2] != "" {
		v, _, ok := r.init(n.Input[2])
		if !ok || len(v) != len(bias) {
			return "", fmt.Errorf("%s %s: bias is not a (out) initializer", n.GetOpType(), n.GetName())
		}
		bias = v
	}
	r.add(Dense(int(dims[1])), map[string][]float32{"weight": w, "bias": bias})
	return n.Output[0], nil
}

// convLayer reads a Conv node as a Conv layer and its weight and bias.
func convLayer(n *pb.NodeProto, init func(string) ([]float32, []int64, bool)) (Layer, map[string][]float32, error) {
	w, dims, ok := init(n.Input[1])
	if !ok || len(dims) != 4 || dims[2] != dims[3] {
		return Layer{}, nil, fmt.Errorf("Conv %s: want square weights (out, in, k, k) as an initializer", n.GetName())
	}
	depthwise := false
	if g := attr(n, "group"); g > 1 {
		if g != dims[0] || dims[1] != 1 {
			return Layer{}, nil, fmt.Errorf("Conv %s: group %d with weights %v: only depthwise groups (one per channel) are supported", n.GetName(), g, dims)
		}
		depthwise = true
	}
	for _, a := range []string{"strides", "dilations"} {
		for _, v := range ints(n, a) {
			if v != 1 {
				return Layer{}, nil, fmt.Errorf("Conv %s: %s %v: only 1 is supported", n.GetName(), a, ints(n, a))
			}
		}
	}
	k := int(dims[2])
	pad := 0
	switch p := ints(n, "pads"); {
	case len(p) == 4 && p[0] == p[1] && p[1] == p[2] && p[2] == p[3]:
		pad = int(p[0])
	case len(p) == 0 && (attrS(n, "auto_pad") == "" || attrS(n, "auto_pad") == "NOTSET" || attrS(n, "auto_pad") == "VALID"):
	case len(p) == 0 && k%2 == 1 && (attrS(n, "auto_pad") == "SAME_UPPER" || attrS(n, "auto_pad") == "SAME_LOWER"):
		pad = k / 2
	default:
		return Layer{}, nil, fmt.Errorf("Conv %s: padding %v %s: want the same on every side", n.GetName(), p, attrS(n, "auto_pad"))
	}
	bias := make([]float32, dims[0])
	if len(n.Input) > 2 && n.Input[2] != "" {
		v, _, ok := init(n.Input[2])
		if !ok || len(v) != len(bias) {
			return Layer{}, nil, fmt.Errorf("Conv %s: bias is not an (out) initializer", n.GetName())
		}
		bias = v
	}
	l := Conv(int(dims[0]), k, pad)
	if depthwise {
		l = DepthwiseConv(k, pad)
	}
	return l, map[string][]float32{"weight": w, "bias": bias}, nil
}

// foldBN folds an inference batch norm into the preceding convolution's weight and bias:
// s = gamma/sqrt(var+eps), w' = w·s, b' = (b - mean)·s + beta, per output channel.
func foldBN(n *pb.NodeProto, params map[string][]float32, init func(string) ([]float32, []int64, bool)) error {
	var vs [4][]float32
	for i := range vs {
		v, _, ok := init(n.Input[i+1])
		if !ok {
			return fmt.Errorf("BatchNormalization %s: input %d is not an initializer", n.GetName(), i+1)
		}
		vs[i] = v
	}
	gamma, beta, mean, vari := vs[0], vs[1], vs[2], vs[3]
	eps := 1e-5
	for _, a := range n.Attribute {
		if a.GetName() == "epsilon" {
			eps = float64(a.GetF())
		}
	}
	w, b := params["weight"], params["bias"]
	c := len(b)
	if len(gamma) != c || len(beta) != c || len(mean) != c || len(vari) != c {
		return fmt.Errorf("BatchNormalization %s: %d channels after a convolution of %d", n.GetName(), len(gamma), c)
	}
	per := len(w) / c
	for k := range c {
		s := float64(gamma[k]) / math.Sqrt(float64(vari[k])+eps)
		for i := k * per; i < (k+1)*per; i++ {
			w[i] = float32(float64(w[i]) * s)
		}
		b[k] = float32((float64(b[k])-float64(mean[k]))*s + float64(beta[k]))
	}
	return nil
}

// clipBounds returns a Clip node's bounds (-Inf, +Inf when absent).
func clipBounds(n *pb.NodeProto, init func(string) ([]float32, []int64, bool)) (lo, hi float64) {
	lo, hi = math.Inf(-1), math.Inf(1)
	for i, p := range []*float64{&lo, &hi} {
		if len(n.Input) > i+1 && n.Input[i+1] != "" {
			if v, _, ok := init(n.Input[i+1]); ok && len(v) == 1 {
				*p = float64(v[0])
			}
		}
	}
	for _, a := range n.Attribute { // before opset 11
		switch a.GetName() {
		case "min":
			lo = float64(a.GetF())
		case "max":
			hi = float64(a.GetF())
		}
	}
	return lo, hi
}

func attr(n *pb.NodeProto, name string) int64 {
	v, _ := attrOK(n, name)
	return v
}

func attrOK(n *pb.NodeProto, name string) (int64, bool) {
	for _, a := range n.Attribute {
		if a.GetName() == name {
			return a.GetI(), true
		}
	}
	return 0, false
}

func attrF(n *pb.NodeProto, name string) (float32, bool) {
	for _, a := range n.Attribute {
		if a.GetName() == name {
			return a.GetF(), true
		}
	}
	return 0, false
}

func attrS(n *pb.NodeProto, name string) string {
	for _, a := range n.Attribute {
		if a.GetName() == name {
			return string(a.GetS())
		}
	}
	return ""
}

func ints(n *pb.NodeProto, name string) []int64 {
	for _, a := range n.Attribute {
		if a.GetName() == name {
			return a.Ints
		}
	}
	return nil
}

func transpose(w []float32, rows, cols int) []float32 {
	t := make([]float32, len(w))
	for r := range rows {
		for c := range cols {
			t[c*rows+r] = w[r*cols+c]
		}
	}
	return t
}
