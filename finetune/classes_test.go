package finetune

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/features"
	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/runs"
)

// prepareColours prepares a dataset of a folder per class, perClass noisy 40x40 images
// each, whose class is the colour that dominates them (red, green, blue): three classes.
func prepareColours(t *testing.T, perClass int) (string, []string) {
	t.Helper()
	in := t.TempDir()
	classes := []string{"red", "green", "blue"}
	rng := rand.New(rand.NewPCG(7, 7))
	for c, name := range classes {
		if err := os.MkdirAll(filepath.Join(in, name), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range perClass {
			img := image.NewRGBA(image.Rect(0, 0, 40, 40))
			for y := range 40 {
				for x := range 40 {
					var v [3]uint8
					for k := range v {
						v[k] = uint8(rng.IntN(150))
					}
					v[c] = uint8(100 + rng.IntN(156))
					img.Set(x, y, color.RGBA{R: v[0], G: v[1], B: v[2], A: 255})
				}
			}
			f, err := os.Create(filepath.Join(in, name, fmt.Sprintf("%s.%d.png", name, i)))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := filepath.Join(t.TempDir(), "data")
	if _, err := datasets.Prepare(context.Background(), datasets.Options{Data: in, Out: out, Size: 32, Seed: 1, Classes: classes}); err != nil {
		t.Fatal(err)
	}
	return out, classes
}

// TestClassFolders trains a from-scratch CNN (its architecture made for three classes)
// and a transfer head behind a backbone (one model.onnx: the combined export) on a prepared
// dataset of three classes, and checks each exported model on onnxruntime (probabilities
// (N, 3)) against Gorgonia's predictions.npy (N, 3), and the classes in config.json and in
// the model's metadata.
func TestClassFolders(t *testing.T) {
	env := openORT(t)
	dataDir, classes := prepareColours(t, 30)
	runsDir := t.TempDir()
	check := func(t *testing.T, res *Result) {
		t.Helper()
		if !reflect.DeepEqual(res.Classes, classes) {
			t.Errorf("classes %q, want %q", res.Classes, classes)
		}
		if n := checkModel(t, env, res, dataDir); len(res.TestProbs) != 3*n {
			t.Errorf("%d test probabilities for %d photos, want 3 each", len(res.TestProbs), n)
		}
		rc, _, err := runs.ReadConfig(res.Dir)
		if err != nil || !reflect.DeepEqual(rc.Classes, classes) {
			t.Errorf("config.json: classes %q (%v)", rc.Classes, err)
		}
		m, err := onnx.Read(res.ModelPath)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Metadata()[exported.MetaLabels]; got != "red,green,blue" {
			t.Errorf("labels %q in the model", got)
		}
	}

	t.Run("cnn", func(t *testing.T) {
		arch, err := Arch("vgg1")
		if err != nil {
			t.Fatal(err)
		}
		res, err := TrainCNN(context.Background(), dataDir, arch, withRecipe(Config{RunsDir: runsDir, Epochs: 3, Batch: 16, Seed: 1, LR: 0.001}))
		if err != nil {
			t.Fatal(err)
		}
		if got := SpecString(res.Model.Layers[len(res.Model.Layers)-2:]); got != "dense:3,softmax" {
			t.Errorf("vgg1 for three classes ends with %s", got)
		}
		check(t, res)
		if res.TestAcc < 0.8 {
			t.Errorf("test accuracy %.3f on colours: want at least 0.8", res.TestAcc)
		}
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
		res, err := TrainHead(context.Background(), fr.Dir, withRecipe(Config{RunsDir: runsDir, Epochs: 2, Batch: 16, Seed: 1,
			Backbone: &Backbone{Name: bb.Spec.Name, Model: full, Output: bb.Output}}))
		if err != nil {
			t.Fatal(err)
		}
		check(t, res)
	})
}

// TestResumeNeedsSameClasses: a run resumes only with its own classes and class weights;
// a run written before configs named classes is one of Dogs vs. Cats.
func TestResumeNeedsSameClasses(t *testing.T) {
	base := runs.Config{Kind: runs.Transfer, Layers: "dense:1,sigmoid", Batch: 8}
	for _, tt := range []struct {
		name string
		c    func(*runs.Config)
		want string
	}{
		{"no classes is Dogs vs. Cats", func(c *runs.Config) { c.Classes = []string{"dog", "cat"} }, ""},
		{"other classes", func(c *runs.Config) { c.Classes = []string{"cat", "dog"} }, "Classes"},
		{"class weights", func(c *runs.Config) { c.ClassWeights = []float64{1, 2} }, "ClassWeights"},
	} {
		o := base
		tt.c(&o)
		got := differs(base, o)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("%s: differs says %q, want %q", tt.name, got, tt.want)
		}
	}
}
