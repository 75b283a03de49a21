package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/npy"
	"github.com/catdog-ml/catdog/metrics"
)

// The files of a run folder. The training engine writes the first five (docs/training.md);
// this package adds metrics.json and the documents (docs/reports.md).
const (
	ConfigFile      = "config.json"
	ModelFile       = "model.json"
	HistoryFile     = "history.json"
	PredictionsFile = "predictions.npy" // float32 (N,): probability of cat per test photo, split order
	LabelsFile      = "labels.npy"      // uint8 (N,): true label per test photo, 0 dog, 1 cat
	MetricsFile     = "metrics.json"
	MarkdownFile    = "report.md"
	HTMLFile        = "report.html"
)

// Run kinds.
const (
	Scratch  = "scratch"  // a network trained from random weights on the photos ("cnn")
	Transfer = "transfer" // a head trained on a frozen backbone's features ("head")
)

// Run is everything a run folder records about one trained model.
type Run struct {
	// Dir is the run folder; Name its base name ("vgg3-20261124-150200").
	Dir  string
	Name string
	// Arch is the architecture ("vgg3"; "vgg16-head" for a head on vgg16), Kind Scratch
	// or Transfer, Description the architecture in words (optional).
	Arch        string
	Kind        string
	Description string
	// Backbone names the frozen backbone of a transfer run, Weights where its weights
	// come from: "imagenet", "random", "pretrained", or "none" (scratch runs).
	Backbone string
	Weights  string
	// BackboneFile and BackboneSHA256 say which backbone file (or TensorFlow.js folder)
	// the features were computed with, and its checksum.
	BackboneFile   string
	BackboneSHA256 string
	// Data is the prepared dataset folder the photos come from; Features the features
	// folder a head trained on; InputSize the side of the square photos.
	Data      string
	Features  string
	InputSize int
	// Created is when training started.
	Created time.Time
	// Config holds the other training settings of config.json (epochs, batch,
	// optimizer, lr, augment, seed, ...), as written.
	Config map[string]any
	// Environment is the machine and software the run used.
	Environment Environment
	// Layers is the layer table (model.json), a frozen backbone first.
	Layers []Layer
	// History is the per-epoch record (history.json).
	History History
	// Test scores the model on the test split (metrics.json); nil until evaluated.
	Test *metrics.Report
	// Probs and Labels are the test predictions: probability of cat and true label of
	// the first len(Probs) photos of the dataset's test split, in its order.
	Probs  []float32
	Labels []uint8
}

// Environment describes where a run trained.
type Environment struct {
	GoVersion string `json:"go_version,omitempty"`
	OS        string `json:"os,omitempty"`
	CPU       string `json:"cpu,omitempty"`
	Cores     int    `json:"cores,omitempty"`
	Engine    string `json:"engine,omitempty"` // training engine: "gorgonia v0.9.18 float32"
	BLAS      string `json:"blas,omitempty"`
	// ORTVersion, Provider and FeaturesPerSec describe the backbone's feature
	// extraction on onnxruntime (transfer runs).
	ORTVersion     string  `json:"onnxruntime_version,omitempty"`
	Provider       string  `json:"provider,omitempty"`
	Threads        int     `json:"threads,omitempty"`
	FeaturesPerSec float64 `json:"features_images_per_second,omitempty"`
}

// Layer is one row of a model's layer table, as finetune writes it in model.json.
type Layer struct {
	Name string `json:"name"`
	// Kind is what the layer does (conv, relu, maxpool, dropout, batchnorm, flatten,
	// dense, sigmoid, gap, residual, backbone); when empty it is read from Spec.
	Kind string `json:"kind,omitempty"`
	// Spec is the layer in finetune's spec syntax ("conv:32:3:1").
	Spec string `json:"spec,omitempty"`
	// OutShape is the output shape per sample.
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
	if k == "bn" {
		return "batchnorm"
	}
	return k
}

// hasBackboneRow reports whether a layer table already holds its frozen backbone as a row
// (the training engine writes one, named "backbone").
func hasBackboneRow(table []Layer) bool {
	for _, l := range table {
		if (l.Kind == "backbone" || l.Name == "backbone") && l.IsFrozen() {
			return true
		}
	}
	return false
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

// History is the per-epoch record of training (history.json).
type History struct {
	Epochs []Epoch `json:"epochs"`
	// BestEpoch is the epoch whose weights the model kept (0 if not recorded).
	BestEpoch     int     `json:"best_epoch,omitempty"`
	BestValidLoss float64 `json:"best_valid_loss,omitempty"`
	BestValidAcc  float64 `json:"best_valid_accuracy,omitempty"`
	StoppedEarly  bool    `json:"stopped_early,omitempty"`
	// ResumedAt lists the epochs after which the run was interrupted and resumed.
	ResumedAt []int `json:"resumed_at,omitempty"`
}

// Epoch is one epoch of training.
type Epoch struct {
	Epoch        int     `json:"epoch"`
	TrainLoss    float64 `json:"train_loss"`
	TrainAcc     float64 `json:"train_accuracy"`
	ValidLoss    float64 `json:"valid_loss"`
	ValidAcc     float64 `json:"valid_accuracy"`
	Seconds      float64 `json:"seconds"`
	ImagesPerSec float64 `json:"images_per_second"`
	Best         bool    `json:"best,omitempty"`
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

// diskConfig is the part of config.json the report reads by name (finetune's runConfig
// plus optional fields); every other key lands in Run.Config.
type diskConfig struct {
	Kind        string          `json:"kind"`
	Arch        string          `json:"arch"`
	Description string          `json:"description,omitempty"`
	Data        string          `json:"data"`
	Input       []int           `json:"input_shape,omitempty"`
	Features    json.RawMessage `json:"features,omitempty"`
	Backbone    string          `json:"backbone,omitempty"`
	Weights     string          `json:"weights,omitempty"`
	Started     time.Time       `json:"started"`
	Go          string          `json:"go,omitempty"`
	Engine      string          `json:"engine,omitempty"`
	Environment *Environment    `json:"environment,omitempty"`
}

// diskFeatures is what the report reads of a features folder's features.json.
type diskFeatures struct {
	Backbone       string  `json:"backbone"`
	BackboneFile   string  `json:"backbone_file,omitempty"`
	BackboneSHA256 string  `json:"backbone_sha256,omitempty"`
	Weights        string  `json:"weights,omitempty"`
	RandomWeights  bool    `json:"random_weights,omitempty"`
	InputSize      int     `json:"input_size"`
	Data           string  `json:"data"`
	Provider       string  `json:"provider,omitempty"`
	ORTVersion     string  `json:"onnxruntime_version,omitempty"`
	ImagesPerSec   float64 `json:"images_per_second,omitempty"`
}

// diskModel is model.json.
type diskModel struct {
	Arch           string  `json:"arch"`
	Layers         string  `json:"layers,omitempty"`
	Input          []int   `json:"input_shape"`
	Table          []Layer `json:"table"`
	Params         int     `json:"params"`
	NonTrainable   int     `json:"non_trainable"`
	Backbone       string  `json:"backbone,omitempty"`
	BackboneParams int     `json:"backbone_params,omitempty"`
}

// Load reads a run folder. config.json must be there; the other files are read when
// present (a run still training lacks some). Test metrics missing from metrics.json are
// computed from the predictions.
func Load(dir string) (*Run, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("report: %s is not a run folder: %w", dir, err)
		}
		return nil, fmt.Errorf("report: %w", err)
	}
	var c diskConfig
	all := map[string]any{}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("report: reading %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("report: reading %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	for _, k := range []string{"kind", "arch", "description", "data", "features", "backbone", "weights", "started", "go", "engine", "environment"} {
		delete(all, k)
	}
	r := &Run{Dir: dir, Name: filepath.Base(dir), Arch: c.Arch, Description: c.Description, Backbone: c.Backbone,
		Weights: c.Weights, Data: c.Data, Created: c.Started, Config: all}
	if c.Environment != nil {
		r.Environment = *c.Environment
	}
	if c.Go != "" {
		r.Environment.GoVersion = c.Go
	}
	if c.Engine != "" {
		r.Environment.Engine = c.Engine
	}
	switch c.Kind {
	case "cnn", Scratch:
		r.Kind = Scratch
		if len(c.Input) == 3 {
			r.InputSize = c.Input[1]
		}
	case "head", Transfer:
		r.Kind = Transfer
		r.Features, r.Data = c.Data, ""
	default:
		r.Kind = c.Kind
	}
	if len(c.Features) > 0 {
		var f diskFeatures
		if err := json.Unmarshal(c.Features, &f); err != nil {
			return nil, fmt.Errorf("report: reading the features of %s: %w", filepath.Join(dir, ConfigFile), err)
		}
		r.Data, r.InputSize = f.Data, f.InputSize
		if r.Backbone == "" {
			r.Backbone = f.Backbone
		}
		if r.Weights == "" && f.RandomWeights {
			r.Weights = "random"
		}
		if r.Weights == "" {
			r.Weights = f.Weights
		}
		r.BackboneFile, r.BackboneSHA256 = f.BackboneFile, f.BackboneSHA256
		r.Environment.Provider, r.Environment.ORTVersion, r.Environment.FeaturesPerSec = f.Provider, f.ORTVersion, f.ImagesPerSec
	}
	if r.Kind == Transfer {
		if r.Arch == "head" && r.Backbone != "" {
			r.Arch = r.Backbone + "-head"
		}
		if r.Weights == "" {
			r.Weights = backboneWeights(r.Backbone)
		}
	} else if r.Weights == "" {
		r.Weights = "none"
	}
	var m diskModel
	if ok, err := readOptional(filepath.Join(dir, ModelFile), &m); err != nil {
		return nil, err
	} else if ok {
		r.Layers = m.Table
		if m.BackboneParams > 0 && !hasBackboneRow(m.Table) {
			name := m.Backbone
			if name == "" {
				name = "backbone"
			}
			r.Layers = append([]Layer{{Name: name, Kind: "backbone", OutShape: m.Input, Frozen: m.BackboneParams}}, r.Layers...)
		}
	}
	if err := readHistory(filepath.Join(dir, HistoryFile), &r.History); err != nil {
		return nil, err
	}
	var met metrics.Report
	if ok, err := readOptional(filepath.Join(dir, MetricsFile), &met); err != nil {
		return nil, err
	} else if ok {
		r.Test = &met
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

// Interval returns the 95 % (Wilson) interval of the run's test accuracy over its test
// photos; ok is false for a run not evaluated.
func (r *Run) Interval() (lo, hi float64, ok bool) {
	if r.Test == nil || r.Test.N == 0 {
		return 0, 0, false
	}
	lo, hi = metrics.Wilson(int(math.Round(r.Test.Accuracy*float64(r.Test.N))), r.Test.N)
	return lo, hi, true
}

// Seed returns the seed of the run's config.json, and whether it has one.
func (r *Run) Seed() (uint64, bool) {
	v, ok := r.Config["seed"].(float64)
	return uint64(v), ok
}

// backboneWeights guesses where a backbone's weights come from by its registry name.
func backboneWeights(backbone string) string {
	switch {
	case strings.HasSuffix(backbone, "-random"):
		return "random"
	case backbone == "vgg16":
		return "imagenet"
	case backbone == "":
		return ""
	}
	return "pretrained"
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
	return nil
}

// readOptional reads the JSON file path into v if it exists.
func readOptional(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("report: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("report: reading %s: %w", path, err)
	}
	return true, nil
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

// Save writes a run folder in the training engine's format (docs/training.md) into
// r.Dir, each file atomically: config.json, model.json, history.json, and when there
// are test predictions, predictions.npy, labels.npy and metrics.json. It is for programs
// that train models by other means and want catdog's reports (and for tests).
func Save(r *Run) error {
	if r.Dir == "" {
		return errors.New("report: saving a run without a folder")
	}
	if len(r.Labels) != len(r.Probs) {
		return fmt.Errorf("report: run %s has %d probabilities but %d labels", r.Name, len(r.Probs), len(r.Labels))
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	cfg := map[string]any{}
	for k, v := range r.Config {
		cfg[k] = v
	}
	env := r.Environment
	kind := r.Kind
	switch kind {
	case Scratch:
		kind = "cnn"
		if r.InputSize > 0 {
			cfg["input_shape"] = []int{3, r.InputSize, r.InputSize}
		}
		cfg["data"] = r.Data
	case Transfer:
		kind = "head"
		cfg["data"] = r.Features
		cfg["features"] = diskFeatures{Backbone: r.Backbone, RandomWeights: r.Weights == "random", InputSize: r.InputSize,
			Data: r.Data, Provider: env.Provider, ORTVersion: env.ORTVersion, ImagesPerSec: env.FeaturesPerSec}
	}
	cfg["kind"], cfg["arch"], cfg["started"], cfg["go"], cfg["engine"] = kind, r.Arch, r.Created, env.GoVersion, env.Engine
	for k, v := range map[string]string{"description": r.Description, "backbone": r.Backbone, "weights": r.Weights} {
		if v != "" {
			cfg[k] = v
		}
	}
	env.GoVersion, env.Engine = "", ""
	if env != (Environment{}) {
		cfg["environment"] = env
	}
	m := diskModel{Arch: r.Arch, Backbone: r.Backbone}
	for _, l := range r.Layers {
		if l.Kind == "backbone" && l.IsFrozen() {
			m.BackboneParams += l.Frozen
			m.Input = l.OutShape
			continue
		}
		m.Table = append(m.Table, l)
		m.Params += l.Params
		m.NonTrainable += l.Frozen
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
		{ConfigFile, cfg, false},
		{ModelFile, m, r.Layers == nil},
		{HistoryFile, r.History, false},
		{MetricsFile, r.Test, r.Test == nil},
	}
	for _, f := range files {
		if f.skip {
			continue
		}
		if err := atomicfile.WriteJSON(filepath.Join(r.Dir, f.name), f.v); err != nil {
			return err
		}
	}
	if len(r.Probs) == 0 {
		return nil
	}
	if err := npy.WriteFile(filepath.Join(r.Dir, PredictionsFile), []int{len(r.Probs)}, r.Probs); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := npy.WriteFile(filepath.Join(r.Dir, LabelsFile), []int{len(r.Labels)}, r.Labels); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
