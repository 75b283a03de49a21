package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/catdog-ml/catdog/onnx/pb"
)

// BatchDim is the name the Builder gives to dynamic dimensions (written as -1).
const BatchDim = "N"

// Builder assembles an ONNX graph one operator at a time, at opset 13 and IR version 7.
//
// Each method adds a node and returns the name of the tensor it produces, to be passed to
// later calls. Node and tensor names are generated from the operator type ("conv_1",
// "relu_3") unless Name is called first. Mistakes (a tensor that does not exist, a name used
// twice) are remembered and returned by Model, so a chain of calls needs one error check.
// The same sequence of calls always gives the same model bytes.
type Builder struct {
	graph    *pb.GraphProto
	names    map[string]bool    // tensors defined so far
	shapes   map[string][]int64 // known initializer shapes
	counters map[string]int
	next     string
	meta     []*pb.StringStringEntryProto
	errs     []error
}

// ConvOpts are the attributes of a 2-D convolution.
type ConvOpts struct {
	Pads      [4]int64 // top, left, bottom, right
	Strides   [2]int64 // zero means 1
	Dilations [2]int64 // zero means 1
	Group     int64    // zero means 1
}

// NewBuilder starts an empty graph called name.
func NewBuilder(name string) *Builder {
	return &Builder{
		graph:    &pb.GraphProto{Name: proto.String(name)},
		names:    map[string]bool{},
		shapes:   map[string][]int64{},
		counters: map[string]int{},
	}
}

// Name sets the node and output tensor name of the next node added. Go evaluates a call's
// arguments after its receiver, so in b.Name("a").Conv(b.Relu(x), ...) the name goes to the
// Relu: call Name in the statement that adds the node, with arguments already computed.
func (b *Builder) Name(name string) *Builder {
	b.next = name
	return b
}

// SetMetadata records a metadata_props entry in the model built.
func (b *Builder) SetMetadata(key, value string) {
	for _, p := range b.meta {
		if p.GetKey() == key {
			p.Value = proto.String(value)
			return
		}
	}
	b.meta = append(b.meta, &pb.StringStringEntryProto{Key: proto.String(key), Value: proto.String(value)})
}

func (b *Builder) errorf(format string, args ...any) {
	b.errs = append(b.errs, fmt.Errorf(format, args...))
}

func (b *Builder) define(name string) {
	if name == "" {
		b.errorf("empty tensor name")
		return
	}
	if b.names[name] {
		b.errorf("tensor name %q used twice", name)
	}
	b.names[name] = true
}

// Input declares a graph input of type dt and shape dims (-1 for the dynamic dimension "N")
// and returns its name.
func (b *Builder) Input(name string, dt DType, dims ...int64) string {
	b.define(name)
	b.graph.Input = append(b.graph.Input, ValueInfo(name, dt, dims...))
	return name
}

// Output marks tensor x as a graph output called name, of type dt and shape dims (-1 for
// the dynamic dimension "N"). When name differs from x, the node producing x is renamed so
// that it writes name directly (or an Identity node is added when x is an input or
// initializer). It returns name, which replaces x in later calls.
func (b *Builder) Output(x, name string, dt DType, dims ...int64) string {
	if !b.names[x] {
		b.errorf("output %q: unknown tensor %q", name, x)
		return name
	}
	if name != x {
		renamed := false
		for _, n := range b.graph.Node {
			for i, o := range n.Output {
				if o == x && !b.isGraphOutput(x) {
					n.Output[i] = name
					renamed = true
				}
			}
		}
		if renamed {
			if b.names[name] {
				b.errorf("output name %q is already a tensor", name)
			}
			for _, n := range b.graph.Node {
				for i, in := range n.Input {
					if in == x {
						n.Input[i] = name
					}
				}
			}
			delete(b.names, x)
			b.names[name] = true
		} else {
			b.Name(name).Node("Identity", []string{x}, nil)
		}
	}
	b.graph.Output = append(b.graph.Output, ValueInfo(name, dt, dims...))
	return name
}

func (b *Builder) isGraphOutput(x string) bool {
	for _, o := range b.graph.Output {
		if o.GetName() == x {
			return true
		}
	}
	return false
}

// ValueInfo returns a tensor value description; -1 in dims is the dynamic dimension "N".
func ValueInfo(name string, dt DType, dims ...int64) *pb.ValueInfoProto {
	shape := &pb.TensorShapeProto{Dim: make([]*pb.TensorShapeProto_Dimension, 0, len(dims))}
	for _, d := range dims {
		dim := &pb.TensorShapeProto_Dimension{}
		if d < 0 {
			dim.Value = &pb.TensorShapeProto_Dimension_DimParam{DimParam: BatchDim}
		} else {
			dim.Value = &pb.TensorShapeProto_Dimension_DimValue{DimValue: d}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &pb.ValueInfoProto{
		Name: proto.String(name),
		Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(dt)),
			Shape:    shape,
		}}},
	}
}

// Initializer adds a float32 weight tensor of the given shape and returns its name.
func (b *Builder) Initializer(name string, shape []int64, data []float32) string {
	if n := elemCount(shape); n != int64(len(data)) {
		b.errorf("initializer %q: shape %v needs %d values, got %d", name, shape, n, len(data))
	}
	b.define(name)
	b.shapes[name] = append([]int64(nil), shape...)
	b.graph.Initializer = append(b.graph.Initializer, FloatTensor(name, shape, data))
	return name
}

// InitializerInt64 adds an int64 tensor (shapes, axes, indices) and returns its name.
func (b *Builder) InitializerInt64(name string, shape []int64, data []int64) string {
	if n := elemCount(shape); n != int64(len(data)) {
		b.errorf("initializer %q: shape %v needs %d values, got %d", name, shape, n, len(data))
	}
	b.define(name)
	b.shapes[name] = append([]int64(nil), shape...)
	b.graph.Initializer = append(b.graph.Initializer, Int64Tensor(name, shape, data))
	return name
}

// FloatTensor returns a float32 tensor stored little-endian in raw_data.
func FloatTensor(name string, shape []int64, data []float32) *pb.TensorProto {
	return &pb.TensorProto{
		Name:     proto.String(name),
		Dims:     append([]int64{}, shape...),
		DataType: proto.Int32(int32(Float)),
		RawData:  encodeFloat32s(data),
	}
}

// Int64Tensor returns an int64 tensor stored little-endian in raw_data.
func Int64Tensor(name string, shape []int64, data []int64) *pb.TensorProto {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return &pb.TensorProto{
		Name:     proto.String(name),
		Dims:     append([]int64{}, shape...),
		DataType: proto.Int32(int32(Int64)),
		RawData:  raw,
	}
}

func encodeFloat32s(data []float32) []byte {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return raw
}

func decodeFloat32s(raw []byte) []float32 {
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out
}

// Node adds a node of any operator with one output and returns the output's name. attrs
// values may be int, int64, float32, float64, string, []int64, []int, []float32, []string
// or *pb.TensorProto. An empty input name stands for an omitted optional input.
func (b *Builder) Node(opType string, inputs []string, attrs map[string]any) string {
	return b.NodeN(opType, inputs, 1, attrs)[0]
}

// NodeN is Node for operators with several outputs; it returns their names.
func (b *Builder) NodeN(opType string, inputs []string, outputs int, attrs map[string]any) []string {
	name := b.next
	b.next = ""
	if name == "" {
		base := strings.ToLower(opType)
		for {
			b.counters[base]++
			name = fmt.Sprintf("%s_%d", base, b.counters[base])
			if !b.names[name] {
				break
			}
		}
	}
	for _, in := range inputs {
		if in != "" && !b.names[in] {
			b.errorf("node %s (%s): unknown input tensor %q", name, opType, in)
		}
	}
	outs := make([]string, outputs)
	for i := range outs {
		outs[i] = name
		if i > 0 {
			outs[i] = fmt.Sprintf("%s:%d", name, i)
		}
		b.define(outs[i])
	}
	n := &pb.NodeProto{
		Name:   proto.String(name),
		OpType: proto.String(opType),
		Input:  append([]string{}, inputs...),
		Output: outs,
	}
	for _, k := range sortedKeys(attrs) {
		a, err := Attribute(k, attrs[k])
		if err != nil {
			b.errorf("node %s (%s): %w", name, opType, err)
			continue
		}
		n.Attribute = append(n.Attribute, a)
	}
	b.graph.Node = append(b.graph.Node, n)
	return outs
}

// Attribute converts a Go value into a node attribute (see Builder.Node for the types).
func Attribute(name string, v any) (*pb.AttributeProto, error) {
	a := &pb.AttributeProto{Name: proto.String(name)}
	set := func(t pb.AttributeProto_AttributeType) { a.Type = t.Enum() }
	switch v := v.(type) {
	case int:
		a.I = proto.Int64(int64(v))
		set(pb.AttributeProto_INT)
	case int64:
		a.I = proto.Int64(v)
		set(pb.AttributeProto_INT)
	case bool:
		var i int64
		if v {
			i = 1
		}
		a.I = proto.Int64(i)
		set(pb.AttributeProto_INT)
	case float32:
		a.F = proto.Float32(v)
		set(pb.AttributeProto_FLOAT)
	case float64:
		a.F = proto.Float32(float32(v))
		set(pb.AttributeProto_FLOAT)
	case string:
		a.S = []byte(v)
		set(pb.AttributeProto_STRING)
	case []int64:
		a.Ints = append([]int64{}, v...)
		set(pb.AttributeProto_INTS)
	case []int:
		for _, x := range v {
			a.Ints = append(a.Ints, int64(x))
		}
		set(pb.AttributeProto_INTS)
	case []float32:
		a.Floats = append([]float32{}, v...)
		set(pb.AttributeProto_FLOATS)
	case []string:
		for _, s := range v {
			a.Strings = append(a.Strings, []byte(s))
		}
		set(pb.AttributeProto_STRINGS)
	case *pb.TensorProto:
		a.T = v
		set(pb.AttributeProto_TENSOR)
	default:
		return nil, fmt.Errorf("attribute %q: unsupported Go type %T", name, v)
	}
	return a, nil
}

// Conv adds a 2-D convolution of x (NCHW) with weights w (M, C/group, kH, kW) and optional
// bias ("" for none).
func (b *Builder) Conv(x, w, bias string, o ConvOpts) string {
	attrs := map[string]any{
		"pads":      o.Pads[:],
		"strides":   orOnes(o.Strides),
		"dilations": orOnes(o.Dilations),
		"group":     max(o.Group, 1),
	}
	if s, ok := b.shapes[w]; ok && len(s) == 4 {
		attrs["kernel_shape"] = []int64{s[2], s[3]}
	}
	in := []string{x, w}
	if bias != "" {
		in = append(in, bias)
	}
	return b.Node("Conv", in, attrs)
}

func orOnes(v [2]int64) []int64 {
	out := []int64{v[0], v[1]}
	for i := range out {
		if out[i] == 0 {
			out[i] = 1
		}
	}
	return out
}

// Relu adds max(x, 0).
func (b *Builder) Relu(x string) string { return b.Node("Relu", []string{x}, nil) }

// Sigmoid adds 1/(1+exp(-x)).
func (b *Builder) Sigmoid(x string) string { return b.Node("Sigmoid", []string{x}, nil) }

// MaxPool adds a 2-D max pooling with a square kernel and stride, no padding.
func (b *Builder) MaxPool(x string, kernel, stride int64) string {
	return b.Node("MaxPool", []string{x}, map[string]any{
		"kernel_shape": []int64{kernel, kernel},
		"strides":      []int64{stride, stride},
	})
}

// AveragePool adds a 2-D average pooling with a square kernel and stride, no padding.
func (b *Builder) AveragePool(x string, kernel, stride int64) string {
	return b.Node("AveragePool", []string{x}, map[string]any{
		"kernel_shape": []int64{kernel, kernel},
		"strides":      []int64{stride, stride},
	})
}

// GlobalAveragePool averages each channel of x (N, C, H, W) to (N, C, 1, 1).
func (b *Builder) GlobalAveragePool(x string) string {
	return b.Node("GlobalAveragePool", []string{x}, nil)
}

// BatchNorm adds inference-mode batch normalisation over axis 1 with the named per-channel
// scale, bias, running mean and running variance.
func (b *Builder) BatchNorm(x, scale, bias, mean, variance string, eps float32) string {
	return b.Node("BatchNormalization", []string{x, scale, bias, mean, variance}, map[string]any{"epsilon": eps})
}

// Dropout adds a Dropout node, the identity at inference.
func (b *Builder) Dropout(x string) string { return b.Node("Dropout", []string{x}, nil) }

// Flatten reshapes x to 2-D, keeping the dimensions before axis as the first.
func (b *Builder) Flatten(x string, axis int64) string {
	return b.Node("Flatten", []string{x}, map[string]any{"axis": axis})
}

// Gemm adds x·w + bias (x·wᵀ + bias when transB), for x of shape (N, K); bias may be "".
func (b *Builder) Gemm(x, w, bias string, transB bool) string {
	in := []string{x, w}
	if bias != "" {
		in = append(in, bias)
	}
	attrs := map[string]any{}
	if transB {
		attrs["transB"] = int64(1)
	}
	return b.Node("Gemm", in, attrs)
}

// MatMul adds the matrix product of x and y.
func (b *Builder) MatMul(x, y string) string { return b.Node("MatMul", []string{x, y}, nil) }

// Add adds x + y with broadcasting.
func (b *Builder) Add(x, y string) string { return b.Node("Add", []string{x, y}, nil) }

// Sub adds x - y with broadcasting.
func (b *Builder) Sub(x, y string) string { return b.Node("Sub", []string{x, y}, nil) }

// Mul adds x * y with broadcasting.
func (b *Builder) Mul(x, y string) string { return b.Node("Mul", []string{x, y}, nil) }

// Div adds x / y with broadcasting.
func (b *Builder) Div(x, y string) string { return b.Node("Div", []string{x, y}, nil) }

// Concat joins xs along axis.
func (b *Builder) Concat(axis int64, xs ...string) string {
	return b.Node("Concat", xs, map[string]any{"axis": axis})
}

// Transpose permutes the dimensions of x.
func (b *Builder) Transpose(x string, perm ...int64) string {
	return b.Node("Transpose", []string{x}, map[string]any{"perm": perm})
}

// Reshape reshapes x to shape (0 keeps a dimension, -1 is inferred).
func (b *Builder) Reshape(x string, shape ...int64) string {
	name := b.next
	if name == "" {
		b.counters["reshape"]++
		name = fmt.Sprintf("reshape_%d", b.counters["reshape"])
	}
	s := b.InitializerInt64(name+".shape", []int64{int64(len(shape))}, shape)
	return b.Name(name).Node("Reshape", []string{x, s}, nil)
}

// Identity copies x.
func (b *Builder) Identity(x string) string { return b.Node("Identity", []string{x}, nil) }

// Constant adds a Constant node holding a float32 tensor and returns its output name.
func (b *Builder) Constant(name string, shape []int64, data []float32) string {
	if n := elemCount(shape); n != int64(len(data)) {
		b.errorf("constant %q: shape %v needs %d values, got %d", name, shape, n, len(data))
	}
	b.shapes[name] = append([]int64(nil), shape...)
	return b.Name(name).Node("Constant", nil, map[string]any{"value": FloatTensor(name, shape, data)})
}

// Model checks the graph and returns the model: every node input defined before use, at
// least one output, at opset 13 and IR version 7.
func (b *Builder) Model() (*Model, error) {
	if len(b.errs) > 0 {
		return nil, fmt.Errorf("building ONNX graph %q: %w", b.graph.GetName(), errors.Join(b.errs...))
	}
	if len(b.graph.Output) == 0 {
		return nil, fmt.Errorf("building ONNX graph %q: no output (call Output)", b.graph.GetName())
	}
	g := proto.Clone(b.graph).(*pb.GraphProto)
	m := &Model{Proto: &pb.ModelProto{
		IrVersion:    proto.Int64(IRVersion),
		ProducerName: proto.String("catdog"),
		OpsetImport:  []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(OpsetVersion)}},
		Graph:        g,
	}}
	for _, p := range b.meta {
		m.SetMetadata(p.GetKey(), p.GetValue())
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("building ONNX graph %q: %w", b.graph.GetName(), err)
	}
	return m, nil
}

// Validate checks that the graph is well formed: names unique, nodes in topological order
// with every input defined, outputs produced.
func (m *Model) Validate() error {
	g := m.Proto.GetGraph()
	if g == nil {
		return errors.New("model has no graph")
	}
	defined := map[string]bool{}
	def := func(n, what string) error {
		if defined[n] {
			return fmt.Errorf("tensor %q defined twice (%s)", n, what)
		}
		defined[n] = true
		return nil
	}
	inits := map[string]bool{}
	for _, t := range g.Initializer {
		if err := def(t.GetName(), "initializer"); err != nil {
			return err
		}
		inits[t.GetName()] = true
	}
	for _, in := range g.Input {
		if inits[in.GetName()] {
			continue // IR < 4 style: initializers also listed as inputs
		}
		if err := def(in.GetName(), "graph input"); err != nil {
			return err
		}
	}
	for _, n := range g.Node {
		for _, in := range n.Input {
			if in != "" && !defined[in] {
				return fmt.Errorf("node %q (%s) reads %q, which is not defined before it", n.GetName(), n.GetOpType(), in)
			}
		}
		for _, o := range n.Output {
			if o == "" {
				continue
			}
			if err := def(o, "output of node "+n.GetName()); err != nil {
				return err
			}
		}
	}
	for _, o := range g.Output {
		if !defined[o.GetName()] {
			return fmt.Errorf("graph output %q is not produced by any node", o.GetName())
		}
	}
	return nil
}
