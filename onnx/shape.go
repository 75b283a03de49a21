package onnx

import (
	"strconv"
	"strings"

	"github.com/catdog-ml/catdog/onnx/pb"
)

// Shape is a tensor shape; -1 marks a dimension that is dynamic (such as the batch) or
// unknown. A nil Shape means the rank itself is unknown.
type Shape []int64

// String formats the shape as "(N, 3, 224, 224)", writing a dynamic first dimension as N and
// other unknown dimensions as ?.
func (s Shape) String() string {
	if s == nil {
		return "?"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		switch {
		case d >= 0:
			parts[i] = strconv.FormatInt(d, 10)
		case i == 0:
			parts[i] = BatchDim
		default:
			parts[i] = "?"
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Elements returns the number of elements per sample: the product of the known dimensions,
// a dynamic first dimension counted as 1. It returns -1 when another dimension is unknown.
func (s Shape) Elements() int64 {
	if s == nil {
		return -1
	}
	n := int64(1)
	for i, d := range s {
		if d < 0 {
			if i == 0 {
				continue
			}
			return -1
		}
		n *= d
	}
	return n
}

// equalKnown reports whether two shapes agree on rank and on every dimension known in both.
func equalKnown(a, b Shape) bool {
	if a == nil || b == nil {
		return true
	}
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] >= 0 && b[i] >= 0 && a[i] != b[i] {
			return false
		}
	}
	return true
}

// ShapeOf returns the shape that static inference gives the tensor name (a tensor, or a node
// whose first output is meant), nil where inference cannot fix it.
func (m *Model) ShapeOf(name string) (Shape, error) {
	out, err := m.resolveTensor(name)
	if err != nil {
		return nil, err
	}
	return m.inferShapes()[out].shape, nil
}

// tensorInfo is what shape inference knows about one tensor.
type tensorInfo struct {
	dtype DType
	shape Shape
}

func valueShape(v *pb.ValueInfoProto) tensorInfo {
	tt := v.GetType().GetTensorType()
	if tt == nil {
		return tensorInfo{}
	}
	info := tensorInfo{dtype: DType(tt.GetElemType())}
	if tt.Shape == nil {
		return info
	}
	info.shape = make(Shape, len(tt.Shape.Dim))
	for i, d := range tt.Shape.Dim {
		info.shape[i] = -1
		if v, ok := d.Value.(*pb.TensorShapeProto_Dimension_DimValue); ok {
			info.shape[i] = v.DimValue
		}
	}
	return info
}

// inferShapes returns the type and shape of every tensor it can work out: declared ones
// (inputs, outputs, value_info, initializers) first, then node by node for the common
// operators of image CNNs.
func (m *Model) inferShapes() map[string]tensorInfo {
	g := m.Proto.GetGraph()
	info := map[string]tensorInfo{}
	consts := map[string]*pb.TensorProto{}
	for _, t := range g.GetInitializer() {
		info[t.GetName()] = tensorInfo{dtype: DType(t.GetDataType()), shape: append(Shape{}, t.Dims...)}
		consts[t.GetName()] = t
	}
	declared := map[string]tensorInfo{}
	for _, list := range [][]*pb.ValueInfoProto{g.GetInput(), g.GetValueInfo(), g.GetOutput()} {
		for _, v := range list {
			if _, ok := info[v.GetName()]; !ok {
				declared[v.GetName()] = valueShape(v)
			}
		}
	}
	for k, v := range declared {
		info[k] = v
	}
	for _, n := range g.GetNode() {
		if n.GetOpType() == "Constant" {
			for _, a := range n.Attribute {
				if a.GetName() == "value" && a.T != nil && len(n.Output) > 0 {
					consts[n.Output[0]] = a.T
				}
			}
		}
		out := inferNode(n, info, consts)
		for i, o := range n.Output {
			if i >= len(out) || o == "" {
				break
			}
			if d, ok := declared[o]; ok && d.shape != nil {
				if d.dtype == Undefined {
					d.dtype = out[i].dtype
				}
				info[o] = d // declared shapes win over inference
				continue
			}
			info[o] = out[i]
		}
	}
	return info
}

func attrInts(n *pb.NodeProto, name string) []int64 {
	for _, a := range n.Attribute {
		if a.GetName() == name {
			return a.Ints
		}
	}
	return nil
}

func attrInt(n *pb.NodeProto, name string, def int64) int64 {
	for _, a := range n.Attribute {
		if a.GetName() == name {
			return a.GetI()
		}
	}
	return def
}

func attrString(n *pb.NodeProto, name string) string {
	for _, a := range n.Attribute {
		if a.GetName() == name {
			return string(a.GetS())
		}
	}
	return ""
}

var sameShapeOps = map[string]bool{
	"Relu": true, "Sigmoid": true, "Tanh": true, "LeakyRelu": true, "Dropout": true, "Identity": true,
	"BatchNormalization": true, "Softmax": true, "LogSoftmax": true, "Clip": true, "Exp": true, "Log": true,
	"Sqrt": true, "Neg": true, "Abs": true, "LRN": true, "Erf": true, "Elu": true, "HardSigmoid": true,
	"Selu": true, "PRelu": true, "InstanceNormalization": true, "Floor": true, "Ceil": true, "Reciprocal": true,
	"Softplus": true, "Softsign": true, "HardSwish": true,
}

var broadcastOps = map[string]bool{
	"Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true, "Max": true, "Min": true, "Sum": true, "Mean": true,
}

// inferNode returns the output types and shapes of one node, or nil when unknown.
func inferNode(n *pb.NodeProto, info map[string]tensorInfo, consts map[string]*pb.TensorProto) []tensorInfo {
	in := func(i int) tensorInfo {
		if i < len(n.Input) {
			return info[n.Input[i]]
		}
		return tensorInfo{}
	}
	x := in(0)
	op := n.GetOpType()
	switch {
	case sameShapeOps[op]:
		return []tensorInfo{x}
	case op == "Cast":
		return []tensorInfo{{dtype: DType(attrInt(n, "to", 0)), shape: x.shape}}
	case broadcastOps[op]:
		out := x
		for i := 1; i < len(n.Input); i++ {
			out.shape = broadcast(out.shape, in(i).shape)
		}
		return []tensorInfo{out}
	case op == "Conv":
		w := in(1)
		if len(x.shape) != 4 || len(w.shape) != 4 {
			return []tensorInfo{{dtype: x.dtype}}
		}
		kernel := attrInts(n, "kernel_shape")
		if len(kernel) != 2 {
			kernel = []int64{w.shape[2], w.shape[3]}
		}
		h, wd := poolDims(n, x.shape, kernel)
		return []tensorInfo{{dtype: x.dtype, shape: Shape{x.shape[0], w.shape[0], h, wd}}}
	case op == "MaxPool" || op == "AveragePool":
		kernel := attrInts(n, "kernel_shape")
		if len(x.shape) != 4 || len(kernel) != 2 {
			return []tensorInfo{{dtype: x.dtype}}
		}
		h, wd := poolDims(n, x.shape, kernel)
		return []tensorInfo{{dtype: x.dtype, shape: Shape{x.shape[0], x.shape[1], h, wd}}}
	case op == "GlobalAveragePool" || op == "GlobalMaxPool":
		if len(x.shape) < 2 {
			return []tensorInfo{{dtype: x.dtype}}
		}
		s := append(Shape{}, x.shape...)
		for i := 2; i < len(s); i++ {
			s[i] = 1
		}
		return []tensorInfo{{dtype: x.dtype, shape: s}}
	case op == "Flatten":
		if x.shape == nil {
			return []tensorInfo{{dtype: x.dtype}}
		}
		axis := attrInt(n, "axis", 1)
		if axis < 0 {
			axis += int64(len(x.shape))
		}
		a, b := product(x.shape[:axis]), product(x.shape[axis:])
		if axis == 1 {
			a = x.shape[0]
		}
		return []tensorInfo{{dtype: x.dtype, shape: Shape{a, b}}}
	case op == "Gemm":
		a, b := x.shape, in(1).shape
		if len(a) != 2 || len(b) != 2 {
			return []tensorInfo{{dtype: x.dtype}}
		}
		rows, cols := a[0], b[1]
		if attrInt(n, "transA", 0) != 0 {
			rows = a[1]
		}
		if attrInt(n, "transB", 0) != 0 {
			cols = b[0]
		}
		return []tensorInfo{{dtype: x.dtype, shape: Shape{rows, cols}}}
	case op == "MatMul":
		a, b := x.shape, in(1).shape
		if len(a) < 2 || len(b) < 2 {
			return []tensorInfo{{dtype: x.dtype}}
		}
		s := broadcast(a[:len(a)-2], b[:len(b)-2])
		s = append(s, a[len(a)-2], b[len(b)-1])
		return []tensorInfo{{dtype: x.dtype, shape: s}}
	case op == "Concat":
		axis := attrInt(n, "axis", 0)
		if x.shape == nil {
			return []tensorInfo{{dtype: x.dtype}}
		}
		if axis < 0 {
			axis += int64(len(x.shape))
		}
		s := append(Shape{}, x.shape...)
		for i := 1; i < len(n.Input); i++ {
			o := in(i).shape
			if len(o) != len(s) || s[axis] < 0 || o[axis] < 0 {
				s[axis] = -1
				continue
			}
			s[axis] += o[axis]
		}
		return []tensorInfo{{dtype: x.dtype, shape: s}}
	case op == "Transpose":
		if x.shape == nil {
			return []tensorInfo{{dtype: x.dtype}}
		}
		perm := attrInts(n, "perm")
		if perm == nil {
			for i := len(x.shape) - 1; i >= 0; i-- {
				perm = append(perm, int64(i))
			}
		}
		s := make(Shape, len(perm))
		for i, p := range perm {
			s[i] = x.shape[p]
		}
		return []tensorInfo{{dtype: x.dtype, shape: s}}
	case op == "Reshape":
		t := consts[n.Input[1]]
		if t == nil {
			return []tensorInfo{{dtype: x.dtype}}
		}
		want, err := Int64s(t)
		if err != nil {
			return []tensorInfo{{dtype: x.dtype}}
		}
		s := make(Shape, len(want))
		infer := -1
		for i, d := range want {
			switch {
			case d == 0 && i < len(x.shape):
				s[i] = x.shape[i]
			case d == -1:
				infer = i
				s[i] = -1
			default:
				s[i] = d
			}
		}
		if infer >= 0 {
			total, rest := x.shape.Elements(), int64(1)
			for i, d := range s {
				if i != infer {
					if d < 0 && i != 0 {
						rest = -1
						break
					}
					if d > 0 {
						rest *= d
					}
				}
			}
			if total > 0 && rest > 0 && (len(x.shape) == 0 || x.shape[0] >= 0 || s[0] < 0) {
				s[infer] = total / rest
			}
		}
		return []tensorInfo{{dtype: x.dtype, shape: s}}
	case op == "Pad":
		pads := attrInts(n, "pads") // before opset 11
		if len(n.Input) > 1 {
			pads = nil
			if t := consts[n.Input[1]]; t != nil {
				pads, _ = Int64s(t)
			}
		}
		if x.shape == nil || len(pads) != 2*len(x.shape) {
			return []tensorInfo{{dtype: x.dtype}}
		}
		s := append(Shape{}, x.shape...)
		for i := range s {
			if s[i] >= 0 {
				s[i] += pads[i] + pads[i+len(s)]
			}
		}
		return []tensorInfo{{dtype: x.dtype, shape: s}}
	case op == "Constant":
		for _, a := range n.Attribute {
			if a.GetName() == "value" && a.T != nil {
				return []tensorInfo{{dtype: DType(a.T.GetDataType()), shape: append(Shape{}, a.T.Dims...)}}
			}
		}
	case op == "Gather":
		idx := in(1)
		if x.shape == nil || idx.shape == nil {
			return []tensorInfo{{dtype: x.dtype}}
		}
		axis := attrInt(n, "axis", 0)
		if axis < 0 {
			axis += int64(len(x.shape))
		}
		s := append(Shape{}, x.shape[:axis]...)
		s = append(s, idx.shape...)
		s = append(s, x.shape[axis+1:]...)
		return []tensorInfo{{dtype: x.dtype, shape: s}}
	}
	return nil
}

// poolDims returns the output height and width of a Conv or pooling node over an NCHW input.
func poolDims(n *pb.NodeProto, x Shape, kernel []int64) (int64, int64) {
	pads := attrInts(n, "pads")
	if len(pads) != 4 {
		pads = []int64{0, 0, 0, 0}
	}
	strides := attrInts(n, "strides")
	if len(strides) != 2 {
		strides = []int64{1, 1}
	}
	dil := attrInts(n, "dilations")
	if len(dil) != 2 {
		dil = []int64{1, 1}
	}
	ceil := attrInt(n, "ceil_mode", 0) != 0
	autoPad := attrString(n, "auto_pad")
	out := [2]int64{}
	for i := range 2 {
		in := x[2+i]
		if in < 0 {
			out[i] = -1
			continue
		}
		switch autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			out[i] = (in + strides[i] - 1) / strides[i]
			continue
		case "VALID":
			pads = []int64{0, 0, 0, 0}
		}
		span := in + pads[i] + pads[i+2] - dil[i]*(kernel[i]-1) - 1
		if span < 0 {
			out[i] = 0 // the kernel does not fit: an invalid model at this size
			continue
		}
		if ceil {
			out[i] = (span+strides[i]-1)/strides[i] + 1
		} else {
			out[i] = span/strides[i] + 1
		}
	}
	return out[0], out[1]
}

func product(s Shape) int64 {
	n := int64(1)
	for _, d := range s {
		if d < 0 {
			return -1
		}
		n *= d
	}
	return n
}

// broadcast returns the numpy-style broadcast of two shapes, nil when either is unknown.
func broadcast(a, b Shape) Shape {
	if a == nil || b == nil {
		return nil
	}
	if len(b) > len(a) {
		a, b = b, a
	}
	out := append(Shape{}, a...)
	off := len(a) - len(b)
	for i, d := range b {
		o := out[off+i]
		switch {
		case o == 1:
			out[off+i] = d
		case d == 1 || d == o:
		case o < 0 || d < 0:
			out[off+i] = -1
		}
	}
	return out
}
