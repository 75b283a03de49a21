package finetune

import (
	"bytes"
	"context"
	"os"
	"runtime"
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
			res, err := TrainCNN(context.Background(), dataDir, arch, Config{RunsDir: t.TempDir(), Epochs: 2, Batch: 8, Seed: 4, Optimizer: "adam"})
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
