package onnx_test

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/onnxtest"
)

// vggish builds two VGG blocks (conv relu conv relu maxpool) and a dense head, input
// (N, 3, size, size).
func vggish(t testing.TB, size int64) *onnx.Model {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	b := onnx.NewBuilder("vggish")
	x := b.Input("data", onnx.Float, -1, 3, size, size)
	ch := int64(3)
	for blk, out := range []int64{4, 8} {
		for l := 1; l <= 2; l++ {
			name := "block" + string(rune('1'+blk)) + "_conv" + string(rune('0'+l))
			w := b.Initializer(name+".w", []int64{out, ch, 3, 3}, randFloats(r, int(out*ch*9), 0.3))
			bias := b.Initializer(name+".b", []int64{out}, randFloats(r, int(out), 0.1))
			x = b.Relu(b.Name(name).Conv(x, w, bias, onnx.ConvOpts{Pads: [4]int64{1, 1, 1, 1}}))
			ch = out
		}
		x = b.Name("block"+string(rune('1'+blk))+"_pool").MaxPool(x, 2, 2)
	}
	x = b.Flatten(x, 1)
	side := size / 4
	w := b.Initializer("fc.w", []int64{8 * side * side, 2}, randFloats(r, int(8*side*side*2), 0.1))
	x = b.Gemm(x, w, b.Initializer("fc.b", []int64{2}, []float32{0, 0}), false)
	x = b.Dropout(x)
	b.Output(x, "logits", onnx.Float, -1, 2)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInspect(t *testing.T) {
	s := smallCNN(t, 16).Inspect()
	want := []struct {
		op     string
		shape  string
		params int64
		macs   int64
	}{
		{"Conv", "(N, 4, 16, 16)", 4*3*9 + 4, 4 * 16 * 16 * 3 * 9},
		{"Relu", "(N, 4, 16, 16)", 0, 0},
		{"MaxPool", "(N, 4, 8, 8)", 0, 0},
		{"Conv", "(N, 8, 8, 8)", 8 * 4 * 9, 8 * 8 * 8 * 4 * 9},
		{"BatchNormalization", "(N, 8, 8, 8)", 4 * 8, 0},
		{"Relu", "(N, 8, 8, 8)", 0, 0},
		{"Dropout", "(N, 8, 8, 8)", 0, 0},
		{"GlobalAveragePool", "(N, 8, 1, 1)", 0, 0},
		{"Flatten", "(N, 8)", 0, 0},
		{"Gemm", "(N, 1)", 9, 8},
		{"Sigmoid", "(N, 1)", 0, 0},
	}
	if len(s.Nodes) != len(want) {
		t.Fatalf("%d nodes, want %d:\n%s", len(s.Nodes), len(want), s)
	}
	var total int64
	for i, w := range want {
		n := s.Nodes[i]
		if n.Op != w.op || n.Shape.String() != w.shape || n.Params != w.params || n.MACs != w.macs {
			t.Errorf("node %d = %s %s params %d MACs %d, want %s %s %d %d", i, n.Op, n.Shape, n.Params, n.MACs, w.op, w.shape, w.params, w.macs)
		}
		total += w.params
	}
	if s.TotalParams != total {
		t.Errorf("total params %d, want %d", s.TotalParams, total)
	}
	if len(s.Inputs) != 1 || s.Inputs[0].Shape.String() != "(N, 3, 16, 16)" || len(s.Outputs) != 1 || s.Outputs[0].Name != "prob_cat" {
		t.Errorf("inputs %v outputs %v", s.Inputs, s.Outputs)
	}
	table := s.String()
	for _, frag := range []string{"conv1", "BatchNormalization", "(N, 8, 1, 1)", "input  image: float (N, 3, 16, 16)", "output prob_cat: float (N, 1)", "catdog.arch = small", "ai.onnx:13"} {
		if !strings.Contains(table, frag) {
			t.Errorf("table lacks %q:\n%s", frag, table)
		}
	}
}

func TestCut(t *testing.T) {
	m := vggish(t, 16)
	last, err := m.LastConvBlockOutput()
	if err != nil {
		t.Fatal(err)
	}
	if last != "block2_pool" {
		t.Fatalf("LastConvBlockOutput = %q, want block2_pool", last)
	}
	tests := []struct {
		at, out   string
		nodes     int
		inits     int
		shape     string
		wantError string
	}{
		{at: "block2_pool", out: "block2_pool", nodes: 10, inits: 8, shape: "(N, 8, 4, 4)"},
		{at: "block1_pool", out: "block1_pool", nodes: 5, inits: 4, shape: "(N, 4, 8, 8)"},
		{at: "block1_conv1", out: "block1_conv1", nodes: 1, inits: 2, shape: "(N, 4, 16, 16)"},
		{at: "relu_1", out: "relu_1", nodes: 2, inits: 2, shape: "(N, 4, 16, 16)"},
		{at: "logits", out: "logits", nodes: 13, inits: 10, shape: "(N, 2)"},
		{at: "nope", wantError: "no node or node output"},
		{at: "data", wantError: "graph input"},
	}
	for _, tt := range tests {
		t.Run(tt.at, func(t *testing.T) {
			c, err := m.Cut(tt.at)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("Cut error = %v, want %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g := c.Proto.Graph
			if len(g.Node) != tt.nodes || len(g.Initializer) != tt.inits {
				t.Errorf("%d nodes %d initializers, want %d %d", len(g.Node), len(g.Initializer), tt.nodes, tt.inits)
			}
			s := c.Inspect()
			if len(s.Outputs) != 1 || s.Outputs[0].Name != tt.out || s.Outputs[0].Shape.String() != tt.shape {
				t.Errorf("outputs %+v, want %s %s", s.Outputs, tt.out, tt.shape)
			}
			p := filepath.Join(t.TempDir(), "cut.onnx")
			if err := c.Write(p); err != nil {
				t.Fatal(err)
			}
			onnxtest.CheckModel(t, p)
		})
	}
	// The original is untouched.
	if len(m.Proto.Graph.Node) != 13 {
		t.Errorf("Cut changed the original model")
	}
}

func TestLastConvBlockOutputErrors(t *testing.T) {
	b := onnx.NewBuilder("noconv")
	x := b.Input("x", onnx.Float, -1, 3, 4, 4)
	b.Output(b.MaxPool(b.Relu(x), 2, 2), "y", onnx.Float, -1, 3, 2, 2)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.LastConvBlockOutput(); err == nil || !strings.Contains(err.Error(), "no Conv") {
		t.Errorf("error = %v", err)
	}

	b = onnx.NewBuilder("nopool")
	x = b.Input("x", onnx.Float, -1, 3, 4, 4)
	x = b.MaxPool(x, 2, 2) // a pool before the conv does not count
	w := b.Initializer("w", []int64{2, 3, 1, 1}, make([]float32, 6))
	b.Output(b.Relu(b.Conv(x, w, "", onnx.ConvOpts{})), "y", onnx.Float, -1, 2, 2, 2)
	if m, err = b.Model(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.LastConvBlockOutput(); err == nil || !strings.Contains(err.Error(), "no MaxPool after the last Conv") {
		t.Errorf("error = %v", err)
	}
}

// head builds Flatten Gemm Sigmoid on a (N, c, s, s) input called features.
func head(t testing.TB, c, s int64, names string) *onnx.Model {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	b := onnx.NewBuilder("head")
	x := b.Input("features", onnx.Float, -1, c, s, s)
	x = b.Flatten(x, 1)
	w := b.Initializer(names+".w", []int64{1, c * s * s}, randFloats(r, int(c*s*s), 0.2))
	x = b.Sigmoid(b.Gemm(x, w, b.Initializer(names+".b", []int64{1}, []float32{0.05}), true))
	b.Output(x, "prob_cat", onnx.Float, -1, 1)
	b.SetMetadata("catdog.arch", "head")
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCompose(t *testing.T) {
	backbone := vggish(t, 16)
	backbone.SetMetadata("catdog.backbone", "vggish")
	backbone.Proto.OpsetImport[0].Version = ptr(int64(12))
	m, err := onnx.Compose(backbone, "block2_pool", head(t, 8, 4, "fc"), "features", "head/")
	if err != nil {
		t.Fatal(err)
	}
	s := m.Inspect()
	if len(s.Inputs) != 1 || s.Inputs[0].Name != "data" || len(s.Outputs) != 1 || s.Outputs[0].Name != "prob_cat" {
		t.Fatalf("inputs %v outputs %v", s.Inputs, s.Outputs)
	}
	if s.Outputs[0].Shape.String() != "(N, 1)" {
		t.Errorf("output shape %s", s.Outputs[0].Shape)
	}
	// The backbone's own head (flatten, gemm, dropout) is gone; the new head is prefixed.
	var names []string
	for _, n := range s.Nodes {
		names = append(names, n.Name)
	}
	got := " " + strings.Join(names, " ") + " "
	if strings.Contains(got, " gemm_1 ") || !strings.Contains(got, "head/gemm_1") || !strings.Contains(got, "head/flatten_1") {
		t.Errorf("nodes: %s", got)
	}
	if m.Initializer("fc.w") != nil || m.Initializer("head/fc.w") == nil {
		t.Errorf("initializers not pruned/prefixed")
	}
	if m.Opset("") != 13 {
		t.Errorf("opset %d, want 13 (the higher)", m.Opset(""))
	}
	md := m.Metadata()
	if md["catdog.backbone"] != "vggish" || md["catdog.arch"] != "head" {
		t.Errorf("metadata %v", md)
	}
	p := filepath.Join(t.TempDir(), "composed.onnx")
	if err := m.Write(p); err != nil {
		t.Fatal(err)
	}
	onnxtest.CheckModel(t, p)
}

func TestComposeErrors(t *testing.T) {
	backbone := vggish(t, 16)
	tests := []struct {
		name                     string
		out, in, prefix, wantErr string
		head                     *onnx.Model
	}{
		{"shape mismatch", "block1_pool", "features", "h/", "has shape (N, 4, 8, 8) but \"features\" wants (N, 8, 4, 4)", head(t, 8, 4, "x")},
		{"no such input", "block2_pool", "images", "h/", "no input \"images\"", head(t, 8, 4, "x")},
		{"no such output", "pool9", "features", "h/", "first model", head(t, 8, 4, "x")},
		{"collision", "block2_pool", "features", "", "is in both models", head(t, 8, 4, "fc")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := onnx.Compose(backbone, tt.out, tt.head, tt.in, tt.prefix)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
