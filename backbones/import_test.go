package backbones_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/internal/userfile"
	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/onnxtest"
)

// kerasLike builds a small NHWC model shaped like a tf2onnx export: input (unk, S, S, 3),
// a transpose to NCHW, two conv blocks, a dense head.
func kerasLike(t testing.TB, size int64) *onnx.Model {
	t.Helper()
	b := onnx.NewBuilder("keras")
	x := b.Input("input_1", onnx.Float, -1, size, size, 3)
	x = b.Transpose(x, 0, 3, 1, 2)
	in := int64(3)
	for blk, out := range []int64{4, 8} {
		w := make([]float32, out*in*9)
		for i := range w {
			w[i] = float32(i%5-2) / 20
		}
		name := "block" + string(rune('1'+blk))
		x = b.Relu(b.Name(name+"_conv1").Conv(x, b.Initializer(name+"_w", []int64{out, in, 3, 3}, w), "", onnx.ConvOpts{Pads: [4]int64{1, 1, 1, 1}}))
		x = b.Name(name+"_pool").MaxPool(x, 2, 2)
		in = out
	}
	x = b.Flatten(x, 1)
	x = b.Gemm(x, b.Initializer("fc", []int64{8 * size * size / 16, 2}, make([]float32, 8*size*size/16*2)), "", false)
	b.Output(x, "predictions", onnx.Float, -1, 2)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestImport(t *testing.T) {
	dir := t.TempDir()
	opts := backbones.Options{CacheDir: filepath.Join(dir, "store")}
	file := filepath.Join(dir, "keras.onnx")
	writeModel(t, kerasLike(t, 32), file)

	spec := kerasCaffe
	spec.Name = "keras-vgg"
	spec.InputSize = 32
	spec.CutAt = "block2_pool"
	got, err := backbones.Import(ctx, file, spec, false, opts)
	if err != nil {
		t.Fatal(err)
	}
	if onnx.Shape(got.OutputShape).String() != "(N, 8, 8, 8)" || got.Input != "input_1" || len(got.SHA256) != 64 {
		t.Errorf("imported spec %+v", got)
	}

	bb, err := backbones.Load(ctx, "keras-vgg", opts)
	if err != nil {
		t.Fatal(err)
	}
	if bb.Output != "block2_pool" || bb.Spec.Layout != backbones.NHWC || bb.Spec.Channels != backbones.BGR || bb.Spec.Random {
		t.Errorf("loaded %+v output %s", bb.Spec, bb.Output)
	}
	m, err := bb.WithPreprocess()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "with-pre.onnx")
	writeModel(t, m, p)
	onnxtest.CheckModel(t, p)

	specs, err := backbones.List(opts)
	if err != nil || len(specs) != 5 || specs[4].Name != "keras-vgg" {
		t.Errorf("List = %v, %v", specs, err)
	}

	// The stored model is checked against its recorded checksum.
	stored := filepath.Join(opts.CacheDir, "keras-vgg", "model.onnx")
	data, _ := os.ReadFile(stored)
	data[len(data)-1] ^= 1
	os.WriteFile(stored, data, 0o644)
	if _, err := backbones.Load(ctx, "keras-vgg", opts); err == nil || !strings.Contains(err.Error(), "changed since it was imported") {
		t.Errorf("tampered store: %v", err)
	}

	tests := []struct {
		name    string
		edit    func(*backbones.Spec)
		replace bool
		want    string
	}{
		{"exists", func(s *backbones.Spec) {}, false, "already exists"},
		{"replace", func(s *backbones.Spec) {}, true, ""},
		{"builtin name", func(s *backbones.Spec) { s.Name = "vgg16" }, false, "built-in"},
		{"bad cut", func(s *backbones.Spec) { s.Name = "other"; s.CutAt = "block9_pool" }, false, "no node or node output"},
		{"wrong layout", func(s *backbones.Spec) { s.Name = "other"; s.Layout = backbones.NCHW }, false, "is the layout right"},
		{"wrong size", func(s *backbones.Spec) { s.Name = "other"; s.InputSize = 224 }, false, "spec says 224x224"},
		{"bad std", func(s *backbones.Spec) { s.Name = "other"; s.Std[1] = 0 }, false, "std must be non-zero"},
		{"bad name", func(s *backbones.Spec) { s.Name = "My Model" }, false, "lower-case"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec
			tt.edit(&s)
			_, err := backbones.Import(ctx, file, s, tt.replace, opts)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(opts.CacheDir, "other")); !os.IsNotExist(err) {
				t.Errorf("a failed import left files behind")
			}
		})
	}
	if _, err := backbones.Load(ctx, "keras-vgg", opts); err != nil {
		t.Errorf("after --replace: %v", err)
	}

	// Not an ONNX file.
	bad := filepath.Join(dir, "notes.txt")
	os.WriteFile(bad, []byte("hello"), 0o644)
	s := spec
	s.Name = "other"
	if _, err := backbones.Import(ctx, bad, s, false, opts); err == nil || !strings.Contains(err.Error(), "not an ONNX model") {
		t.Errorf("text file: %v", err)
	}
}

// TestImportKeepsToTheModelsFolder is the probe that lifted /etc/passwd into exported
// models: an ONNX model whose weight lives in external data named w.bin, a symbolic link to
// a file outside the model's folder. The import is refused, saying where the link leads, and
// no byte of that file reaches the backbone store; the same model with a real w.bin imports.
func TestImportKeepsToTheModelsFolder(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(secret, []byte(strings.Repeat("root:x:0:0:root:/root:/bin/bash\n", 30)), 0o644); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(t.TempDir(), "store")
	opts := backbones.Options{CacheDir: store}
	spec := backbones.Spec{Name: "external", InputSize: 32, Layout: backbones.NCHW, CutAt: "y", Pool: "avg"}
	p, _ := backbones.Preset("unit")
	p.Apply(&spec)

	good := t.TempDir()
	file := onnxtest.ExternalConv(t, good, "w.bin", nil)
	if err := os.WriteFile(filepath.Join(good, "w.bin"), make([]byte, 864), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := backbones.Import(ctx, file, spec, false, opts); err != nil {
		t.Fatalf("a model with its external data beside it: %v", err)
	}

	hostile := t.TempDir()
	file = onnxtest.ExternalConv(t, hostile, "w.bin", nil)
	if err := os.Symlink(secret, filepath.Join(hostile, "w.bin")); err != nil {
		t.Fatal(err)
	}
	spec.Name = "lifted"
	_, err := backbones.Import(ctx, file, spec, false, opts)
	if !errors.Is(err, userfile.ErrOutside) || !strings.Contains(err.Error(), secret) {
		t.Fatalf("import through a symbolic link out of the folder: %v", err)
	}
	if _, err := backbones.Load(ctx, "lifted", opts); err == nil {
		t.Error("the refused backbone is in the store")
	}
	filepath.WalkDir(store, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(path); strings.Contains(string(b), "root:x:0:0:") {
				t.Errorf("%s holds bytes of the file outside the model's folder", path)
			}
		}
		return nil
	})
}
