package features

import (
	"fmt"

	onnxgo "github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	"gorgonia.org/tensor"

	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/pb"
)

// Gorgonia runs an ONNX model in Gorgonia through onnx-go (the gorgonnx backend): the second
// engine, used to check that onnxruntime and Gorgonia read a backbone the same way, and as
// the baseline of bench/features. It is slow (about 2.5 s per VGG16 image at 224x224) and
// not safe for concurrent use.
type Gorgonia struct {
	backend *gorgonnx.Graph
	model   *onnxgo.Model
	batch   int64
}

// NewGorgonia loads m into Gorgonia for inputs of exactly batch images: onnx-go needs static
// shapes, so the model's dynamic dimensions are fixed to batch first.
func NewGorgonia(m *onnx.Model, batch int) (*Gorgonia, error) {
	if batch < 1 {
		return nil, fmt.Errorf("gorgonia: batch %d: want >= 1", batch)
	}
	fixed := m.Clone()
	g := fixed.Graph()
	for _, vi := range append(append([]*pb.ValueInfoProto{}, g.Input...), g.Output...) {
		tt := vi.GetType().GetTensorType()
		if tt == nil || tt.Shape == nil {
			continue
		}
		for _, d := range tt.Shape.Dim {
			if _, ok := d.Value.(*pb.TensorShapeProto_Dimension_DimValue); !ok {
				d.Value = &pb.TensorShapeProto_Dimension_DimValue{DimValue: int64(batch)}
			}
		}
	}
	data, err := fixed.Encode()
	if err != nil {
		return nil, fmt.Errorf("gorgonia: %w", err)
	}
	backend := gorgonnx.NewGraph()
	model := onnxgo.NewModel(backend)
	if err := model.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("gorgonia: loading the model with onnx-go: %w", err)
	}
	return &Gorgonia{backend: backend, model: model, batch: int64(batch)}, nil
}

// Run feeds x (shape given, first dimension = the batch given to NewGorgonia) and returns
// the first output and its shape.
func (g *Gorgonia) Run(x []float32, shape ...int64) (out []float32, outShape []int64, err error) {
	if len(shape) == 0 || shape[0] != g.batch {
		return nil, nil, fmt.Errorf("gorgonia: input shape %v: the model was loaded for batch %d", shape, g.batch)
	}
	dims := make([]int, len(shape))
	for i, d := range shape {
		dims[i] = int(d)
	}
	in := tensor.New(tensor.WithShape(dims...), tensor.WithBacking(append([]float32(nil), x...)))
	defer func() {
		if r := recover(); r != nil { // Gorgonia panics on some shape errors
			err = fmt.Errorf("gorgonia: %v", r)
		}
	}()
	if err := g.model.SetInput(0, in); err != nil {
		return nil, nil, fmt.Errorf("gorgonia: input: %w", err)
	}
	if err := g.backend.Run(); err != nil {
		return nil, nil, fmt.Errorf("gorgonia: run: %w", err)
	}
	outs, err := g.model.GetOutputTensors()
	if err != nil || len(outs) == 0 {
		return nil, nil, fmt.Errorf("gorgonia: output: %v", err)
	}
	t := outs[0]
	data, ok := t.Data().([]float32)
	if !ok {
		return nil, nil, fmt.Errorf("gorgonia: output is %T, want []float32", t.Data())
	}
	for _, d := range t.Shape() {
		outShape = append(outShape, int64(d))
	}
	return append([]float32(nil), data...), outShape, nil
}
