package onnx

import (
	"fmt"
	"math"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/catdog-ml/catdog/onnx/pb"
)

// Join runs several models side by side on one input and concatenates their outputs along
// axis 1 into one tensor called output. Every model must have the graph input input (the
// same type and shape in all) and the tensor outs[i], of shape (N, D_i); the result has
// that one input and the one output (N, ΣD_i). The names of model i, but for input, get
// the prefix prefixes[i]. Opset imports and metadata are merged as Compose does.
func Join(models []*Model, outs []string, prefixes []string, input, output string) (*Model, error) {
	fail := func(format string, args ...any) (*Model, error) {
		return nil, fmt.Errorf("joining models: "+format, args...)
	}
	if len(models) == 0 || len(outs) != len(models) || len(prefixes) != len(models) {
		return fail("want as many outputs and prefixes as models (%d, %d, %d)", len(models), len(outs), len(prefixes))
	}
	j := &Model{Proto: &pb.ModelProto{
		IrVersion:    proto.Int64(IRVersion),
		ProducerName: proto.String("catdog"),
		Graph:        &pb.GraphProto{},
	}}
	g := j.Proto.Graph
	var names []string
	var concat []string
	var total int64
	taken := map[string]bool{}
	for i, m := range models {
		if m == nil || m.Graph() == nil {
			return fail("model %d is empty", i)
		}
		out, err := m.resolveTensor(outs[i])
		if err != nil {
			return fail("model %d, tensor %q: %w", i, outs[i], err)
		}
		shape := m.inferShapes()[out].shape
		if len(shape) != 2 {
			return fail("model %d: %q has shape %s, want (N, D)", i, out, shape)
		}
		if total >= 0 && shape[1] >= 0 {
			total += shape[1]
		} else {
			total = -1
		}
		c := m.Clone()
		// Keep only what out needs.
		c.Graph().Output = []*pb.ValueInfoProto{ValueInfo(out, Float, shape...)}
		keep, needed := reachBack(c.Graph(), []string{out})
		prune(c.Graph(), keep, needed)
		var in *pb.ValueInfoProto
		for _, v := range c.Graph().Input {
			if v.GetName() == input {
				in = v
			}
		}
		if in == nil {
			return fail("model %d has no input %q", i, input)
		}
		p := prefixes[i]
		renameGraph(c.Graph(), func(n string) string {
			if n == "" || n == input {
				return n
			}
			return p + n
		}, p)
		for n := range graphNames(c.Graph()) {
			if n != input && taken[n] {
				return fail("name %q is in two models (choose other prefixes)", n)
			}
			taken[n] = true
		}
		if i == 0 {
			g.Input = append(g.Input, proto.Clone(in).(*pb.ValueInfoProto))
		} else if valueShape(in).dtype != valueShape(g.Input[0]).dtype || !equalKnown(valueShape(in).shape, valueShape(g.Input[0]).shape) {
			return fail("model %d takes %q of type %s, shape %s; model 0 of type %s, shape %s", i, input,
				valueShape(in).dtype, valueShape(in).shape, valueShape(g.Input[0]).dtype, valueShape(g.Input[0]).shape)
		}
		g.Node = append(g.Node, c.Graph().Node...)
		g.Initializer = append(g.Initializer, c.Graph().Initializer...)
		g.ValueInfo = append(g.ValueInfo, c.Graph().ValueInfo...)
		concat = append(concat, p+out)
		names = append(names, c.Graph().GetName())
		mergeOpsets(j, m)
		for _, kv := range m.Proto.MetadataProps {
			j.SetMetadata(kv.GetKey(), kv.GetValue())
		}
	}
	if taken[output] {
		return fail("output name %q is taken", output)
	}
	g.Node = append(g.Node, &pb.NodeProto{Name: proto.String(output), OpType: proto.String("Concat"), Input: concat, Output: []string{output},
		Attribute: []*pb.AttributeProto{{Name: proto.String("axis"), Type: pb.AttributeProto_INT.Enum(), I: proto.Int64(1)}}})
	g.Output = []*pb.ValueInfoProto{ValueInfo(output, Float, -1, total)}
	g.Name = proto.String(strings.Join(names, "|"))
	if err := j.Validate(); err != nil {
		return fail("%w", err)
	}
	return j, nil
}

// mergeOpsets adds m's opset imports to j, keeping the higher version of each domain.
func mergeOpsets(j, m *Model) {
	for _, o := range m.Proto.OpsetImport {
		found := false
		for _, mine := range j.Proto.OpsetImport {
			if normDomain(mine.GetDomain()) == normDomain(o.GetDomain()) {
				found = true
				if o.GetVersion() > mine.GetVersion() {
					mine.Version = proto.Int64(o.GetVersion())
				}
			}
		}
		if !found {
			j.Proto.OpsetImport = append(j.Proto.OpsetImport, proto.Clone(o).(*pb.OperatorSetIdProto))
		}
	}
	if v := m.Proto.GetIrVersion(); v > j.Proto.GetIrVersion() {
		j.Proto.IrVersion = proto.Int64(v)
	}
}

// FlipAverage returns a model whose output is the mean of m's output on its input and on
// the input mirrored along axis (3: the width of an NCHW image): test-time augmentation by
// horizontal flips. The mirrored pass reuses m's weights; its nodes are named "flip/...".
func FlipAverage(m *Model, input, output string, axis int64) (*Model, error) {
	fail := func(format string, args ...any) (*Model, error) {
		return nil, fmt.Errorf("flip averaging: "+format, args...)
	}
	c := m.Clone()
	g := c.Graph()
	hasIn, hasOut := false, false
	for _, v := range g.Input {
		hasIn = hasIn || v.GetName() == input
	}
	for _, v := range g.Output {
		hasOut = hasOut || v.GetName() == output
	}
	if !hasIn || !hasOut {
		return fail("the model has no input %q or no output %q", input, output)
	}
	if m.Opset("") < 10 {
		return fail("the model imports opset %d; flipping needs Slice with steps (opset 10 or later)", m.Opset(""))
	}
	inits := map[string]bool{}
	for _, t := range g.Initializer {
		inits[t.GetName()] = true
	}
	for _, n := range g.Node {
		for _, a := range n.Attribute {
			if a.G != nil || len(a.Graphs) > 0 {
				return fail("node %s (%s) holds a subgraph, which flipping does not copy", n.GetName(), n.GetOpType())
			}
		}
	}
	direct := output + "/direct"
	const p = "flip/"
	flipped := p + input
	for n := range graphNames(g) {
		if strings.HasPrefix(n, p) || n == direct {
			return fail("the model already has a tensor %q", n)
		}
	}
	var mirror []*pb.NodeProto
	for _, n := range g.Node {
		f := proto.Clone(n).(*pb.NodeProto)
		if n.GetName() != "" {
			f.Name = proto.String(p + n.GetName())
		}
		for i, in := range f.Input {
			switch {
			case in == "" || inits[in]:
			case in == input:
				f.Input[i] = flipped
			default:
				f.Input[i] = p + in
			}
		}
		for i, o := range f.Output {
			if o != "" {
				f.Output[i] = p + o
			}
		}
		mirror = append(mirror, f)
		for i, o := range n.Output {
			if o == output {
				n.Output[i] = direct
			}
		}
		for i, in := range n.Input {
			if in == output {
				n.Input[i] = direct
			}
		}
	}
	for _, f := range mirror {
		for i, in := range f.Input {
			if in == p+output {
				f.Input[i] = p + direct
			}
		}
		for i, o := range f.Output {
			if o == p+output {
				f.Output[i] = p + direct
			}
		}
	}
	ints := func(name string, v int64) *pb.TensorProto { return Int64Tensor(name, []int64{1}, []int64{v}) }
	g.Initializer = append(g.Initializer,
		ints(p+"starts", -1), ints(p+"ends", math.MinInt64), ints(p+"axes", axis), ints(p+"steps", -1),
		FloatTensor(p+"half", nil, []float32{0.5}))
	slice := &pb.NodeProto{Name: proto.String(flipped), OpType: proto.String("Slice"),
		Input: []string{input, p + "starts", p + "ends", p + "axes", p + "steps"}, Output: []string{flipped}}
	sum := &pb.NodeProto{Name: proto.String(p + "sum"), OpType: proto.String("Add"), Input: []string{direct, p + direct}, Output: []string{p + "sum"}}
	mean := &pb.NodeProto{Name: proto.String(output), OpType: proto.String("Mul"), Input: []string{p + "sum", p + "half"}, Output: []string{output}}
	nodes := append([]*pb.NodeProto{slice}, g.Node...)
	nodes = append(nodes, mirror...)
	g.Node = append(nodes, sum, mean)
	g.ValueInfo = nil
	if err := c.Validate(); err != nil {
		return fail("%w", err)
	}
	return c, nil
}
