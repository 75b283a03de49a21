package finetune

import (
	"fmt"
	"strconv"

	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/onnx"
)

// Backbone is a frozen feature extractor placed in front of a transfer head on export.
type Backbone struct {
	// Name is recorded as catdog.backbone.
	Name string
	// Model takes exported.InputName (float32 NCHW, plain RGB 0..255, its preprocessing inside)
	// and produces Output, the features the head was trained on.
	Model  *onnx.Model
	Output string
	// Params is the number of its weights (for reports; 0 if unknown).
	Params int
}

// fits checks, before any training, that the backbone gives features of the shape cached in
// featuresDir (sample, per photo), so that features of another backbone (a folder copied
// over, its checksums rewritten) are refused at once, not at export after the epochs. A
// backbone whose output shape static inference cannot fix is checked at export only.
func (bb *Backbone) fits(sample []int, featuresDir string) error {
	if bb == nil || bb.Model == nil {
		return nil
	}
	got, err := bb.Model.ShapeOf(bb.Output)
	if err != nil {
		return fmt.Errorf("backbone %s: %w", bb.Name, err)
	}
	want := onnx.Shape{-1}
	for _, d := range sample {
		want = append(want, int64(d))
	}
	if got == nil {
		return nil
	}
	same := len(got) == len(want)
	for i := 1; same && i < len(got); i++ {
		same = got[i] < 0 || got[i] == want[i]
	}
	if !same {
		return fmt.Errorf("the features in %s have shape %s, but backbone %s gives %s at %q: they are not its features (extract them again: catdog extract-features --backbone %s --force)",
			featuresDir, want, bb.Name, got, bb.Output, bb.Name)
	}
	return nil
}

// ExportOptions say how Model.Export names and prepares the input.
type ExportOptions struct {
	// Input names the graph input (exported.InputName by default).
	Input string
	// Scale multiplies the input first, inside the graph (0: no scaling). TrainCNN's models
	// use ImageScale.
	Scale float32
	// Classes are the class names in label order, written as exported.MetaLabels; nil
	// means Dogs vs. Cats (DefaultClasses). There must be as many as the model tells apart.
	Classes []string
	// Metadata is written to metadata_props.
	Metadata map[string]string
}

// Export writes the model's inference math as an ONNX graph: input (N, Input...) float32,
// output exported.OutputName (N, 1), the probability of label 1, for two classes, or
// exported.ProbabilitiesName (N, C), the softmax probabilities in label order, for C >= 3.
// Dropout becomes the identity, batch norm a BatchNormalization node with the running
// statistics and BNEpsilon, the final softmax a Softmax node on the last axis.
func (m *Model) Export(opts ExportOptions) (*onnx.Model, error) {
	if opts.Input == "" {
		opts.Input = exported.InputName
	}
	if opts.Classes == nil {
		opts.Classes = DefaultClasses()
	}
	if err := checkClasses(m, opts.Classes, nil); err != nil {
		return nil, fmt.Errorf("exporting %s: %w", m.Name, err)
	}
	b := onnx.NewBuilder("catdog-" + m.Name)
	dims := []int64{-1}
	for _, d := range m.Input {
		dims = append(dims, int64(d))
	}
	x := b.Input(opts.Input, onnx.Float, dims...)
	if opts.Scale != 0 {
		s := b.Initializer("input_scale", []int64{}, []float32{opts.Scale})
		x = b.Name("scaled_input").Mul(x, s)
	}
	e := &exporter{b: b}
	for _, u := range m.units {
		x = u.info.export(e, u, x)
	}
	if c := m.Classes(); c > 2 {
		b.Output(x, exported.ProbabilitiesName, onnx.Float, -1, int64(c))
	} else {
		b.Output(x, exported.OutputName, onnx.Float, -1, 1)
	}
	b.SetMetadata(exported.MetaLabels, exported.EncodeLabels(opts.Classes))
	b.SetMetadata(exported.MetaArch, m.Name)
	b.SetMetadata(exported.MetaLayers, SpecString(m.Layers))
	if len(m.Input) == 3 && opts.Input == exported.InputName {
		b.SetMetadata(exported.MetaInputSize, strconv.Itoa(m.Input[2]))
		b.SetMetadata(exported.MetaLayout, "NCHW")
	}
	for k, v := range opts.Metadata {
		b.SetMetadata(k, v)
	}
	mod, err := b.Model()
	if err != nil {
		return nil, fmt.Errorf("exporting %s: %w", m.Name, err)
	}
	return mod, nil
}

// exporter is what a kind's export (kindInfo.export) writes its ONNX nodes with.
type exporter struct {
	b *onnx.Builder
	// zero and six are ReLU6's bounds, made once.
	zero, six string
}

// init writes p as an initializer named after it.
func (e *exporter) init(p *Param) string {
	shape := make([]int64, len(p.Shape))
	for i, d := range p.Shape {
		shape[i] = int64(d)
	}
	return e.b.Initializer(p.Name, shape, p.Data)
}

// conv writes a Conv node with c's filters and bias, padding pad on every side, stride 1.
func (e *exporter) conv(x string, c convW, pad int) string {
	p := int64(pad)
	return e.b.Conv(x, e.init(c.w), e.init(c.b), onnx.ConvOpts{Pads: [4]int64{p, p, p, p}})
}

// bn writes a BatchNormalization node with w's running statistics and BNEpsilon.
func (e *exporter) bn(x string, w bnW) string {
	return e.b.BatchNorm(x, e.init(w.gamma), e.init(w.beta), e.init(w.mean), e.init(w.vari), BNEpsilon)
}

// relu6 writes min(max(x, 0), 6) as a Clip node.
func (e *exporter) relu6(x string) string {
	if e.zero == "" {
		e.zero, e.six = e.b.Initializer("clip_min", nil, []float32{0}), e.b.Initializer("clip_max", nil, []float32{6})
	}
	return e.b.Node("Clip", []string{x, e.zero, e.six}, nil)
}

// ExportWithBackbone exports a transfer head behind bb: one model from exported.InputName to
// the head's output (exported.OutputName for two classes, exported.ProbabilitiesName for
// more: see Export), classes (nil: Dogs vs. Cats) in its metadata. The head's names get
// the prefix "head/".
func (m *Model) ExportWithBackbone(bb *Backbone, classes []string, meta map[string]string) (*onnx.Model, error) {
	if bb == nil || bb.Model == nil || bb.Model.Proto.GetGraph() == nil {
		return nil, fmt.Errorf("exporting %s: no backbone model", m.Name)
	}
	ins := bb.Model.Proto.GetGraph().GetInput()
	if len(ins) == 0 || ins[0].GetName() != exported.InputName {
		name := ""
		if len(ins) > 0 {
			name = ins[0].GetName()
		}
		return nil, fmt.Errorf("exporting %s: backbone %s takes input %q, want %q (plain RGB 0..255 with its preprocessing inside: backbones.Backbone.WithPreprocess)", m.Name, bb.Name, name, exported.InputName)
	}
	head, err := m.Export(ExportOptions{Input: exported.FeaturesName, Classes: classes})
	if err != nil {
		return nil, err
	}
	full, err := onnx.Compose(bb.Model, bb.Output, head, exported.FeaturesName, "head/")
	if err != nil {
		return nil, fmt.Errorf("joining backbone %s and head: %w", bb.Name, err)
	}
	full.SetMetadata(exported.MetaBackbone, bb.Name)
	for k, v := range meta {
		full.SetMetadata(k, v)
	}
	return full, nil
}
