package finetune

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/internal/ort"
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
		gr.fillMasks(rng.Float64)
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
// 0..255 images equal Gorgonia's on the scaled images within 1e-5.
func TestExportMatchesOnnxruntime(t *testing.T) {
	env := openORT(t)
	const size, n = 32, 5
	for _, a := range Architectures() {
		t.Run(a.Name, func(t *testing.T) {
			m, err := a.Model(size, "", 3)
			if err != nil {
				t.Fatal(err)
			}
			trainSteps(t, m, 4, 3)
			if a.Name == "vgg3-dropout-bn" {
				if mean := m.Param("batchnorm1.running_mean"); mean == nil || mean.Data[0] == 0 {
					t.Fatalf("batch norm running mean did not move: %v", mean)
				}
			}
			mod, err := m.Export(ExportOptions{Scale: ImageScale, Metadata: map[string]string{"catdog.resize_filter": "bilinear"}})
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
			s, err := env.NewSessionFromFile(path, ort.SessionOptions{Provider: ort.ProviderCPU, Inputs: []string{exported.InputName}, Outputs: []string{exported.OutputName}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, shape, err := s.RunFloat32(pixels, n, 3, size, size)
			if err != nil {
				t.Fatal(err)
			}
			if len(shape) != 2 || shape[0] != n || shape[1] != 1 {
				t.Fatalf("output shape %v, want [%d 1]", shape, n)
			}
			var maxDiff float64
			for i := range z {
				maxDiff = math.Max(maxDiff, math.Abs(float64(got[i]-sigmoid(z[i]))))
			}
			t.Logf("max |ort - gorgonia| = %.2g over probabilities %v", maxDiff, got)
			if maxDiff > 1e-5 {
				t.Errorf("onnxruntime and Gorgonia differ by up to %g (ort %v, gorgonia logits %v)", maxDiff, got, z)
			}
			md, err := s.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]string{"catdog.input_size": "32", "catdog.labels": "dog,cat", "catdog.arch": a.Name, "catdog.layout": "NCHW", "catdog.resize_filter": "bilinear"} {
				if md[k] != want {
					t.Errorf("metadata %s = %q, want %q", k, md[k], want)
				}
			}
		})
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
	_, err = head.ExportWithBackbone(&Backbone{Name: "cut", Model: cut, Output: exported.OutputName}, nil)
	if err == nil || !strings.Contains(err.Error(), "WithPreprocess") {
		t.Errorf("backbone with input %q: error %v, want one pointing to WithPreprocess", "pixels", err)
	}
}
