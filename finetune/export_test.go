package finetune

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/internal/ort"
	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/onnxtest"
)

// openORT opens onnxruntime, skipping the test when its library is missing (failing it
// under CI=true).
func openORT(t *testing.T) *ort.Env {
	t.Helper()
	env, err := ort.Open()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("onnxruntime is required in CI: %v", err)
		}
		t.Skipf("no onnxruntime: %v", err)
	}
	t.Cleanup(func() { env.Close() })
	return env
}

// trainSteps runs steps SGD steps of m on random data, so that batch norm running
// statistics and weights move away from their initial values.
func trainSteps(t *testing.T, m *Model, n, steps int) {
	t.Helper()
	gr, err := m.build(n, true)
	if err != nil {
		t.Fatal(err)
	}
	defer gr.close()
	opt, err := newOptimizer("sgd", 0.01, 0.9, gr.learn)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	grads := make([][]float32, len(gr.learn))
	for s := range steps {
		x, y := randomBatch(m, n, uint64(s))
		gr.fillMasks(rng.Uint64)
		if _, err := gr.run(x, y); err != nil {
			t.Fatal(err)
		}
		for i, g := range gr.grads {
			_, grads[i], _ = float32s(g.Value(), "grad")
		}
		opt.step(gr.learn, grads)
	}
}

// TestExportMatchesOnnxruntime trains every architecture a few steps, exports it and
// checks that the ONNX checker accepts the model and that onnxruntime's probabilities on
// 0..255 images equal Gorgonia's on the scaled images within 1e-5: for two classes (one
// probability, prob_cat (N, 1)) and, made for four classes (dense 4, softmax), for more
// (probabilities (N, 4), each row summing to 1).
func TestExportMatchesOnnxruntime(t *testing.T) {
	env := openORT(t)
	for _, a := range Architectures() {
		t.Run(a.Name, func(t *testing.T) {
			exportAgainstORT(t, env, a.Name, a.Layers(), nil)
		})
		t.Run(a.Name+"-4-classes", func(t *testing.T) {
			layers, err := WithClasses(a.Layers(), 4)
			if err != nil {
				t.Fatal(err)
			}
			exportAgainstORT(t, env, a.Name, layers, []string{"airplane", "bird, small", "cat", "deer"})
		})
	}
	// Depthwise convolutions (Conv with group = channels), with and without a batch norm.
	t.Run("depthwise", func(t *testing.T) {
		exportAgainstORT(t, env, "depthwise", []Layer{Conv(4, 3, 1), ReLU(), DepthwiseConv(3, 1), BatchNorm(), ReLU6(), MaxPool(2),
			DepthwiseConv(3, 0), ReLU(), GlobalAvgPool(), Dense(1), Sigmoid()}, nil)
	})
}

// exportAgainstORT trains the model of layers a few steps, exports it with class names
// classes (nil: Dogs vs. Cats) and compares onnxruntime's output with Gorgonia's.
func exportAgainstORT(t *testing.T, env *ort.Env, name string, layers []Layer, classes []string) {
	const size, n = 32, 5
	m, err := NewModel(name, []int{3, size, size}, layers, "", 3)
	if err != nil {
		t.Fatal(err)
	}
	// Biases away from their zero start, so that the ones a batch norm cancels in training
	// (graphBuilder.convBN leaves them out of the graph) count in the running means and at
	// inference as the export's Conv counts them.
	brng := rand.New(rand.NewPCG(5, 5))
	for _, p := range m.params {
		if strings.HasSuffix(p.Name, ".bias") {
			for i := range p.Data {
				p.Data[i] = float32(brng.Float64() - 0.5)
			}
		}
	}
	trainSteps(t, m, 4, 3)
	if name == "vgg3-dropout-bn" {
		if mean := m.Param("batchnorm1.running_mean"); mean == nil || mean.Data[0] == 0 {
			t.Fatalf("batch norm running mean did not move: %v", mean)
		}
	}
	mod, err := m.Export(ExportOptions{Scale: ImageScale, Classes: classes, Metadata: map[string]string{"catdog.resize_filter": "bilinear"}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := mod.Write(path); err != nil {
		t.Fatal(err)
	}
	onnxtest.CheckModel(t, path)

	rng := rand.New(rand.NewPCG(4, 4))
	pixels := make([]float32, n*3*size*size)
	scaled := make([]float32, len(pixels))
	for i := range pixels {
		pixels[i] = float32(rng.IntN(256))
		scaled[i] = pixels[i] * ImageScale
	}
	gr, err := m.build(n, false)
	if err != nil {
		t.Fatal(err)
	}
	defer gr.close()
	z, err := gr.run(scaled, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Classes()
	obj := objective{classes: c}
	var want []float32
	for i := range n {
		want = obj.probs(want, z[i*obj.width():(i+1)*obj.width()])
	}
	output, width := exported.OutputName, 1
	if c > 2 {
		output, width = exported.ProbabilitiesName, c
	}
	got := ortOutput(t, env, path, output, pixels, []int64{n, 3, size, size}, []int64{n, int64(width)})
	var maxDiff float64
	for i := range want {
		maxDiff = math.Max(maxDiff, math.Abs(float64(got[i]-want[i])))
	}
	t.Logf("max |ort - gorgonia| = %.2g over probabilities %v", maxDiff, got)
	if maxDiff > 1e-5 {
		t.Errorf("onnxruntime and Gorgonia differ by up to %g (ort %v, gorgonia %v)", maxDiff, got, want)
	}
	if c > 2 {
		for i := range n {
			var sum float64
			for _, v := range got[i*c : (i+1)*c] {
				sum += float64(v)
			}
			if math.Abs(sum-1) > 1e-5 {
				t.Errorf("row %d of the probabilities sums to %v", i, sum)
			}
		}
	}
	labels := "dog,cat"
	if classes != nil {
		labels = exported.EncodeLabels(classes)
	}
	md := ortMetadata(t, env, path, output)
	for k, want := range map[string]string{"catdog.input_size": "32", "catdog.labels": labels, "catdog.arch": name, "catdog.layout": "NCHW", "catdog.resize_filter": "bilinear"} {
		if md[k] != want {
			t.Errorf("metadata %s = %q, want %q", k, md[k], want)
		}
	}
	if back, err := exported.DecodeLabels(md[exported.MetaLabels]); err != nil || len(back) != c {
		t.Errorf("the labels %q read back as %q (%v), want %d classes", md[exported.MetaLabels], back, err, c)
	}
}

// ortOutput runs the model at path on onnxruntime's CPU and returns its output, checking
// its shape.
func ortOutput(t *testing.T, env *ort.Env, path, output string, x []float32, shape, want []int64) []float32 {
	t.Helper()
	s, err := env.NewSessionFromFile(path, ort.SessionOptions{Provider: ort.ProviderCPU, Inputs: []string{exported.InputName}, Outputs: []string{output}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, gotShape, err := s.RunFloat32(x, shape...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gotShape, want) {
		t.Fatalf("output %s of shape %v, want %v", output, gotShape, want)
	}
	return got
}

// ortMetadata returns the metadata of the model at path, as onnxruntime reads it.
func ortMetadata(t *testing.T, env *ort.Env, path, output string) map[string]string {
	t.Helper()
	s, err := env.NewSessionFromFile(path, ort.SessionOptions{Provider: ort.ProviderCPU, Inputs: []string{exported.InputName}, Outputs: []string{output}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	md, err := s.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	return md
}

// TestExportWithBackboneClasses exports heads of two and of five classes behind a small
// backbone (global average pooling of the image) and checks the composed model: the
// checker accepts it, its output is prob_cat (N, 1) or probabilities (N, 5) as Gorgonia
// computes them from the backbone's features, and its labels are the classes'.
func TestExportWithBackboneClasses(t *testing.T) {
	env := openORT(t)
	const size, n = 4, 3
	b := onnx.NewBuilder("backbone")
	x := b.Input(exported.InputName, onnx.Float, -1, 3, size, size)
	b.Output(b.GlobalAveragePool(x), "pooled", onnx.Float, -1, 3, 1, 1)
	bb, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	for _, classes := range [][]string{nil, {"a", "b", "c", "d", "e"}} {
		c := max(2, len(classes))
		layers := append([]Layer{Flatten(), Dense(6), ReLU()}, OutputLayers(c)...)
		head, err := NewModel("head", []int{3, 1, 1}, layers, "", 5)
		if err != nil {
			t.Fatal(err)
		}
		mod, err := head.ExportWithBackbone(&Backbone{Name: "gap", Model: bb, Output: "pooled"}, classes, nil)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "model.onnx")
		if err := mod.Write(path); err != nil {
			t.Fatal(err)
		}
		onnxtest.CheckModel(t, path)
		rng := rand.New(rand.NewPCG(2, 2))
		pixels := make([]float32, n*3*size*size)
		for i := range pixels {
			pixels[i] = float32(rng.IntN(256))
		}
		feats := make([]float32, n*3)
		for i := range n * 3 {
			var s float32
			for _, v := range pixels[i*size*size : (i+1)*size*size] {
				s += v
			}
			feats[i] = s / (size * size)
		}
		gr, err := head.build(n, false)
		if err != nil {
			t.Fatal(err)
		}
		z, err := gr.run(feats, nil)
		gr.close()
		if err != nil {
			t.Fatal(err)
		}
		obj := objective{classes: c}
		var want []float32
		for i := range n {
			want = obj.probs(want, z[i*obj.width():(i+1)*obj.width()])
		}
		output, width := exported.OutputName, int64(1)
		if c > 2 {
			output, width = exported.ProbabilitiesName, int64(c)
		}
		got := ortOutput(t, env, path, output, pixels, []int64{n, 3, size, size}, []int64{n, width})
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
				t.Errorf("%d classes: onnxruntime %v, Gorgonia %v", c, got, want)
				break
			}
		}
		wantLabels := "dog,cat"
		if classes != nil {
			wantLabels = "a,b,c,d,e"
		}
		if md := ortMetadata(t, env, path, output); md[exported.MetaLabels] != wantLabels || md[exported.MetaBackbone] != "gap" {
			t.Errorf("%d classes: metadata %v, want labels %q and backbone gap", c, md, wantLabels)
		}
	}
}

// TestExportRefusesOtherClasses: the class names must be as many as the model's classes.
func TestExportRefusesOtherClasses(t *testing.T) {
	for _, tt := range []struct {
		classes int
		names   []string
	}{
		{2, []string{"a", "b", "c"}},
		{3, nil},
		{4, []string{"a", "b", "c", "c"}},
	} {
		m, err := NewModel("m", []int{4}, OutputLayers(tt.classes), "", 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Export(ExportOptions{Input: exported.FeaturesName, Classes: tt.names}); err == nil {
			t.Errorf("a model of %d classes exported with classes %q", tt.classes, tt.names)
		}
	}
}

func TestExportWithBackboneNeedsImageInput(t *testing.T) {
	layers, err := ParseLayers("gap,dense:1:sigmoid")
	if err != nil {
		t.Fatal(err)
	}
	head, err := NewModel("head", []int{4, 2, 2}, layers, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	// A "backbone" whose input is not the image: a cut model without its preprocessing.
	cut, err := head.Export(ExportOptions{Input: "pixels"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = head.ExportWithBackbone(&Backbone{Name: "cut", Model: cut, Output: exported.OutputName}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "WithPreprocess") {
		t.Errorf("backbone with input %q: error %v, want one pointing to WithPreprocess", "pixels", err)
	}
}
