package onnx

import (
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/catdog-ml/catdog/onnx/pb"
)

// Cut returns a copy of the model that computes only output: the nodes it needs, the
// initializers and inputs they read, and output as the single graph output (with its type
// and shape where known). output names a tensor, or a node whose first output is taken.
func (m *Model) Cut(output string) (*Model, error) {
	g := m.Proto.GetGraph()
	target, err := m.resolveTensor(output)
	if err != nil {
		return nil, fmt.Errorf("cutting model at %q: %w", output, err)
	}
	info := m.inferShapes()

	keep, needed := reachBack(g, []string{target})

	// Copy only what is kept: a cut of a large model (VGG16's dense layers are 90 % of its
	// 553 MB) must not copy the weights it drops.
	c := &Model{Proto: cloneExcept(m.Proto, "graph").(*pb.ModelProto)}
	cg := cloneExcept(g, "node", "initializer").(*pb.GraphProto)
	c.Proto.Graph = cg
	for i, n := range g.Node {
		if keep[i] {
			cg.Node = append(cg.Node, proto.Clone(n).(*pb.NodeProto))
		}
	}
	for _, t := range g.Initializer {
		if needed[t.GetName()] {
			cg.Initializer = append(cg.Initializer, proto.Clone(t).(*pb.TensorProto))
		}
	}
	prune(cg, allTrue(len(cg.Node)), needed)
	if len(cg.Input) == 0 {
		return nil, fmt.Errorf("cutting model at %q: the tensor depends on no graph input", output)
	}
	var vis []*pb.ValueInfoProto
	var outVI *pb.ValueInfoProto
	for _, v := range cg.ValueInfo {
		if v.GetName() == target {
			outVI = v
			continue
		}
		if needed[v.GetName()] {
			vis = append(vis, v)
		}
	}
	for _, v := range g.Output {
		if v.GetName() == target {
			outVI = proto.Clone(v).(*pb.ValueInfoProto)
		}
	}
	cg.ValueInfo = vis
	if outVI == nil || outVI.GetType().GetTensorType().GetShape() == nil {
		ti := info[target]
		if ti.dtype == Undefined {
			ti.dtype = Float
		}
		outVI = ValueInfo(target, ti.dtype)
		if ti.shape == nil {
			outVI.Type.GetTensorType().Shape = nil
		} else {
			outVI = shapedValueInfo(target, ti.dtype, ti.shape, batchParam(m))
		}
	}
	cg.Output = []*pb.ValueInfoProto{outVI}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("cutting model at %q: %w", output, err)
	}
	return c, nil
}

// cloneExcept deep-copies msg without the named fields, which are left empty.
func cloneExcept(msg proto.Message, skip ...string) proto.Message {
	src := msg.ProtoReflect()
	shallow := src.New()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if !slices.Contains(skip, string(fd.Name())) {
			shallow.Set(fd, v)
		}
		return true
	})
	return proto.Clone(shallow.Interface())
}

func allTrue(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}

// reachBack returns which nodes of g the targets depend on, and every tensor they read.
func reachBack(g *pb.GraphProto, targets []string) (keep []bool, needed map[string]bool) {
	producer := map[string]int{}
	for i, n := range g.Node {
		for _, o := range n.Output {
			producer[o] = i
		}
	}
	needed = map[string]bool{}
	keep = make([]bool, len(g.Node))
	stack := append([]string{}, targets...)
	for _, t := range targets {
		needed[t] = true
	}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i, ok := producer[t]
		if !ok || keep[i] {
			continue
		}
		keep[i] = true
		for _, in := range nodeReads(g.Node[i]) {
			if in != "" && !needed[in] {
				needed[in] = true
				stack = append(stack, in)
			}
		}
	}
	return keep, needed
}

// prune drops from g the nodes not kept and the initializers, inputs and value_info not needed.
func prune(g *pb.GraphProto, keep []bool, needed map[string]bool) {
	var nodes []*pb.NodeProto
	for i, n := range g.Node {
		if keep[i] {
			nodes = append(nodes, n)
		}
	}
	g.Node = nodes
	var inits []*pb.TensorProto
	for _, t := range g.Initializer {
		if needed[t.GetName()] {
			inits = append(inits, t)
		}
	}
	g.Initializer = inits
	var inputs []*pb.ValueInfoProto
	for _, in := range g.Input {
		if needed[in.GetName()] {
			inputs = append(inputs, in)
		}
	}
	g.Input = inputs
	var vis []*pb.ValueInfoProto
	for _, v := range g.ValueInfo {
		if needed[v.GetName()] {
			vis = append(vis, v)
		}
	}
	g.ValueInfo = vis
}

// batchParam returns the dim_param of the model's first input's first dimension, or "N".
func batchParam(m *Model) string {
	for _, in := range m.Proto.GetGraph().GetInput() {
		dims := in.GetType().GetTensorType().GetShape().GetDim()
		if len(dims) > 0 && dims[0].GetDimParam() != "" {
			return dims[0].GetDimParam()
		}
	}
	return BatchDim
}

// shapedValueInfo is ValueInfo with a dynamic first dimension named param and other
// unknown dimensions left unnamed.
func shapedValueInfo(name string, dt DType, s Shape, param string) *pb.ValueInfoProto {
	v := ValueInfo(name, dt, s...)
	for i, d := range v.Type.GetTensorType().Shape.Dim {
		if d.GetDimParam() == "" {
			continue
		}
		if i == 0 {
			d.Value = &pb.TensorShapeProto_Dimension_DimParam{DimParam: param}
		} else {
			d.Value = nil
		}
	}
	return v
}

// nodeReads returns every tensor a node reads, including names used by nodes of its
// subgraphs (If, Loop, Scan) that come from the enclosing graph.
func nodeReads(n *pb.NodeProto) []string {
	reads := append([]string{}, n.Input...)
	for _, a := range n.Attribute {
		gs := a.Graphs
		if a.G != nil {
			gs = append(gs, a.G)
		}
		for _, sg := range gs {
			for _, sn := range sg.Node {
				reads = append(reads, nodeReads(sn)...)
			}
		}
	}
	return reads
}

// resolveTensor turns a tensor or node name into a tensor name.
func (m *Model) resolveTensor(name string) (string, error) {
	g := m.Proto.GetGraph()
	for _, n := range g.Node {
		for _, o := range n.Output {
			if o == name {
				return name, nil
			}
		}
	}
	for _, n := range g.Node {
		if n.GetName() == name && len(n.Output) > 0 {
			return n.Output[0], nil
		}
	}
	for _, in := range g.Input {
		if in.GetName() == name {
			return "", errors.New("it is a graph input, not a computed tensor")
		}
	}
	return "", errors.New("no node or node output has this name (see the node table of `catdog backbones inspect`)")
}

// LastConvBlockOutput returns the tensor at the end of the model's last convolution block:
// the output of the last MaxPool that comes after, and depends on, the last Conv. For VGG16
// that is the fifth max-pool, of shape (N, 512, 7, 7) at 224x224.
func (m *Model) LastConvBlockOutput() (string, error) {
	g := m.Proto.GetGraph()
	lastConv := -1
	for i, n := range g.Node {
		if n.GetOpType() == "Conv" {
			lastConv = i
		}
	}
	if lastConv < 0 {
		return "", errors.New("finding the last convolution block: the model has no Conv node")
	}
	reach := map[string]bool{}
	for _, o := range g.Node[lastConv].Output {
		reach[o] = true
	}
	found := ""
	for _, n := range g.Node[lastConv+1:] {
		depends := false
		for _, in := range n.Input {
			if reach[in] {
				depends = true
			}
		}
		if !depends {
			continue
		}
		for _, o := range n.Output {
			reach[o] = true
		}
		if n.GetOpType() == "MaxPool" {
			found = n.Output[0]
		}
	}
	if found == "" {
		return "", fmt.Errorf("finding the last convolution block: no MaxPool after the last Conv %q", g.Node[lastConv].GetName())
	}
	return found, nil
}

// SetBatchDim makes the first dimension of every graph input and output dynamic, named
// param ("N" when empty), and drops the value_info of intermediate tensors, whose batch
// dimension would be stale. Use it on
// models exported with a fixed batch of 1 whose operators work for any batch (convolutions,
// pooling); a Reshape with a fixed batch would still fail at run time.
func (m *Model) SetBatchDim(param string) {
	if param == "" {
		param = BatchDim
	}
	g := m.Proto.GetGraph()
	inits := map[string]bool{}
	for _, t := range g.Initializer {
		inits[t.GetName()] = true
	}
	set := func(v *pb.ValueInfoProto) {
		dims := v.GetType().GetTensorType().GetShape().GetDim()
		if len(dims) > 0 {
			dims[0].Value = &pb.TensorShapeProto_Dimension_DimParam{DimParam: param}
		}
	}
	for _, v := range g.Input {
		if !inits[v.GetName()] {
			set(v)
		}
	}
	for _, v := range g.Output {
		set(v)
	}
	g.ValueInfo = nil
}
