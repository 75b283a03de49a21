package onnx

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/catdog-ml/catdog/onnx/pb"
)

// fuzzSeed is a small valid model: a convolution, batch norm, pooling and a dense layer.
func fuzzSeed(f *testing.F) []byte {
	b := NewBuilder("seed")
	x := b.Input("image", Float, -1, 3, 8, 8)
	y := b.Conv(x, b.Initializer("w", []int64{4, 3, 3, 3}, make([]float32, 108)), b.Initializer("b", []int64{4}, make([]float32, 4)), ConvOpts{Pads: [4]int64{1, 1, 1, 1}})
	one := func(n string) string { return b.Initializer(n, []int64{4}, []float32{1, 1, 1, 1}) }
	y = b.BatchNorm(y, one("s"), one("z"), one("m"), one("v"), 1e-5)
	y = b.Flatten(b.GlobalAveragePool(b.Relu(y)), 1)
	y = b.Gemm(y, b.Initializer("fc", []int64{4, 1}, make([]float32, 4)), "", false)
	b.Output(b.Sigmoid(y), "prob", Float, -1, 1)
	m, err := b.Model()
	if err != nil {
		f.Fatal(err)
	}
	data, err := m.Encode()
	if err != nil {
		f.Fatal(err)
	}
	return data
}

// FuzzDecode feeds arbitrary bytes to the ONNX reader: no panic, no allocation driven by a
// declared size that the bytes do not back; what decodes inspects, lists its external data,
// and encodes to bytes that decode to the same model.
func FuzzDecode(f *testing.F) {
	seed := fuzzSeed(f)
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	// The same model with its first weight declared far larger than its bytes, and with its
	// weight moved to external data.
	m, _ := decode(seed, false)
	m.Proto.Graph.Initializer[0].Dims = []int64{1 << 20, 1 << 18, 3, 3}
	big, _ := m.Encode()
	f.Add(big)
	m, _ = decode(seed, false)
	w := m.Proto.Graph.Initializer[0]
	w.RawData, w.DataLocation = nil, pb.TensorProto_EXTERNAL.Enum()
	w.ExternalData = []*pb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("../../etc/passwd")}, {Key: proto.String("length"), Value: proto.String("99999999999")}}
	ext, _ := m.Encode()
	f.Add(ext)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decode(data, false)
		if err != nil {
			return
		}
		exts, err := m.externals()
		if err == nil {
			for _, e := range exts {
				if e.off < 0 || e.length < 0 {
					t.Fatalf("external data %+v accepted", e)
				}
			}
		}
		m.Inspect()
		for _, o := range m.Proto.GetGraph().GetOutput() {
			m.ShapeOf(o.GetName())
		}
		enc, err := m.Encode()
		if err != nil {
			return
		}
		again, err := decode(enc, false)
		if err != nil {
			t.Fatalf("a decoded model re-encodes to bytes that do not decode: %v", err)
		}
		enc2, _ := again.Encode()
		if !bytes.Equal(enc, enc2) {
			t.Fatal("encoding is not stable")
		}
	})
}
