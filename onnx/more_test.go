package onnx_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/onnxtest"
	"github.com/catdog-ml/catdog/onnx/pb"
)

// TestExternalData moves every weight to an external file, as large exports do, and reads
// the model back.
func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	m := smallCNN(t, 16)
	want, _ := m.Encode()
	ext := m.Clone()
	var blob []byte
	for _, init := range ext.Proto.Graph.Initializer {
		init.DataLocation = pb.TensorProto_EXTERNAL.Enum()
		init.ExternalData = []*pb.StringStringEntryProto{
			{Key: proto.String("location"), Value: proto.String("weights.bin")},
			{Key: proto.String("offset"), Value: proto.String(fmt.Sprint(len(blob)))},
			{Key: proto.String("length"), Value: proto.String(fmt.Sprint(len(init.RawData)))},
		}
		blob = append(blob, init.RawData...)
		init.RawData = nil
	}
	path := filepath.Join(dir, "ext.onnx")
	if err := ext.Write(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "weights.bin"), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := onnx.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := got.Encode(); string(b) != string(want) {
		t.Error("external weights not restored inline")
	}
	data, _ := os.ReadFile(path)
	if _, err := onnx.Decode(data); !errors.Is(err, onnx.ErrExternalData) {
		t.Errorf("Decode: %v, want ErrExternalData", err)
	}

	// Truncated weight file, and a location outside the model's folder.
	os.WriteFile(filepath.Join(dir, "weights.bin"), blob[:len(blob)/2], 0o644)
	if _, err := onnx.Read(path); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated external data: %v", err)
	}
	ext.Proto.Graph.Initializer[0].ExternalData[0].Value = proto.String("../../etc/passwd")
	ext.Write(path)
	if _, err := onnx.Read(path); err == nil || !strings.Contains(err.Error(), `"../../etc/passwd" leads outside`) {
		t.Errorf("escaping location: %v", err)
	}
}

// TestOldStyleInputs cuts and composes a model that, like IR < 4 exports, lists its
// initializers among the graph inputs, with a fixed batch of 1.
func TestOldStyleInputs(t *testing.T) {
	m := vggish(t, 16)
	g := m.Proto.Graph
	g.Input[0] = onnx.ValueInfo("data", onnx.Float, 1, 3, 16, 16)
	for _, init := range g.Initializer {
		g.Input = append(g.Input, onnx.ValueInfo(init.GetName(), onnx.Float, init.Dims...))
	}
	s := m.Inspect()
	if len(s.Inputs) != 1 || s.Inputs[0].Shape.String() != "(1, 3, 16, 16)" {
		t.Fatalf("inputs %v", s.Inputs)
	}
	m.SetBatchDim("")
	c, err := m.Cut("block1_pool")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Proto.Graph.Input); n != 5 { // data + 4 weights of block 1
		t.Errorf("%d inputs after cut, want 5", n)
	}
	if s := c.Inspect(); s.Inputs[0].Shape.String() != "(N, 3, 16, 16)" || s.Outputs[0].Shape.String() != "(N, 4, 8, 8)" {
		t.Errorf("input %s output %s", s.Inputs[0].Shape, s.Outputs[0].Shape)
	}
	p := filepath.Join(t.TempDir(), "old.onnx")
	if err := c.Write(p); err != nil {
		t.Fatal(err)
	}
	onnxtest.CheckModel(t, p)
}

// TestCheckerCatchesErrors makes sure the checker helper can fail: an Add of a 3- and a
// 4-channel tensor, and a Conv without its weights.
func TestCheckerCatchesErrors(t *testing.T) {
	b := onnx.NewBuilder("bad")
	x := b.Input("x", onnx.Float, -1, 3)
	y := b.Node("NoSuchOp", []string{x}, nil)
	b.Output(y, "y", onnx.Float, -1, 3)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "bad.onnx")
	if err := m.Write(p); err != nil {
		t.Fatal(err)
	}
	onnxtest.Python(t) // skip here rather than in Run when python3-onnx is missing
	out, err := onnxtest.Run(t, `
import sys, onnx, onnx.checker
try:
    onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)
except Exception as e:
    print("rejected:", e)
`, p)
	if err != nil || !strings.Contains(out, "rejected") || !strings.Contains(out, "NoSuchOp") {
		t.Errorf("checker accepted an unknown operator: %v %s", err, out)
	}
}

func TestValidate(t *testing.T) {
	m := smallCNN(t, 16)
	bad := m.Clone()
	g := bad.Proto.Graph
	g.Node[0], g.Node[1] = g.Node[1], g.Node[0]
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "not defined before it") {
		t.Errorf("out of order nodes: %v", err)
	}
	if _, err := bad.Encode(); err != nil {
		t.Errorf("Encode refuses what it is given: %v", err)
	}
}

func TestSetMetadata(t *testing.T) {
	m := smallCNN(t, 16)
	m.SetMetadata("k", "1")
	m.SetMetadata("k", "2")
	if md := m.Metadata(); md["k"] != "2" || len(m.Proto.MetadataProps) != 2 {
		t.Errorf("metadata %v", md)
	}
}

func ExampleNewBuilder() {
	b := onnx.NewBuilder("tiny")
	x := b.Input("image", onnx.Float, -1, 3, 8, 8)
	w := b.Initializer("conv.weight", []int64{2, 3, 3, 3}, make([]float32, 2*3*3*3))
	y := b.Name("conv").Conv(x, w, "", onnx.ConvOpts{Pads: [4]int64{1, 1, 1, 1}})
	y = b.MaxPool(b.Relu(y), 2, 2)
	y = b.Flatten(y, 1)
	y = b.Gemm(y, b.Initializer("fc.weight", []int64{1, 32}, make([]float32, 32)), "", true)
	b.Output(b.Sigmoid(y), "prob_cat", onnx.Float, -1, 1)
	m, err := b.Model()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(m.Inspect())
	// Output:
	// graph "tiny", produced by catdog, IR version 7, opsets ai.onnx:13
	// input  image: float (N, 3, 8, 8)
	// output prob_cat: float (N, 1)
	//
	// #  node       op       input      output shape  params  MACs
	// 0  conv       Conv     image      (N, 2, 8, 8)  54      3,456
	// 1  relu_1     Relu     conv       (N, 2, 8, 8)  -       -
	// 2  maxpool_1  MaxPool  relu_1     (N, 2, 4, 4)  -       -
	// 3  flatten_1  Flatten  maxpool_1  (N, 32)       -       -
	// 4  gemm_1     Gemm     flatten_1  (N, 1)        32      32
	// 5  sigmoid_1  Sigmoid  gemm_1     (N, 1)        -       -
	//    total                                        86      3,488
}

func ExampleCompose() {
	backbone := onnx.NewBuilder("backbone")
	x := backbone.Input("data", onnx.Float, -1, 3, 4, 4)
	x = backbone.Relu(x)
	x = backbone.Name("pool").MaxPool(x, 2, 2)
	backbone.Output(x, "pool", onnx.Float, -1, 3, 2, 2)
	bm, _ := backbone.Model()

	head := onnx.NewBuilder("head")
	f := head.Input("features", onnx.Float, -1, 3, 2, 2)
	f = head.Flatten(head.GlobalAveragePool(f), 1)
	f = head.Gemm(f, head.Initializer("w", []int64{3, 1}, []float32{1, 1, 1}), "", false)
	head.Output(head.Sigmoid(f), "prob_cat", onnx.Float, -1, 1)
	hm, _ := head.Model()

	m, err := onnx.Compose(bm, "pool", hm, "features", "head/")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range m.Inspect().Nodes {
		fmt.Println(n.Name, n.Op, n.Shape)
	}
	// Output:
	// relu_1 Relu (N, 3, 4, 4)
	// pool MaxPool (N, 3, 2, 2)
	// head/globalaveragepool_1 GlobalAveragePool (N, 3, 1, 1)
	// head/flatten_1 Flatten (N, 3)
	// head/gemm_1 Gemm (N, 1)
	// head/sigmoid_1 Sigmoid (N, 1)
}

func TestTensorData(t *testing.T) {
	raw := onnx.FloatTensor("a", []int64{2, 2}, []float32{1, -2, 3.5, 0})
	typed := &pb.TensorProto{Name: proto.String("b"), Dims: []int64{3}, DataType: proto.Int32(int32(onnx.Float)), FloatData: []float32{4, 5, 6}}
	for _, tt := range []struct {
		t    *pb.TensorProto
		want []float32
	}{{raw, []float32{1, -2, 3.5, 0}}, {typed, []float32{4, 5, 6}}} {
		got, err := onnx.Float32s(tt.t)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: %v %v, want %v", tt.t.GetName(), got, err, tt.want)
		}
	}
	ints, err := onnx.Int64s(onnx.Int64Tensor("s", []int64{3}, []int64{0, -1, 1 << 40}))
	if err != nil || fmt.Sprint(ints) != fmt.Sprint([]int64{0, -1, 1 << 40}) {
		t.Errorf("Int64s = %v, %v", ints, err)
	}
	short := onnx.FloatTensor("c", []int64{5}, []float32{1, 2})
	if _, err := onnx.Float32s(short); err == nil || !strings.Contains(err.Error(), "want 20") {
		t.Errorf("short raw_data: %v", err)
	}
	if _, err := onnx.Int64s(raw); err == nil || !strings.Contains(err.Error(), "not int64") {
		t.Errorf("wrong type: %v", err)
	}
}
