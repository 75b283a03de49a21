package onnx

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/catdog-ml/catdog/onnx/pb"
)

// Summary describes a model: its inputs and outputs, each node with its output shape and
// parameter count, and totals. Print it with String or WriteTable.
type Summary struct {
	Graph       string
	IRVersion   int64
	Opsets      []Opset
	Producer    string
	Inputs      []Value
	Outputs     []Value
	Nodes       []Layer
	TotalParams int64 // elements of all initializers
	TotalMACs   int64 // multiply-accumulates per sample of Conv, Gemm and MatMul nodes, where shapes are known
	Metadata    map[string]string
}

// Opset is one operator set the model imports.
type Opset struct {
	Domain  string
	Version int64
}

// Value is a graph input or output.
type Value struct {
	Name  string
	DType DType
	Shape Shape
}

// Layer is one node of the graph.
type Layer struct {
	Name     string
	Op       string
	Inputs   []string // every input, weights included
	Outputs  []string
	Shape    Shape // shape of the first output, nil if unknown
	Params   int64 // elements of the initializers this node is the first to read
	Weights  []string
	MACs     int64    // multiply-accumulates per sample, 0 for other operators or unknown shapes
	DataFrom []string // inputs that are not initializers
}

// Inspect summarises the model. Shapes come from the model's declared value_info where
// present and are otherwise inferred for the common CNN operators.
func (m *Model) Inspect() Summary {
	g := m.Proto.GetGraph()
	info := m.inferShapes()
	s := Summary{
		Graph:     g.GetName(),
		IRVersion: m.Proto.GetIrVersion(),
		Producer:  strings.TrimSpace(m.Proto.GetProducerName() + " " + m.Proto.GetProducerVersion()),
		Metadata:  m.Metadata(),
	}
	for _, o := range m.Proto.OpsetImport {
		s.Opsets = append(s.Opsets, Opset{Domain: o.GetDomain(), Version: o.GetVersion()})
	}
	sizes := map[string]int64{}
	for _, t := range g.GetInitializer() {
		n := elemCount(t.Dims)
		sizes[t.GetName()] = n
		s.TotalParams += n
	}
	for _, in := range g.GetInput() {
		if _, isInit := sizes[in.GetName()]; isInit {
			continue
		}
		s.Inputs = append(s.Inputs, Value{Name: in.GetName(), DType: info[in.GetName()].dtype, Shape: info[in.GetName()].shape})
	}
	for _, o := range g.GetOutput() {
		s.Outputs = append(s.Outputs, Value{Name: o.GetName(), DType: info[o.GetName()].dtype, Shape: info[o.GetName()].shape})
	}
	counted := map[string]bool{}
	for _, n := range g.GetNode() {
		l := Layer{Name: n.GetName(), Op: n.GetOpType(), Inputs: n.Input, Outputs: n.Output}
		if len(n.Output) > 0 {
			l.Shape = info[n.Output[0]].shape
		}
		for _, in := range n.Input {
			size, isInit := sizes[in]
			if !isInit {
				if in != "" {
					l.DataFrom = append(l.DataFrom, in)
				}
				continue
			}
			l.Weights = append(l.Weights, in)
			if !counted[in] {
				counted[in] = true
				l.Params += size
			}
		}
		l.MACs = macs(n.GetOpType(), n, info)
		s.TotalMACs += l.MACs
		s.Nodes = append(s.Nodes, l)
	}
	return s
}

// macs estimates the multiply-accumulates per sample of one node.
func macs(op string, n *pb.NodeProto, info map[string]tensorInfo) int64 {
	if len(n.GetInput()) < 2 || len(n.GetOutput()) == 0 {
		return 0
	}
	out := info[n.GetOutput()[0]].shape.Elements()
	w := info[n.GetInput()[1]].shape
	if out <= 0 || w == nil {
		return 0
	}
	switch op {
	case "Conv":
		if len(w) != 4 {
			return 0
		}
		return out * w[1] * w[2] * w[3]
	case "Gemm", "MatMul":
		x := info[n.GetInput()[0]].shape
		if len(x) == 0 || x[len(x)-1] < 0 {
			return 0
		}
		k := x[len(x)-1]
		if op == "Gemm" && len(x) == 2 && attrInt(n, "transA", 0) != 0 {
			k = x[0]
		}
		return out * k
	}
	return 0
}

// String formats the summary as a table, one row per node.
func (s Summary) String() string {
	var b strings.Builder
	_ = s.WriteTable(&b)
	return b.String()
}

// WriteTable writes the summary to w: a header with the model's inputs, outputs and opsets,
// then a table of nodes with their output shapes, parameter and multiply-accumulate counts.
func (s Summary) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "graph %q", s.Graph)
	if s.Producer != "" {
		fmt.Fprintf(&b, ", produced by %s", s.Producer)
	}
	fmt.Fprintf(&b, ", IR version %d, opsets", s.IRVersion)
	for _, o := range s.Opsets {
		d := o.Domain
		if d == "" {
			d = "ai.onnx"
		}
		fmt.Fprintf(&b, " %s:%d", d, o.Version)
	}
	b.WriteString("\n")
	for _, v := range s.Inputs {
		fmt.Fprintf(&b, "input  %s: %s %s\n", v.Name, v.DType, v.Shape)
	}
	for _, v := range s.Outputs {
		fmt.Fprintf(&b, "output %s: %s %s\n", v.Name, v.DType, v.Shape)
	}
	for _, k := range sortedKeys(s.Metadata) {
		fmt.Fprintf(&b, "metadata %s = %s\n", k, s.Metadata[k])
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tnode\top\tinput\toutput shape\tparams\tMACs")
	for i, l := range s.Nodes {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", i, l.Name, l.Op, strings.Join(l.DataFrom, ","), l.Shape,
			groupDigits(l.Params), groupDigits(l.MACs))
	}
	fmt.Fprintf(tw, "\ttotal\t\t\t\t%s\t%s\n", groupDigits(s.TotalParams), groupDigits(s.TotalMACs))
	return tw.Flush()
}

// groupDigits writes n with thousands separators, "-" for zero.
func groupDigits(n int64) string {
	if n == 0 {
		return "-"
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && c != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
