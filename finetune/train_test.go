package finetune

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/internal/npy"
)

// writeFeatures writes a features folder of n samples per split with shape (8, 2, 2):
// the label is 1 when a fixed linear function of the features is positive, except that
// with noise > 0 that fraction of train labels is random.
func writeFeatures(t *testing.T, n int, noise float64, seed uint64) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(seed, 42))
	const d = 8 * 2 * 2
	w := make([]float64, d)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	for _, sp := range []string{Train, Valid, Test} {
		x := make([]float32, n*d)
		y := make([]uint8, n)
		for i := range n {
			var s float64
			for j := range d {
				v := rng.NormFloat64()
				x[i*d+j] = float32(v)
				s += v * w[j]
			}
			if s > 0 {
				y[i] = 1
			}
			if sp == Train && rng.Float64() < noise {
				y[i] = uint8(rng.IntN(2))
			}
		}
		if err := npy.WriteFile(filepath.Join(dir, sp+"_features.npy"), []int{n, 8, 2, 2}, x); err != nil {
			t.Fatal(err)
		}
		if err := npy.WriteFile(filepath.Join(dir, sp+"_labels.npy"), []int{n}, y); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "features.json"), []byte(`{"backbone":"synthetic"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestTrainHeadLearns(t *testing.T) {
	dir := writeFeatures(t, 256, 0, 1)
	res, err := TrainHead(context.Background(), dir, Config{RunsDir: t.TempDir(), Epochs: 8, Batch: 16, Optimizer: "adam", LR: 0.01, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	h := res.History
	if len(h.Epochs) != 8 {
		t.Fatalf("%d epochs in history, want 8", len(h.Epochs))
	}
	if h.BestValidAcc < 0.8 || res.TestAcc < 0.8 {
		t.Errorf("best validation accuracy %.3f, test accuracy %.3f: want at least 0.8 on a linearly separable problem", h.BestValidAcc, res.TestAcc)
	}
	for _, f := range []string{"config.json", "history.json", "model.json", "head.onnx", "predictions.npy", "labels.npy", "result.json"} {
		if _, err := os.Stat(filepath.Join(res.Dir, f)); err != nil {
			t.Errorf("run folder: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(res.Dir, "checkpoint")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the checkpoint of a finished run is still there (%v)", err)
	}
	probs, shape, err := npy.ReadFile[float32](filepath.Join(res.Dir, "predictions.npy"))
	if err != nil || !reflect.DeepEqual(shape, []int{256}) || !reflect.DeepEqual(probs, res.TestProbs) {
		t.Errorf("predictions.npy: shape %v, err %v, equal to the result: %v", shape, err, reflect.DeepEqual(probs, res.TestProbs))
	}
}

// TestResumeMatchesUninterrupted stops a run after two epochs (cancelling its context),
// resumes it, and compares the final weights and history with a run never interrupted.
func TestResumeMatchesUninterrupted(t *testing.T) {
	dir := writeFeatures(t, 96, 0.1, 2)
	// Dropout and batch norm make the generator state and running statistics matter.
	cfg := Config{Epochs: 4, Batch: 16, Seed: 3, LR: 0.01, Head: "flatten,dense:16,bn,relu,dropout:0.5,dense:1:sigmoid"}

	whole := cfg
	whole.RunsDir = t.TempDir()
	want, err := TrainHead(context.Background(), dir, whole)
	if err != nil {
		t.Fatal(err)
	}

	part := cfg
	part.RunsDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	part.OnEpoch = func(e EpochStats) {
		if e.Epoch == 2 {
			cancel()
		}
	}
	if _, err := TrainHead(ctx, dir, part); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run returned %v, want context.Canceled", err)
	}
	part.OnEpoch = nil
	part.Resume = true
	changed := part
	changed.LR = 0.02
	if _, err := TrainHead(context.Background(), dir, changed); err == nil || !strings.Contains(err.Error(), "LR") {
		t.Errorf("resuming with another learning rate: got error %v, want one naming LR", err)
	}
	got, err := TrainHead(context.Background(), dir, part)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.History.ResumedAt, []int{2}) {
		t.Errorf("resumed at %v, want [2]", got.History.ResumedAt)
	}
	for i, p := range want.Model.Params() {
		if q := got.Model.Params()[i]; !reflect.DeepEqual(p.Data, q.Data) {
			t.Errorf("weight %s differs after resuming", p.Name)
		}
	}
	we, ge := want.History.Epochs, got.History.Epochs
	if len(we) != len(ge) {
		t.Fatalf("%d epochs resumed, %d uninterrupted", len(ge), len(we))
	}
	for i := range we {
		we[i].Seconds, ge[i].Seconds, we[i].ImagesPerSec, ge[i].ImagesPerSec = 0, 0, 0, 0
	}
	if !reflect.DeepEqual(we, ge) {
		t.Errorf("history after resuming:\n%+v\nuninterrupted:\n%+v", ge, we)
	}

	// Nothing left to resume.
	if _, err := TrainHead(context.Background(), dir, part); err == nil {
		t.Error("resuming a finished run succeeded")
	}
}

// TestEarlyStoppingKeepsBest trains on pure-noise labels until the validation loss rises,
// and checks that training stopped early and that the weights returned are those of the
// best epoch.
func TestEarlyStoppingKeepsBest(t *testing.T) {
	dir := writeFeatures(t, 64, 1, 4)
	res, err := TrainHead(context.Background(), dir, Config{RunsDir: t.TempDir(), Epochs: 40, Batch: 8, Optimizer: "adam", LR: 0.01, Patience: 3, Seed: 5,
		Head: "flatten,dense:64:relu,dense:1:sigmoid"})
	if err != nil {
		t.Fatal(err)
	}
	h := res.History
	if !h.StoppedEarly || len(h.Epochs) == 40 {
		t.Fatalf("trained %d epochs, stopped early %v: want an early stop on noise labels", len(h.Epochs), h.StoppedEarly)
	}
	if last := h.Epochs[len(h.Epochs)-1].Epoch; last != h.BestEpoch+3 {
		t.Errorf("stopped after epoch %d, best was %d, patience 3", last, h.BestEpoch)
	}
	src, err := openFeatures(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.close()
	loss, _, _, err := evaluate(res.Model, src, Valid, src.len(Valid), 8, map[int]*graph{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(loss-h.BestValidLoss) > 1e-9 {
		t.Errorf("returned weights have validation loss %v, best epoch %d had %v", loss, h.BestEpoch, h.BestValidLoss)
	}
}
