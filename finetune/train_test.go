package finetune

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/features"
	"github.com/catdog-ml/catdog/internal/fetch"
	"github.com/catdog-ml/catdog/internal/npy"
	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/runs"
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
	writeFeaturesInfo(t, dir, n, nil)
	return dir
}

// writeFeaturesInfo writes the features.json of a folder of n samples of shape (8, 2, 2)
// per split, of classes classes (nil: none recorded, Dogs vs. Cats).
func writeFeaturesInfo(t *testing.T, dir string, n int, classes []string) {
	t.Helper()
	info := features.Info{Format: features.Format, Backbone: "synthetic", DType: "float32", FeatureShape: []int64{8, 2, 2}, Splits: map[string]features.SplitInfo{},
		Classes: classes}
	for _, sp := range []string{Train, Valid, Test} {
		si := features.SplitInfo{Count: n, Features: features.FeaturesFile(sp), Labels: features.LabelsFile(sp), Shape: []int{n, 8, 2, 2}}
		var err error
		if si.FeaturesSHA256, err = fetch.SHA256(filepath.Join(dir, si.Features)); err != nil {
			t.Fatal(err)
		}
		if si.LabelsSHA256, err = fetch.SHA256(filepath.Join(dir, si.Labels)); err != nil {
			t.Fatal(err)
		}
		info.Splits[sp] = si
	}
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, features.InfoFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeClassFeatures writes a features folder of n samples per split with shape (8, 2, 2)
// and len(names) classes: the label is the largest of one fixed linear function of the
// features per class, with biases that make the class counts uneven. It records names in
// features.json.
func writeClassFeatures(t *testing.T, n int, names []string, seed uint64) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(seed, 43))
	classes := len(names)
	const d = 8 * 2 * 2
	w := make([]float64, classes*d)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	for _, sp := range []string{Train, Valid, Test} {
		x := make([]float32, n*d)
		y := make([]uint8, n)
		for i := range n {
			for j := range d {
				x[i*d+j] = float32(rng.NormFloat64())
			}
			best := math.Inf(-1)
			for c := range classes {
				s := 3 / float64(c+1)
				for j := range d {
					s += float64(x[i*d+j]) * w[c*d+j]
				}
				if s > best {
					best, y[i] = s, uint8(c)
				}
			}
		}
		if err := npy.WriteFile(filepath.Join(dir, sp+"_features.npy"), []int{n, 8, 2, 2}, x); err != nil {
			t.Fatal(err)
		}
		if err := npy.WriteFile(filepath.Join(dir, sp+"_labels.npy"), []int{n}, y); err != nil {
			t.Fatal(err)
		}
	}
	writeFeaturesInfo(t, dir, n, names)
	return dir
}

// TestTrainHeadClasses trains heads of four classes (dense 4, softmax, categorical
// cross-entropy), with and without balanced class weights, and checks what the run
// writes: predictions.npy (N, 4) rows summing to 1 and equal to the result's, labels.npy
// (N,), the classes and weights in config.json, head.onnx with the probabilities output
// and the class names; and that a head for another number of classes, or a label past the
// classes, is refused before training.
func TestTrainHeadClasses(t *testing.T) {
	const n, c = 256, 4
	classes := []string{"ant", "bee", "cicada", "dragonfly"}
	dir := writeClassFeatures(t, n, classes, 1)
	lab, _, err := npy.ReadFile[uint8](filepath.Join(dir, "train_labels.npy"))
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, c)
	for _, l := range lab {
		counts[l]++
	}
	for _, weights := range [][]float64{nil, BalancedWeights(counts)} {
		// The classes are the features' (features.json).
		res, err := TrainHead(context.Background(), dir, withRecipe(Config{RunsDir: t.TempDir(), Epochs: 8, Batch: 16, Optimizer: "adam", LR: 0.01, Seed: 1,
			ClassWeights: weights}))
		if err != nil {
			t.Fatal(err)
		}
		if got := SpecString(res.Model.Layers); got != "flatten,dense:128,relu,dropout:0.5,dense:4,softmax" {
			t.Errorf("the default head for 4 classes is %s", got)
		}
		if res.History.BestValidAcc < 0.7 || res.TestAcc < 0.7 {
			t.Errorf("weights %v: best validation accuracy %.3f, test accuracy %.3f: want at least 0.7 on a linearly separable problem", weights, res.History.BestValidAcc, res.TestAcc)
		}
		t.Logf("weights %v: test accuracy %.3f, loss %.3f", weights, res.TestAcc, res.TestLoss)
		probs, shape, err := npy.ReadFile[float32](filepath.Join(res.Dir, runs.PredictionsFile))
		if err != nil || !reflect.DeepEqual(shape, []int{n, c}) || !reflect.DeepEqual(probs, res.TestProbs) {
			t.Errorf("predictions.npy: shape %v, err %v, equal to the result: %v", shape, err, reflect.DeepEqual(probs, res.TestProbs))
		}
		for i := range n {
			var s float64
			for _, p := range probs[i*c : (i+1)*c] {
				s += float64(p)
			}
			if math.Abs(s-1) > 1e-5 {
				t.Fatalf("row %d of the predictions sums to %v", i, s)
			}
		}
		if _, shape, err := npy.ReadFile[uint8](filepath.Join(res.Dir, runs.LabelsFile)); err != nil || !reflect.DeepEqual(shape, []int{n}) {
			t.Errorf("labels.npy: shape %v, %v", shape, err)
		}
		rc, _, err := runs.ReadConfig(res.Dir)
		if err != nil || !reflect.DeepEqual(rc.Classes, classes) || !reflect.DeepEqual(rc.ClassWeights, weights) || !reflect.DeepEqual(res.Classes, classes) {
			t.Errorf("config.json: classes %q, weights %v (%v); result's classes %q", rc.Classes, rc.ClassWeights, err, res.Classes)
		}
		m, err := onnx.Read(res.ModelPath)
		if err != nil {
			t.Fatal(err)
		}
		outs := m.Graph().GetOutput()
		if len(outs) != 1 || outs[0].GetName() != exported.ProbabilitiesName {
			t.Errorf("head.onnx outputs %v, want %s", outs, exported.ProbabilitiesName)
		}
		if got := m.Metadata()[exported.MetaLabels]; got != "ant,bee,cicada,dragonfly" {
			t.Errorf("head.onnx labels %q", got)
		}
	}

	// Features whose labels run past their classes (features.json names three).
	three := writeClassFeatures(t, 64, classes, 2)
	writeFeaturesInfo(t, three, 64, classes[:3])
	// Features of Dogs vs. Cats (no classes recorded) with labels 0 to 3.
	legacy := writeClassFeatures(t, 64, classes, 3)
	writeFeaturesInfo(t, legacy, 64, nil)
	for _, tt := range []struct {
		dir     string
		cfg     Config
		wantErr string
	}{
		{dir, Config{Head: "flatten,dense:1:sigmoid"}, "end it with dense:4,softmax"},
		{dir, Config{Head: "flatten,dense:5:softmax"}, "end it with dense:4,softmax"},
		{dir, Config{ClassWeights: []float64{1, 2}}, "2 class weights for 4 classes"},
		{dir, Config{ClassWeights: []float64{1, 2, 0, 1}}, "want a positive number"},
		{dir, Config{Classes: []string{"a", "b", "c", "d"}}, "but the data in"},
		{three, Config{}, "has label 3, but there are 3 classes"},
		{legacy, Config{}, "but there are 2 classes"},
	} {
		tt.cfg.RunsDir, tt.cfg.Epochs = t.TempDir(), 1
		if _, err := TrainHead(context.Background(), tt.dir, tt.cfg); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%+v: %v, want an error containing %q", tt.cfg, err, tt.wantErr)
		}
	}
}

func TestTrainHeadLearns(t *testing.T) {
	dir := writeFeatures(t, 256, 0, 1)
	res, err := TrainHead(context.Background(), dir, withRecipe(Config{RunsDir: t.TempDir(), Epochs: 8, Batch: 16, Optimizer: "adam", LR: 0.01, Seed: 1}))
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

// TestResumeMatchesUninterrupted stops runs (cancelling their context) at the end of an
// epoch and within one, resumes them, and compares the final weights and history with a
// run never interrupted.
func TestResumeMatchesUninterrupted(t *testing.T) {
	dir := writeFeatures(t, 96, 0.1, 2)
	// Dropout and batch norm make the generator state and running statistics matter.
	cfg := withRecipe(Config{Epochs: 4, Batch: 16, Seed: 3, LR: 0.01, Head: "flatten,dense:16,bn,relu,dropout:0.5,dense:1:sigmoid"})

	whole := cfg
	whole.RunsDir = t.TempDir()
	want, err := TrainHead(context.Background(), dir, whole)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		every      time.Duration
		stopEpoch  int // cancel after this epoch ends...
		stopBatch  int // ...or after this batch of epoch stopEpoch+1 (with every > 0)
		resumedAt  []int
		wantEpochs int // whole epochs done at the interruption
	}{
		{name: "end of epoch", stopEpoch: 2, resumedAt: []int{2}, wantEpochs: 2},
		{name: "within an epoch", every: time.Nanosecond, stopEpoch: 1, stopBatch: 3, resumedAt: []int{1}, wantEpochs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			part := cfg
			part.RunsDir = t.TempDir()
			part.CheckpointEvery = tt.every
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.stopBatch == 0 {
				part.OnEpoch = func(e runs.Epoch) {
					if e.Epoch == tt.stopEpoch {
						cancel()
					}
				}
			} else {
				part.Progress = func(p Progress) {
					if p.Epoch == tt.stopEpoch+1 && p.Batch == tt.stopBatch {
						cancel()
					}
				}
			}
			_, err := TrainHead(ctx, dir, part)
			var ie *InterruptedError
			if !errors.Is(err, context.Canceled) || !errors.As(err, &ie) || !ie.Resumable || ie.Epochs != tt.wantEpochs {
				t.Fatalf("interrupted run returned %v (%+v), want a resumable InterruptedError after %d epochs", err, ie, tt.wantEpochs)
			}
			part.OnEpoch, part.Progress = nil, nil
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
			if !reflect.DeepEqual(got.History.ResumedAt, tt.resumedAt) {
				t.Errorf("resumed at %v, want %v", got.History.ResumedAt, tt.resumedAt)
			}
			for i, p := range want.Model.Params() {
				if q := got.Model.Params()[i]; !reflect.DeepEqual(p.Data, q.Data) {
					t.Errorf("weight %s differs after resuming", p.Name)
				}
			}
			we, ge := append([]runs.Epoch(nil), want.History.Epochs...), got.History.Epochs
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
		})
	}

	// Interrupted before any checkpoint: nothing is left behind.
	early := cfg
	early.RunsDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	early.Progress = func(Progress) { cancel() }
	_, err = TrainHead(ctx, dir, early)
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.Resumable {
		t.Errorf("interrupted in the first batch: %v, want a non-resumable InterruptedError", err)
	}
	if left, _ := os.ReadDir(early.RunsDir); len(left) != 0 {
		t.Errorf("%d run folders left after an interruption before any checkpoint", len(left))
	}
}

// TestEarlyStoppingKeepsBest trains on pure-noise labels until the validation loss rises,
// and checks that training stopped early and that the weights returned are those of the
// best epoch.
func TestEarlyStoppingKeepsBest(t *testing.T) {
	dir := writeFeatures(t, 64, 1, 4)
	res, err := TrainHead(context.Background(), dir, withRecipe(Config{RunsDir: t.TempDir(), Epochs: 40, Batch: 8, Optimizer: "adam", LR: 0.01, Patience: 3, Seed: 5,
		Head: "flatten,dense:64:relu,dense:1:sigmoid"}))
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
	src, err := openFeatures(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.close()
	loss, _, _, err := evaluate(res.Model, objective{classes: 2}, src, Valid, src.len(Valid), 8, map[int]*graph{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(loss-h.BestValidLoss) > 1e-9 {
		t.Errorf("returned weights have validation loss %v, best epoch %d had %v", loss, h.BestEpoch, h.BestValidLoss)
	}

	// The same run given exactly the epochs it took is not "stopped early": it ran them all.
	exact, err := TrainHead(context.Background(), dir, withRecipe(Config{RunsDir: t.TempDir(), Epochs: len(h.Epochs), Batch: 8, Optimizer: "adam", LR: 0.01, Patience: 3, Seed: 5,
		Head: "flatten,dense:64:relu,dense:1:sigmoid"}))
	if err != nil {
		t.Fatal(err)
	}
	if exact.History.StoppedEarly || len(exact.History.Epochs) != len(h.Epochs) {
		t.Errorf("a run of %d epochs out of %d says stopped early: %v", len(exact.History.Epochs), len(h.Epochs), exact.History.StoppedEarly)
	}
}

// TestResumeRefusesDamagedCheckpoint: four bytes of a checkpoint overwritten (inside the
// weights, where no length or shape check would notice) and the run is not resumed.
func TestResumeRefusesDamagedCheckpoint(t *testing.T) {
	dir := writeFeatures(t, 64, 0.1, 2)
	cfg := withRecipe(Config{RunsDir: t.TempDir(), Epochs: 3, Batch: 16, Seed: 3})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.OnEpoch = func(e runs.Epoch) { cancel() }
	_, err := TrainHead(ctx, dir, cfg)
	var ie *InterruptedError
	if !errors.As(err, &ie) || !ie.Resumable {
		t.Fatalf("interrupted run: %v", err)
	}
	p := filepath.Join(ie.Dir, "checkpoint", checkpointFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	copy(b[len(b)-200:], []byte{0xff, 0xff, 0xff, 0x7f})
	os.WriteFile(p, b, 0o644)
	cfg.OnEpoch, cfg.Resume = nil, true
	if _, err := TrainHead(context.Background(), dir, cfg); err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("resuming a damaged checkpoint: %v", err)
	}
}

// TestDivergence: a learning rate far too high makes the outputs infinite or NaN: training
// stops with a DivergedError naming the learning rate, and leaves no run folder.
func TestDivergence(t *testing.T) {
	dir := writeFeatures(t, 64, 0, 2)
	runs := t.TempDir()
	_, err := TrainHead(context.Background(), dir, withRecipe(Config{RunsDir: runs, Epochs: 5, Batch: 16, Optimizer: "sgd", LR: 1e12, Seed: 1,
		Head: "flatten,dense:64:relu,dense:64:relu,dense:1:sigmoid"}))
	var de *DivergedError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "lower the learning rate") {
		t.Fatalf("error %v, want a DivergedError", err)
	}
	if left, _ := os.ReadDir(runs); len(left) != 0 {
		t.Errorf("a diverged run left %d run folders", len(left))
	}
}

// TestForeignFeatures: features cached from another backbone (a folder copied over, its
// checksums rewritten so that it opens) are refused before the first epoch, naming both
// shapes, and leave no run folder behind; features of the backbone's shape train.
func TestForeignFeatures(t *testing.T) {
	dir := writeFeatures(t, 64, 0, 1) // (N, 8, 2, 2)
	backbone := func(channels int64) *Backbone {
		b := onnx.NewBuilder("bb")
		x := b.Input(exported.InputName, onnx.Float, -1, 3, 4, 4)
		w := b.Initializer("w", []int64{channels, 3, 3, 3}, make([]float32, channels*27))
		y := b.Conv(x, w, "", onnx.ConvOpts{Pads: [4]int64{1, 1, 1, 1}})
		y = b.MaxPool(y, 2, 2)
		b.Output(y, "feat", onnx.Float, -1, channels, 2, 2)
		m, err := b.Model()
		if err != nil {
			t.Fatal(err)
		}
		return &Backbone{Name: "other", Model: m, Output: "feat"}
	}
	runsDir := t.TempDir()
	_, err := TrainHead(context.Background(), dir, withRecipe(Config{RunsDir: runsDir, Epochs: 1, Batch: 16, Seed: 1, Backbone: backbone(16)}))
	if err == nil || !strings.Contains(err.Error(), "have shape (N, 8, 2, 2), but backbone other gives (N, 16, 2, 2)") {
		t.Fatalf("features of another backbone: %v", err)
	}
	if left, _ := os.ReadDir(runsDir); len(left) != 0 {
		t.Errorf("a refused run left %v", left)
	}
	if _, err := TrainHead(context.Background(), dir, withRecipe(Config{RunsDir: runsDir, Epochs: 1, Batch: 16, Seed: 1, Backbone: backbone(8)})); err != nil {
		t.Errorf("features of the backbone's shape: %v", err)
	}
}

// withRecipe is c with the recipe's warm-up, momentum and patience where c leaves them at 0,
// as Config read them before its zero values came to mean none: the tests keep training
// exactly as they did.
func withRecipe(c Config) Config {
	d := DefaultConfig()
	if c.Warmup == 0 {
		c.Warmup = d.Warmup
	}
	if c.Momentum == 0 {
		c.Momentum = d.Momentum
	}
	if c.Patience == 0 {
		c.Patience = d.Patience
	}
	return c
}

// TestConfigZeroMeansNone: the recipe is DefaultConfig; a Config's zero warm-up, momentum
// and patience mean none, and the fields whose zero means nothing take the recipe's value.
func TestConfigZeroMeansNone(t *testing.T) {
	tests := []struct {
		name string
		in   Config
		want func(Config) bool
	}{
		{"recipe", DefaultConfig(), func(c Config) bool {
			return c.Warmup == DefaultWarmup && c.Patience == DefaultPatience && c.Momentum == 0 && c.Epochs == DefaultEpochs && c.LR == DefaultLR
		}},
		{"zero", Config{}, func(c Config) bool {
			return c.Warmup == 0 && c.Patience == 0 && c.Momentum == 0 && c.Epochs == DefaultEpochs && c.Batch == DefaultBatch && c.Optimizer == DefaultOptimizer
		}},
		{"sgd keeps its momentum", Config{Optimizer: "sgd", Momentum: 0.8}, func(c Config) bool { return c.Momentum == 0.8 }},
		{"plain sgd", Config{Optimizer: "sgd"}, func(c Config) bool { return c.Momentum == 0 }},
		{"a run of one epoch has no warm-up", func() Config { c := DefaultConfig(); c.Epochs = 1; return c }(), func(c Config) bool { return c.Warmup == 0 }},
		{"warm-up shorter than the run", func() Config { c := DefaultConfig(); c.Epochs, c.Warmup = 3, 5; return c }(), func(c Config) bool { return c.Warmup == 2 }},
	}
	for _, tc := range tests {
		got, err := tc.in.Resolved()
		if err != nil || !tc.want(got) {
			t.Errorf("%s: %+v, %v", tc.name, got, err)
		}
	}
}
