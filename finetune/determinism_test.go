package finetune

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestSameBitsAnyThreads trains the same runs with 1, 2 and 3 threads (GOMAXPROCS): every
// exported model.onnx must be the same bytes. Batch norm, dropout, augmentation and the
// residual blocks are all in these architectures.
func TestSameBitsAnyThreads(t *testing.T) {
	dataDir := preparePhotos(t, 24, 32)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, name := range []string{"vgg3-dropout-bn-aug", "resnet-gap"} {
		arch, err := Arch(name)
		if err != nil {
			t.Fatal(err)
		}
		var first []byte
		for _, threads := range []int{1, 2, 3} {
			runtime.GOMAXPROCS(threads)
			res, err := TrainCNN(context.Background(), dataDir, arch, withRecipe(Config{RunsDir: t.TempDir(), Epochs: 2, Batch: 8, Seed: 4, Optimizer: "adam"}))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(res.ModelPath)
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = b
			} else if !bytes.Equal(b, first) {
				t.Errorf("%s: the model trained with %d threads differs from the one trained with 1", name, threads)
			}
		}
	}
}

// TestRandReplacesDraws checks Config.Rand: a run given the generator that Seed would have
// made trains the same bytes as the run seeded by Seed (augmentation and dropout included),
// another source trains another model, and a run with its own source refuses to resume.
func TestRandReplacesDraws(t *testing.T) {
	dataDir := preparePhotos(t, 24, 32)
	arch, err := Arch("vgg3-dropout-bn-aug")
	if err != nil {
		t.Fatal(err)
	}
	runsDir := t.TempDir()
	train := func(src rand.Source) []byte {
		t.Helper()
		res, err := TrainCNN(context.Background(), dataDir, arch, withRecipe(Config{RunsDir: runsDir, Epochs: 1, Batch: 8, Seed: 4, Optimizer: "adam", Rand: src}))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(res.ModelPath)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	seeded := train(nil)
	if b := train(rand.NewPCG(4, 0x7a1e)); !bytes.Equal(b, seeded) {
		t.Error("the run given Seed's own generator as Rand differs from the run seeded by Seed")
	}
	if b := train(rand.NewPCG(5, 0x7a1e)); bytes.Equal(b, seeded) {
		t.Error("the run given another generator as Rand trained the same model: Rand is not used")
	}
	_, err = TrainCNN(context.Background(), dataDir, arch, withRecipe(Config{RunsDir: runsDir, Epochs: 2, Batch: 8, Seed: 4, Optimizer: "adam",
		Rand: rand.NewPCG(4, 0x7a1e), Resume: true}))
	if err == nil || !strings.Contains(err.Error(), "cannot be resumed") {
		t.Errorf("resuming a run with its own Rand: got %v, want an error saying it cannot be resumed", err)
	}
}
