package onnxtest

import (
	"fmt"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/pb"
)

// ExternalConv writes dir/m.onnx: input "image" (N, 3, 32, 32), one Conv with 8 filters of
// 3x3 whose weight "W" ([8, 3, 3, 3] float, 864 bytes) lives in the external data file
// location, and output "y". The caller puts whatever it likes at dir/location (a file, a
// symbolic link, a FIFO): this is the model of a probe that lifted /etc/passwd into an
// exported model through a symbolic link. The weight's declared shape can be changed with
// dims (nil keeps [8, 3, 3, 3]). It returns the model's path.
func ExternalConv(t testing.TB, dir, location string, dims []int64) string {
	t.Helper()
	if dims == nil {
		dims = []int64{8, 3, 3, 3}
	}
	b := onnx.NewBuilder("external-conv")
	x := b.Input("image", onnx.Float, -1, 3, 32, 32)
	w := b.Initializer("W", []int64{8, 3, 3, 3}, make([]float32, 8*3*3*3))
	y := b.Conv(x, w, "", onnx.ConvOpts{Pads: [4]int64{1, 1, 1, 1}})
	b.Output(y, "y", onnx.Float, -1, 8, 32, 32)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	for _, init := range m.Proto.Graph.Initializer {
		if init.GetName() != "W" {
			continue
		}
		init.Dims = dims
		init.RawData = nil
		init.DataLocation = pb.TensorProto_EXTERNAL.Enum()
		init.ExternalData = []*pb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String(location)}}
	}
	path := filepath.Join(dir, "m.onnx")
	if err := m.Write(path); err != nil {
		t.Fatal(fmt.Errorf("writing the external-data model: %w", err))
	}
	return path
}
