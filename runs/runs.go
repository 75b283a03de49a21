// Package runs defines the run folder, runs/<name>-<UTC timestamp>/, that training writes
// and the reports, the study and the comparison page read: its file names, the Go types of
// its JSON files and the one reader of them. Package finetune writes run folders, report
// reads them, study adds to them; none declares these names again.
package runs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// The files of a run folder.
const (
	ConfigFile      = "config.json"       // Config: everything that determines the result
	ModelFile       = "model.json"        // Model: the layer table and parameter counts
	HistoryFile     = "history.json"      // History: per epoch, losses, accuracies, times
	ResultFile      = "result.json"       // the training engine's summary
	ONNXFile        = "model.onnx"        // the exported model (image in, probabilities out)
	HeadONNXFile    = "head.onnx"         // a transfer head exported alone (features in)
	PredictionsFile = "predictions.npy"   // per test photo, split order: float32 (N,) P(label 1) for 2 classes, (N, C) for C >= 3
	LabelsFile      = "labels.npy"        // uint8 (N,): true label per test photo (0 dog, 1 cat for Dogs vs. Cats)
	MetricsFile     = "metrics.json"      // the test split's classification report
	ExportCheckFile = "export_check.json" // ExportCheck: the exported model against the engine
	MarkdownFile    = "report.md"         // the run's document
	HTMLFile        = "report.html"       // the same, self-contained HTML
	CheckpointDir   = "checkpoint"        // while training: the state to resume from
)

// Run kinds.
const (
	Scratch  = "scratch"  // a network trained from random weights on the photos
	Transfer = "transfer" // a head trained on a frozen backbone's features
)

// NormalKind reads a kind as written by any catdog version ("cnn" and "head" before 2026-12).
func NormalKind(k string) string {
	switch k {
	case "cnn":
		return Scratch
	case "head":
		return Transfer
	}
	return k
}

// Config is config.json. Keys of other writers land in Extra when read.
type Config struct {
	Kind        string `json:"kind"` // Scratch or Transfer
	Arch        string `json:"arch"` // the architecture, or the run's name for heads
	Description string `json:"description,omitempty"`
	Layers      string `json:"layers,omitempty"` // finetune's layer spec
	Input       []int  `json:"input_shape,omitempty"`
	// Data is the prepared dataset (Scratch) or the features folder (Transfer).
	Data      string          `json:"data"`
	Epochs    int             `json:"epochs"`
	Batch     int             `json:"batch"`
	Init      string          `json:"init,omitempty"`
	Optimizer string          `json:"optimizer"`
	LR        float64         `json:"lr"`
	Schedule  string          `json:"schedule,omitempty"`
	Warmup    int             `json:"warmup,omitempty"`
	Momentum  float64         `json:"momentum"`
	Patience  int             `json:"patience"`
	Seed      uint64          `json:"seed"`
	Limit     int             `json:"limit,omitempty"`
	Augment   json.RawMessage `json:"augment,omitempty"`
	// Classes are the class names in label order; absent means Dogs vs. Cats, [dog cat].
	Classes []string `json:"classes,omitempty"`
	// ClassWeights weight each sample's loss by its class's (absent: 1 each).
	ClassWeights []float64 `json:"class_weights,omitempty"`
	// InputScale is the factor applied to 0..255 pixels, inside the exported graph.
	InputScale float32 `json:"input_scale,omitempty"`
	Layout     string  `json:"layout,omitempty"`
	// Features is the features folder's features.json (Transfer).
	Features json.RawMessage `json:"features,omitempty"`
	Backbone string          `json:"backbone,omitempty"`
	Weights  string          `json:"weights,omitempty"`
	// JoinFeatures are the other features folders joined to Data's (Transfer).
	JoinFeatures []string `json:"join_features,omitempty"`
	// InitFrom says where the initial weights come from, when not drawn at random.
	InitFrom    string    `json:"init_from,omitempty"`
	FlipAverage bool      `json:"flip_average,omitempty"`
	Started     time.Time `json:"started"`
	Go          string    `json:"go,omitempty"`
	Engine      string    `json:"engine,omitempty"`
}

// Layer is one row of a model's layer table (model.json).
type Layer struct {
	Name string `json:"name"`
	// Kind is what the layer does: conv, relu, relu6, maxpool, dropout, batchnorm, flatten,
	// dense, sigmoid, softmax, gap, residual, backbone.
	Kind string `json:"kind,omitempty"`
	// Spec is the layer in finetune's spec syntax ("conv:32:3:1").
	Spec string `json:"spec,omitempty"`
	// Output is the output shape per sample.
	Output []int `json:"output_shape"`
	// Params counts trainable values, Frozen the others (frozen weights, batch-norm
	// running statistics).
	Params int `json:"params"`
	Frozen int `json:"frozen"`
}

// Model is model.json.
type Model struct {
	Arch           string  `json:"arch"`
	Layers         string  `json:"layers,omitempty"`
	Input          []int   `json:"input_shape"`
	Table          []Layer `json:"table"`
	Params         int     `json:"params"`
	NonTrainable   int     `json:"non_trainable"`
	Backbone       string  `json:"backbone,omitempty"`
	BackboneParams int     `json:"backbone_params,omitempty"`
}

// ExportCheck is export_check.json: the exported model's probabilities on the test photos
// (of label 1 for two classes, of every class for more), computed by onnxruntime, against
// the training engine's on the same photos.
type ExportCheck struct {
	Runtime string `json:"runtime"` // "onnxruntime 1.30.0 (cpu)"
	Engine  string `json:"engine"`  // "gorgonia v0.9.18 float32"
	Images  int    `json:"images"`
	// MaxDiff is the largest absolute difference of the two probabilities.
	MaxDiff float64 `json:"max_abs_diff"`
	// SameClass counts the photos both call the same class (at 0.5 for two classes, the
	// most probable class for more).
	SameClass int `json:"same_class"`
}

// Epoch is one epoch of training.
type Epoch struct {
	Epoch        int     `json:"epoch"`
	TrainLoss    float64 `json:"train_loss"`
	TrainAcc     float64 `json:"train_accuracy"`
	ValidLoss    float64 `json:"valid_loss"`
	ValidAcc     float64 `json:"valid_accuracy"`
	Seconds      float64 `json:"seconds"`
	ImagesPerSec float64 `json:"images_per_second"` // training samples per second
	Best         bool    `json:"best,omitempty"`    // lowest validation loss so far
}

// History is history.json.
type History struct {
	Epochs []Epoch `json:"epochs"`
	// BestEpoch is the epoch whose weights the model kept (0 if not recorded).
	BestEpoch     int     `json:"best_epoch"`
	BestValidLoss float64 `json:"best_valid_loss"`
	BestValidAcc  float64 `json:"best_valid_accuracy"`
	StoppedEarly  bool    `json:"stopped_early"`
	// ResumedAt lists the epochs after which the run was interrupted and resumed.
	ResumedAt []int `json:"resumed_at,omitempty"`
}

// Seconds is the training time: the sum of the epochs' seconds.
func (h History) Seconds() float64 {
	s := 0.0
	for _, e := range h.Epochs {
		s += e.Seconds
	}
	return s
}

// NewDir creates a new run folder for a run called name in runsDir,
// runsDir/<name>-<UTC timestamp> (adding -2, -3... if it exists), and returns its path.
func NewDir(runsDir, name string) (string, error) {
	if err := os.MkdirAll(runsDir, 0o755); err != nil {
		return "", fmt.Errorf("creating the runs folder: %w", err)
	}
	base := filepath.Join(runsDir, name+"-"+time.Now().UTC().Format("20060102-150405"))
	dir := base
	for i := 2; ; i++ {
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("creating the run folder: %w", err)
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
}

// ReadConfig reads dir's config.json; extra receives every key, Config's own included.
func ReadConfig(dir string) (c Config, extra map[string]any, err error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return c, nil, fmt.Errorf("%s is not a run folder: %w", dir, err)
		}
		return c, nil, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	if err := json.Unmarshal(b, &extra); err != nil {
		return c, nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	c.Kind = NormalKind(c.Kind)
	return c, extra, nil
}

// ReadOptional reads the JSON file name of dir into v; ok is false when it is missing (a
// run still training lacks some files).
func ReadOptional(dir, name string, v any) (ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("reading %s: %w", filepath.Join(dir, name), err)
	}
	return true, nil
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
