package finetune

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/internal/fixtures"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/features"
	"github.com/catdog-ml/catdog/internal/npy"
	"github.com/catdog-ml/catdog/internal/ort"
	"github.com/catdog-ml/catdog/onnx/onnxtest"
)

// preparePhotos prepares n cats and n dogs of the shared photos at size pixels.
func preparePhotos(t *testing.T, n, size int) string {
	t.Helper()
	in := t.TempDir()
	for _, f := range fixtures.PhotoFiles(t, "dogs-vs-cats/train", n) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(in, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "data")
	if _, err := datasets.Prepare(context.Background(), datasets.Options{Data: in, Out: out, Size: size, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return out
}

// testPixels returns the test split's photos as float32 NCHW 0..255.
func testPixels(t *testing.T, dataDir string) ([]float32, int) {
	t.Helper()
	src, err := openImages(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.close()
	n := src.len(Test)
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	x, y := make([]float32, n*3*src.size*src.size), make([]float32, n)
	if err := src.read(Test, rows, x, y, nil); err != nil {
		t.Fatal(err)
	}
	for i := range x {
		x[i] = float32(math.Round(float64(x[i] / ImageScale)))
	}
	return x, src.size
}

// checkModel runs the run's model.onnx on the test photos with onnxruntime and compares
// with the run's predictions.npy. It returns the number of test photos.
func checkModel(t *testing.T, env *ort.Env, res *Result, dataDir string) int {
	t.Helper()
	onnxtest.CheckModel(t, res.ModelPath)
	x, size := testPixels(t, dataDir)
	n := len(x) / (3 * size * size)
	output := exported.OutputName
	if len(res.Classes) > 2 {
		output = exported.ProbabilitiesName
	}
	s, err := env.NewSessionFromFile(res.ModelPath, ort.SessionOptions{Provider: ort.ProviderCPU, Inputs: []string{exported.InputName}, Outputs: []string{output}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, _, err := s.RunFloat32(x, int64(n), 3, int64(size), int64(size))
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := npy.ReadFile[float32](filepath.Join(res.Dir, "predictions.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("onnxruntime gave %d probabilities, predictions.npy holds %d", len(got), len(want))
	}
	var maxDiff float64
	for i := range got {
		maxDiff = math.Max(maxDiff, math.Abs(float64(got[i]-want[i])))
	}
	t.Logf("%s: %d test photos, accuracy %.3f, max |onnxruntime - gorgonia| = %.2g", filepath.Base(res.Dir), n, res.TestAcc, maxDiff)
	if maxDiff > 1e-5 {
		t.Errorf("model.onnx on onnxruntime and Gorgonia differ by up to %g", maxDiff)
	}
	return n
}

// TestRealPhotos trains a from-scratch CNN and a transfer head (on vgg16-random features)
// on real photos, and checks each exported model.onnx against Gorgonia's test predictions.
func TestRealPhotos(t *testing.T) {
	env := openORT(t)
	dataDir := preparePhotos(t, 60, 32)
	runs := t.TempDir()

	t.Run("cnn", func(t *testing.T) {
		arch, err := Arch("vgg3-dropout-bn-aug")
		if err != nil {
			t.Fatal(err)
		}
		res, err := TrainCNN(context.Background(), dataDir, arch, withRecipe(Config{RunsDir: runs, Epochs: 2, Batch: 16, Seed: 1}))
		if err != nil {
			t.Fatal(err)
		}
		checkModel(t, env, res, dataDir)
	})

	t.Run("head", func(t *testing.T) {
		bopts := backbones.Options{InputSize: 32, Seed: 1}
		fr, err := features.Extract(context.Background(), features.Options{Backbone: "vgg16-random", Backbones: bopts, Data: dataDir, Provider: "cpu"})
		if err != nil {
			t.Fatal(err)
		}
		bb, err := backbones.Load(context.Background(), "vgg16-random", bopts)
		if err != nil {
			t.Fatal(err)
		}
		full, err := bb.WithPreprocess()
		if err != nil {
			t.Fatal(err)
		}
		res, err := TrainHead(context.Background(), fr.Dir, withRecipe(Config{RunsDir: runs, Epochs: 3, Batch: 16, Seed: 1,
			Backbone: &Backbone{Name: bb.Spec.Name, Model: full, Output: bb.Output}}))
		if err != nil {
			t.Fatal(err)
		}
		checkModel(t, env, res, dataDir)
	})
}

// TestPretrainedBackbones runs real ImageNet backbones end to end on real photos:
// extract-features, a head trained on the features, one exported model (backbone + head,
// preprocessing inside) checked against Gorgonia. One is built in and read from a local
// copy of its TensorFlow.js files (MobileNetV2 0.35 in a Teachable Machine export), one
// imported from a TensorFlow.js model (Tiny Darknet).
func TestPretrainedBackbones(t *testing.T) {
	env := openORT(t)
	dataDir := preparePhotos(t, 100, 224) // 40 test photos
	runs := t.TempDir()
	bopts := backbones.Options{CacheDir: t.TempDir()}
	spec := backbones.Spec{Name: "darknet-tiny", InputSize: 224, Layout: backbones.NCHW, CutAt: "leaky_re_lu_15", Pool: "avg"}
	p, _ := backbones.Preset("unit")
	p.Apply(&spec)
	if _, err := backbones.Import(context.Background(), fixtures.Model(t, "darknet_tiny"), spec, false, bopts); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, file string }{
		{backbones.MobileNetV2035, fixtures.Model(t, "teachable-machine-export")},
		{"darknet-tiny", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := bopts
			o.File = tc.file
			fr, err := features.Extract(context.Background(), features.Options{Backbone: tc.name, Backbones: o, Data: dataDir, Provider: "cpu"})
			if err != nil {
				t.Fatal(err)
			}
			o.InputSize = 224
			loaded, err := backbones.Load(context.Background(), tc.name, o)
			if err != nil {
				t.Fatal(err)
			}
			full, err := loaded.WithPreprocess()
			if err != nil {
				t.Fatal(err)
			}
			bb := &Backbone{Name: tc.name, Model: full, Output: loaded.Output, Params: loaded.Params}
			res, err := TrainHead(context.Background(), fr.Dir, withRecipe(Config{RunsDir: runs, Name: tc.name, Epochs: 15, Batch: 16, Seed: 1,
				Optimizer: "adam", LR: 0.003, Head: "dense:1:sigmoid", Backbone: bb}))
			if err != nil {
				t.Fatal(err)
			}
			n := checkModel(t, env, res, dataDir)
			fixtures.AboveChance(t, "head on ImageNet features", int(math.Round(res.TestAcc*float64(n))), n, 0.5)
		})
	}
}

// TestTrainRefusesBrokenData: training reads the photos through datasets.Open, so a folder
// that lost its manifest (a prepare killed mid-commit, or rm) is refused, not trained on.
func TestTrainRefusesBrokenData(t *testing.T) {
	dataDir := preparePhotos(t, 10, 32)
	if err := os.Remove(filepath.Join(dataDir, datasets.ManifestFile)); err != nil {
		t.Fatal(err)
	}
	arch, _ := Arch("vgg1")
	_, err := TrainCNN(context.Background(), dataDir, arch, withRecipe(Config{RunsDir: t.TempDir(), Epochs: 1}))
	if err == nil || !strings.Contains(err.Error(), "catdog prepare") {
		t.Errorf("training on a folder without manifest: %v", err)
	}
}
