package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
)

func TestModelsCommand(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"models", "--size", "200"}, []string{"vgg1", "40961153", "vgg3", "10333505", "vgg3-dropout-bn-aug", "resnet-gap"}},
		{[]string{"models", "--arch", "vgg3-dropout-bn", "--size", "64"}, []string{"batchnorm4", "(128, 8, 8)", "total: 1142785 trainable, 704 not trainable"}},
	}
	for _, tt := range tests {
		out, _, err := runCatdog(t, tt.args...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tt.args, w, out)
			}
		}
	}
	if _, _, err := runCatdog(t, "models", "--arch", "nope"); err == nil || !strings.Contains(err.Error(), "vgg3") {
		t.Errorf("unknown architecture: error %v, want one listing the known ones", err)
	}
}

// runFolder returns the "run folder:" line of a train or finetune output.
func runFolder(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if dir, ok := strings.CutPrefix(l, "run folder: "); ok {
			return dir
		}
	}
	t.Fatalf("no run folder in output:\n%s", out)
	return ""
}

// TestTrainAndFinetuneCommands trains a CNN and a head (on vgg16-random features, exported
// with the backbone) through the command line.
func TestTrainAndFinetuneCommands(t *testing.T) {
	fixtures.RequireORT(t)
	data := prepareSmall(t, 40, 32)
	runs := t.TempDir()

	out, errOut, err := runCatdog(t, "train", "-q", "--arch", "vgg1", "--data", data, "--epochs", "2", "--batch", "8", "--runs", runs)
	if err != nil {
		t.Fatalf("train: %v\n%s", err, errOut)
	}
	dir := runFolder(t, out)
	for _, f := range []string{"model.onnx", "history.json", "config.json", "model.json", "predictions.npy", "result.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("train: %v", err)
		}
	}
	if !strings.Contains(out, "epoch   2") || !strings.Contains(out, "test: loss") {
		t.Errorf("train output:\n%s", out)
	}

	if _, errOut, err := runCatdog(t, "extract-features", "-q", "--backbone", "vgg16-random", "--data", data, "--ep", "cpu"); err != nil {
		t.Fatalf("extract-features: %v\n%s", err, errOut)
	}
	features := filepath.Join(data, "features", "vgg16-random")
	out, errOut, err = runCatdog(t, "finetune", "-q", "--features", features, "--head", "flatten,dense:8:relu,dense:1:sigmoid", "--epochs", "2", "--batch", "8", "--runs", runs, "--name", "tiny-head")
	if err != nil {
		t.Fatalf("finetune: %v\n%s", err, errOut)
	}
	dir = runFolder(t, out)
	if !strings.HasPrefix(filepath.Base(dir), "tiny-head-") {
		t.Errorf("run folder %s, want tiny-head-*", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
		t.Errorf("finetune with backbone: %v", err)
	}

	// One epoch with the recipe's warm-up left alone: none. Asked for explicitly: refused.
	if _, errOut, err := runCatdog(t, "finetune", "-q", "--features", features, "--epochs", "1", "--runs", runs); err != nil {
		t.Errorf("finetune --epochs 1: %v\n%s", err, errOut)
	}
	if _, _, err := runCatdog(t, "finetune", "-q", "--features", features, "--epochs", "1", "--warmup", "1", "--runs", runs); err == nil || !strings.Contains(err.Error(), "warm-up") {
		t.Errorf("finetune --epochs 1 --warmup 1: error %v, want one about the warm-up", err)
	}
	if _, _, err := runCatdog(t, "finetune", "--features", features, "--head", "flatten,dense:8"); err == nil || !strings.Contains(err.Error(), "sigmoid") {
		t.Errorf("head without sigmoid: error %v", err)
	}
	if _, _, err := runCatdog(t, "finetune", "--features", features, "--head", "flatten,wat:3,dense:1:sigmoid"); err == nil || !strings.Contains(err.Error(), "wat") {
		t.Errorf("bad head spec: error %v", err)
	}
	if _, _, err := runCatdog(t, "train", "--data", data, "--arch", "vgg1", "--resume", "--runs", t.TempDir()); err == nil || !strings.Contains(err.Error(), "no run") {
		t.Errorf("resume with nothing to resume: error %v", err)
	}

	// --augment by name: recorded in the run's config; an unknown name refused, naming the known
	out, errOut, err = runCatdog(t, "train", "-q", "--arch", "vgg1", "--data", data, "--epochs", "1", "--batch", "8", "--runs", runs, "--augment", "tutorial")
	if err != nil {
		t.Fatalf("train --augment tutorial: %v\n%s", err, errOut)
	}
	cfg, err := os.ReadFile(filepath.Join(runFolder(t, out), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), `"max_shift": 0.1`) || !strings.Contains(string(cfg), `"max_rotate": 0,`) {
		t.Errorf("config.json of train --augment tutorial:\n%s", cfg)
	}
	if _, _, err := runCatdog(t, "train", "--data", data, "--arch", "vgg1", "--augment", "strong", "--runs", runs); err == nil || !strings.Contains(err.Error(), "tutorial") {
		t.Errorf("--augment strong: error %v, want one naming the known augmentations", err)
	}
}
