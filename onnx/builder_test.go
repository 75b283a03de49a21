package onnx_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/onnxtest"
)

func randFloats(r *rand.Rand, n int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = (r.Float32()*2 - 1) * scale
	}
	return out
}

// smallCNN builds conv(3->4) relu maxpool conv(4->8) bn relu gap flatten gemm sigmoid on
// a size x size RGB input.
func smallCNN(t testing.TB, size int64) *onnx.Model {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	b := onnx.NewBuilder("small")
	x := b.Input("image", onnx.Float, -1, 3, size, size)
	w1 := b.Initializer("conv1.weight", []int64{4, 3, 3, 3}, randFloats(r, 4*3*3*3, 0.3))
	b1 := b.Initializer("conv1.bias", []int64{4}, randFloats(r, 4, 0.1))
	y := b.Name("conv1").Conv(x, w1, b1, onnx.ConvOpts{Pads: [4]int64{1, 1, 1, 1}})
	y = b.Relu(y)
	y = b.MaxPool(y, 2, 2)
	w2 := b.Initializer("conv2.weight", []int64{8, 4, 3, 3}, randFloats(r, 8*4*3*3, 0.3))
	y = b.Conv(y, w2, "", onnx.ConvOpts{Pads: [4]int64{1, 1, 1, 1}})
	bn := func(name string, base float32) string {
		v := randFloats(r, 8, 0.1)
		for i := range v {
			v[i] += base
		}
		return b.Initializer(name, []int64{8}, v)
	}
	y = b.BatchNorm(y, bn("bn.scale", 1), bn("bn.bias", 0), bn("bn.mean", 0), bn("bn.var", 1), 1e-5)
	y = b.Relu(y)
	y = b.Dropout(y)
	y = b.GlobalAveragePool(y)
	y = b.Flatten(y, 1)
	w3 := b.Initializer("fc.weight", []int64{1, 8}, randFloats(r, 8, 0.5))
	b3 := b.Initializer("fc.bias", []int64{1}, []float32{0.1})
	y = b.Gemm(y, w3, b3, true)
	y = b.Sigmoid(y)
	b.Output(y, "prob_cat", onnx.Float, -1, 1)
	b.SetMetadata("catdog.arch", "small")
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBuilderWriteReadCheck(t *testing.T) {
	m := smallCNN(t, 16)
	path := filepath.Join(t.TempDir(), "small.onnx")
	if err := m.Write(path); err != nil {
		t.Fatal(err)
	}
	onnxtest.CheckModel(t, path)

	got, err := onnx.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := m.Encode()
	c, _ := got.Encode()
	if !bytes.Equal(a, c) {
		t.Errorf("round trip changed the model: %d bytes written, %d after reading back", len(a), len(c))
	}
	if got.Metadata()["catdog.arch"] != "small" {
		t.Errorf("metadata lost: %v", got.Metadata())
	}
	if got.Opset("") != onnx.OpsetVersion || got.Proto.GetIrVersion() != onnx.IRVersion {
		t.Errorf("opset %d ir %d", got.Opset(""), got.Proto.GetIrVersion())
	}
	// No temporary files left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries after Write, want 1", len(entries))
	}
}

func TestBuilderDeterministic(t *testing.T) {
	a, err := smallCNN(t, 16).Encode()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := smallCNN(t, 16).Encode()
	if !bytes.Equal(a, b) {
		t.Fatal("two identical builds gave different bytes")
	}
}

func TestBuilderErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *onnx.Builder)
		want  string
	}{
		{"unknown input", func(b *onnx.Builder) {
			x := b.Input("x", onnx.Float, -1, 3)
			b.Output(b.Add(x, "nope"), "y", onnx.Float, -1, 3)
		}, `unknown input tensor "nope"`},
		{"name twice", func(b *onnx.Builder) {
			x := b.Input("x", onnx.Float, -1, 3)
			b.Initializer("x", []int64{1}, []float32{1})
			b.Output(b.Relu(x), "y", onnx.Float, -1, 3)
		}, `"x" used twice`},
		{"bad initializer size", func(b *onnx.Builder) {
			x := b.Input("x", onnx.Float, -1, 3)
			w := b.Initializer("w", []int64{2, 2}, []float32{1})
			b.Output(b.Add(x, w), "y", onnx.Float, -1, 3)
		}, "needs 4 values, got 1"},
		{"no output", func(b *onnx.Builder) {
			b.Relu(b.Input("x", onnx.Float, -1, 3))
		}, "no output"},
		{"bad attribute", func(b *onnx.Builder) {
			x := b.Input("x", onnx.Float, -1, 3)
			b.Output(b.Node("Relu", []string{x}, map[string]any{"a": struct{}{}}), "y", onnx.Float, -1, 3)
		}, "unsupported Go type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := onnx.NewBuilder("bad")
			tt.build(b)
			_, err := b.Model()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Model() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := smallCNN(t, 16).Encode()
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		want    string
		notONNX bool
	}{
		{"missing", filepath.Join(dir, "nope.onnx"), "does not exist", false},
		{"empty", write("empty.onnx", nil), "empty", true},
		{"text", write("text.onnx", []byte("name,label\ncat.1.jpg,1\n")), "not an ONNX model", true},
		{"jpeg", write("photo.onnx", []byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0}), "not an ONNX model", true},
		{"truncated", write("cut.onnx", good[:len(good)*2/3]), "truncated or corrupt", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := onnx.Read(tt.path)
			if err == nil {
				t.Fatal("Read succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q should name %s and say %q", err, tt.path, tt.want)
			}
			if errors.Is(err, onnx.ErrNotONNX) != tt.notONNX {
				t.Errorf("errors.Is(err, ErrNotONNX) = %v, want %v", !tt.notONNX, tt.notONNX)
			}
			if tt.name == "missing" && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("missing file error does not wrap os.ErrNotExist: %v", err)
			}
		})
	}
}
