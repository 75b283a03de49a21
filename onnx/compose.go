package onnx

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/catdog-ml/catdog/onnx/pb"
)

// Compose wires two models into one: the tensor firstOut of first (a tensor or node name)
// feeds the input secondIn of second. The result's inputs are first's inputs plus second's
// other inputs, its outputs are second's outputs, and only the nodes those outputs need are
// kept.
//
// Every node and tensor name of second is prefixed with prefix, except its graph outputs,
// which keep their names (so a head's "prob_cat" stays "prob_cat"). A name that would still
// collide is an error. Opset imports are merged (the higher version of each domain wins),
// as are metadata_props (second's value wins for a key in both). firstOut and secondIn must
// agree on type and on every dimension known in both.
func Compose(first *Model, firstOut string, second *Model, secondIn string, prefix string) (*Model, error) {
	fail := func(format string, args ...any) (*Model, error) {
		return nil, fmt.Errorf("composing models: "+format, args...)
	}
	if first == nil || second == nil || first.Proto.GetGraph() == nil || second.Proto.GetGraph() == nil {
		return fail("nil model")
	}
	out, err := first.resolveTensor(firstOut)
	if err != nil {
		return fail("first model, tensor %q: %w", firstOut, err)
	}
	sg := second.Proto.GetGraph()
	secondInits := map[string]bool{}
	for _, t := range sg.Initializer {
		secondInits[t.GetName()] = true
	}
	var inVI *pb.ValueInfoProto
	for _, in := range sg.Input {
		if in.GetName() == secondIn && !secondInits[secondIn] {
			inVI = in
		}
	}
	if inVI == nil {
		return fail("second model has no input %q", secondIn)
	}
	a, b := first.inferShapes()[out], valueShape(inVI)
	if a.dtype != Undefined && b.dtype != Undefined && a.dtype != b.dtype {
		return fail("%q is %s but %q wants %s", firstOut, a.dtype, secondIn, b.dtype)
	}
	if !equalKnown(a.shape, b.shape) {
		return fail("%q has shape %s but %q wants %s", firstOut, a.shape, secondIn, b.shape)
	}

	c := first.Clone()
	g := c.Proto.Graph
	s := second.Clone().Proto.Graph

	// Rename second's names.
	keepName := map[string]bool{}
	for _, o := range s.Output {
		keepName[o.GetName()] = true
	}
	rename := func(name string) string {
		switch {
		case name == "":
			return ""
		case name == secondIn:
			return out
		case keepName[name]:
			return name
		}
		return prefix + name
	}
	renameGraph(s, rename, prefix)

	// Collisions between the two graphs.
	taken := graphNames(g)
	for name := range graphNames(s) {
		if name == out {
			continue
		}
		if taken[name] {
			hint := "choose a prefix"
			if prefix != "" {
				hint = "choose another prefix than " + fmt.Sprintf("%q", prefix)
			}
			return fail("name %q is in both models (%s)", name, hint)
		}
	}

	renamedInits := map[string]bool{}
	for _, t := range s.Initializer {
		renamedInits[t.GetName()] = true
	}
	g.Node = append(g.Node, s.Node...)
	g.Initializer = append(g.Initializer, s.Initializer...)
	for _, in := range s.Input {
		if in.GetName() != out && !renamedInits[in.GetName()] {
			g.Input = append(g.Input, in)
		}
	}
	for _, v := range s.ValueInfo {
		if v.GetName() != out { // first's description of the joint tensor is kept
			g.ValueInfo = append(g.ValueInfo, v)
		}
	}
	g.Output = s.Output
	g.Name = proto.String(first.Proto.GetGraph().GetName() + "+" + second.Proto.GetGraph().GetName())
	var targets []string
	for _, o := range g.Output {
		targets = append(targets, o.GetName())
	}
	keep, needed := reachBack(g, targets)
	prune(g, keep, needed)

	// Opsets, IR version, metadata.
	mergeOpsets(c, second)
	for _, p := range second.Proto.MetadataProps {
		c.SetMetadata(p.GetKey(), p.GetValue())
	}
	c.Proto.Functions = append(c.Proto.Functions, second.Proto.Functions...)
	c.Proto.ProducerName = proto.String("catdog")
	if err := c.Validate(); err != nil {
		return fail("%w", err)
	}
	return c, nil
}

// renameGraph applies rename to every tensor name of g (and of its subgraphs) and prefixes
// node names.
func renameGraph(g *pb.GraphProto, rename func(string) string, prefix string) {
	for _, n := range g.Node {
		if n.Name != nil {
			n.Name = proto.String(prefix + n.GetName())
		}
		for i := range n.Input {
			n.Input[i] = rename(n.Input[i])
		}
		for i := range n.Output {
			n.Output[i] = rename(n.Output[i])
		}
		for _, a := range n.Attribute {
			if a.G != nil {
				renameGraph(a.G, rename, prefix)
			}
			for _, sub := range a.Graphs {
				renameGraph(sub, rename, prefix)
			}
		}
	}
	for _, t := range g.Initializer {
		t.Name = proto.String(rename(t.GetName()))
	}
	for _, list := range [][]*pb.ValueInfoProto{g.Input, g.Output, g.ValueInfo} {
		for _, v := range list {
			v.Name = proto.String(rename(v.GetName()))
		}
	}
}

// graphNames returns the tensor and node names defined in g's top level.
func graphNames(g *pb.GraphProto) map[string]bool {
	names := map[string]bool{}
	for _, n := range g.Node {
		if n.GetName() != "" {
			names[n.GetName()] = true
		}
		for _, o := range n.Output {
			names[o] = true
		}
	}
	for _, t := range g.Initializer {
		names[t.GetName()] = true
	}
	for _, in := range g.Input {
		names[in.GetName()] = true
	}
	return names
}
