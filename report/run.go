package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/npy"
	"github.com/catdog-ml/catdog/metrics"
)

// The files of a run folder. docs/reports.md describes each.
const (
	ConfigFile      = "config.json"
	LayersFile      = "layers.json"
	HistoryFile     = "history.json"
	MetricsFile     = "metrics.json"
	PredictionsFile = "predictions.npy"        // float32 (N,): probability of cat per test photo
	LabelsFile      = "predictions_labels.npy" // uint8 (N,): true label per test photo, 0 dog, 1 cat
	IndexFile       = "predictions_index.npy"  // int64 (N,): the photo's row in the prepared dataset
	MarkdownFile    = "report.md"
	HTMLFile        = "report.html"
)

// Run kinds.
const (
	Scratch  = "scratch"  // a network trained from random weights on the photos
	Transfer = "transfer" // a head trained on a frozen backbone's features
)

// Run is everything a run folder records about one trained model.
type Run struct {
	// Dir is the run folder (not stored).
	Dir string `json:"-"`

	// Name names the run ("vgg3-20261124-1502"), Arch the architecture ("vgg3",
	// "vgg16-head"), Kind Scratch or Transfer.
	Name string `json:"name"`
	Arch string `json:"arch"`
	Kind string `json:"kind"`
	// Description says in words what the architecture is.
	Description string `json:"description,omitempty"`
	// Backbone names the frozen backbone of a transfer run ("vgg16"), Weights where its
	// weights come from: "imagenet", "random" or "none" (scratch runs).
	Backbone string `json:"backbone,omitempty"`
	Weights  string `json:"weights,omitempty"`
	// Data is the prepared dataset folder the run was trained on; InputSize the side of
	// its square photos.
	Data      string `json:"data,omitempty"`
	InputSize int    `json:"input_size,omitempty"`
	// Created is when training started.
	Created time.Time `json:"created"`
	// Config holds the training settings (epochs, batch, optimizer, learning rate,
	// augmentation, seed, ...), written as given.
	Config map[string]any `json:"config,omitempty"`
	// Environment is the machine and software the run used.
	Environment Environment `json:"environment"`

	// Layers is the layer table (layers.json).
	Layers []Layer `json:"-"`
	// History is the per-epoch record (history.json).
	History History `json:"-"`
	// Test scores the model on the test split (metrics.json); nil until evaluated.
	Test *metrics.Report `json:"-"`
	// Probs, Labels and Index are the test predictions: probability of cat, true label
	// and row in the prepared dataset of every test photo (Index may be empty).
	Probs  []float32 `json:"-"`
	Labels []uint8   `json:"-"`
	Index  []int64   `json:"-"`
}

// Environment describes where a run trained.
type Environment struct {
	GoVersion   string `json:"go_version,omitempty"`
	OS          string `json:"os,omitempty"`     // runtime.GOOS/GOARCH
	CPU         string `json:"cpu,omitempty"`    // model name
	Cores       int    `json:"cores,omitempty"`  // runtime.NumCPU
	Engine      string `json:"engine,omitempty"` // "gorgonia", "onnxruntime", ...
	BLAS        string `json:"blas,omitempty"`   // "openblas", "gonum"
	ORTVersion  string `json:"ort_version,omitempty"`
	Provider    string `json:"execution_provider,omitempty"` // "cpu", "cuda"
	Threads     int    `json:"threads,omitempty"`
	CatdogBuild string `json:"catdog_version,omitempty"`
}

// Layer is one row of a model's layer table. Its JSON form is the one finetune's layer
// table writes.
type Layer struct {
	Name string `json:"name"`
	// Kind is what the layer does: conv, relu, maxpool, dropout, batchnorm, flatten,
	// dense, sigmoid, gap, residual, backbone, input. When empty it is read from Spec.
	Kind string `json:"kind,omitempty"`
	// Spec is the layer in finetune's spec syntax ("conv:32:3:1").
	Spec string `json:"spec,omitempty"`
	// OutShape is the output shape per sample (C, H, W or units).
	OutShape []int `json:"output_shape"`
	// Params counts trainable values, Frozen the others (frozen weights, batch-norm
	// running statistics).
	Params int `json:"params"`
	Frozen int `json:"frozen"`
}

// LayerKind returns l.Kind, or the kind named by the start of its Spec.
func (l Layer) LayerKind() string {
	if l.Kind != "" {
		return l.Kind
	}
	k, _, _ := strings.Cut(l.Spec, ":")
	return k
}

// IsFrozen reports whether training leaves the layer's weights alone: it has values and
// none of them is trainable.
func (l Layer) IsFrozen() bool { return l.Params == 0 && l.Frozen > 0 }

// Shape writes the output shape as "32×64×64".
func (l Layer) Shape() string {
	s := make([]string, len(l.OutShape))
	for i, d := range l.OutShape {
		s[i] = fmt.Sprint(d)
	}
	return strings.Join(s, "×")
}

// History is the per-epoch record of training.
type History struct {
	Epochs []Epoch `json:"epochs"`
	// BestEpoch is the epoch whose weights the model kept (0 if not recorded).
	BestEpoch int `json:"best_epoch,omitempty"`
	// Stopped says why training ended ("early stopping: no better validation loss for 5
	// epochs", "max epochs").
	Stopped string `json:"stopped,omitempty"`
}

// Epoch is one epoch of training.
type Epoch struct {
	Epoch        int     `json:"epoch"`
	TrainLoss    float64 `json:"train_loss"`
	TrainAcc     float64 `json:"train_acc"`
	ValidLoss    float64 `json:"valid_loss"`
	ValidAcc     float64 `json:"valid_acc"`
	Seconds      float64 `json:"seconds"`
	ImagesPerSec float64 `json:"images_per_sec"`
}

// Seconds is the training time: the sum of the epochs' seconds.
func (h History) Seconds() float64 {
	s := 0.0
	for _, e := range h.Epochs {
		s += e.Seconds
	}
	return s
}

// ImagesPerSec is the mean training throughput over the epochs that recorded one.
func (h History) ImagesPerSec() float64 {
	s, n := 0.0, 0
	for _, e := range h.Epochs {
		if e.ImagesPerSec > 0 {
			s += e.ImagesPerSec
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

// Params sums the layer table: trainable values, values of frozen layers, and other
// values that are not trained (batch-norm running statistics).
func (r *Run) Params() (trainable, frozen, other int) {
	for _, l := range r.Layers {
		trainable += l.Params
		if l.IsFrozen() {
			frozen += l.Frozen
		} else {
			other += l.Frozen
		}
	}
	return trainable, frozen, other
}

// Evaluate scores the test predictions into r.Test.
func (r *Run) Evaluate() error {
	probs := make([]float64, len(r.Probs))
	for i, p := range r.Probs {
		probs[i] = float64(p)
	}
	m, err := metrics.Compute(r.Labels, probs, metrics.Options{})
	if err != nil {
		return fmt.Errorf("scoring run %s: %w", r.Name, err)
	}
	r.Test = m
	return nil
}

// Save writes the run's files into r.Dir (created if needed), each atomically: config,
// layers, history, and, when there are test predictions, metrics (computed by Evaluate
// if r.Test is nil) and the predictions arrays.
func Save(r *Run) error {
	if r.Dir == "" {
		return errors.New("report: saving a run without a folder")
	}
	if len(r.Labels) != len(r.Probs) || (len(r.Index) > 0 && len(r.Index) != len(r.Probs)) {
		return fmt.Errorf("report: run %s has %d probabilities, %d labels and %d indices", r.Name, len(r.Probs), len(r.Labels), len(r.Index))
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if r.Test == nil && len(r.Probs) > 0 {
		if err := r.Evaluate(); err != nil {
			return err
		}
	}
	files := []struct {
		name string
		v    any
		skip bool
	}{
		{ConfigFile, r, false},
		{LayersFile, r.Layers, r.Layers == nil},
		{HistoryFile, r.History, false},
		{MetricsFile, r.Test, r.Test == nil},
	}
	for _, f := range files {
		if f.skip {
			continue
		}
		if err := writeJSON(filepath.Join(r.Dir, f.name), f.v); err != nil {
			return err
		}
	}
	if len(r.Probs) == 0 {
		return nil
	}
	n := len(r.Probs)
	if err := npy.WriteFile(filepath.Join(r.Dir, PredictionsFile), []int{n}, r.Probs); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := npy.WriteFile(filepath.Join(r.Dir, LabelsFile), []int{n}, r.Labels); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if len(r.Index) > 0 {
		if err := npy.WriteFile(filepath.Join(r.Dir, IndexFile), []int{n}, r.Index); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("report: encoding %s: %w", filepath.Base(path), err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}

// Load reads a run folder. config.json must be there; the other files are read when
// present (a run stopped early may lack some). Test metrics missing from metrics.json
// are computed from the predictions.
func Load(dir string) (*Run, error) {
	r := &Run{}
	if err := readJSON(filepath.Join(dir, ConfigFile), r); err != nil {
		return nil, err
	}
	r.Dir = dir
	if r.Name == "" {
		r.Name = filepath.Base(dir)
	}
	if err := readOptionalJSON(filepath.Join(dir, LayersFile), &r.Layers); err != nil {
		return nil, err
	}
	if err := readHistory(filepath.Join(dir, HistoryFile), &r.History); err != nil {
		return nil, err
	}
	var m metrics.Report
	if ok, err := readOptional(filepath.Join(dir, MetricsFile), &m); err != nil {
		return nil, err
	} else if ok {
		r.Test = &m
	}
	if err := r.loadPredictions(dir); err != nil {
		return nil, err
	}
	if r.Test == nil && len(r.Probs) > 0 {
		if err := r.Evaluate(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Run) loadPredictions(dir string) error {
	p := filepath.Join(dir, PredictionsFile)
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	probs, shape, err := npy.ReadFile[float32](p)
	if err != nil {
		return fmt.Errorf("report: run %s: %w", dir, err)
	}
	labels, lshape, err := npy.ReadFile[uint8](filepath.Join(dir, LabelsFile))
	if err != nil {
		return fmt.Errorf("report: run %s: %w", dir, err)
	}
	if len(shape) != 1 || len(lshape) != 1 || shape[0] != lshape[0] {
		return fmt.Errorf("report: run %s: predictions of shape %v and labels of shape %v; want two (N,) arrays", dir, shape, lshape)
	}
	r.Probs, r.Labels = probs, labels
	ip := filepath.Join(dir, IndexFile)
	if _, err := os.Stat(ip); err == nil {
		idx, ishape, err := npy.ReadFile[int64](ip)
		if err != nil {
			return fmt.Errorf("report: run %s: %w", dir, err)
		}
		if len(ishape) != 1 || ishape[0] != shape[0] {
			return fmt.Errorf("report: run %s: index of shape %v for %d predictions", dir, ishape, shape[0])
		}
		r.Index = idx
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("report: %s is not a run folder: %w", filepath.Dir(path), err)
		}
		return fmt.Errorf("report: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("report: reading %s: %w", path, err)
	}
	return nil
}

// readOptional reads path into v if it exists.
func readOptional(path string, v any) (bool, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return true, readJSON(path, v)
}

func readOptionalJSON(path string, v any) error {
	_, err := readOptional(path, v)
	return err
}

// readHistory reads history.json: the History object, or a bare list of epochs.
func readHistory(path string, h *History) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "[") {
		err = json.Unmarshal(b, &h.Epochs)
	} else {
		err = json.Unmarshal(b, h)
	}
	if err != nil {
		return fmt.Errorf("report: reading %s: %w", path, err)
	}
	return nil
}
