package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/catdog-ml/catdog/features"
	"github.com/catdog-ml/catdog/metrics"
	"github.com/catdog-ml/catdog/runs"
)

// Run is everything a run folder records about one trained model.
type Run struct {
	// Dir is the run folder; Name its base name ("vgg3-20261124-150200").
	Dir  string
	Name string
	// Arch is the architecture ("vgg3"; "vgg16-head" for a head on vgg16), Kind runs.Scratch
	// or runs.Transfer, Description the architecture in words (optional).
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
	Layers []runs.Layer
	// History is the per-epoch record (history.json).
	History runs.History
	// Test scores the model on the test split (metrics.json); nil until evaluated.
	Test *metrics.Report
	// Export compares the exported model on onnxruntime with the training engine, when
	// the run was checked (export_check.json).
	Export *runs.ExportCheck
	// Classes names the labels, label i is Classes[i]: config.json's classes, else those
	// of the features or of metrics.json, else dog and cat (Dogs vs. Cats). Nil means dog
	// and cat too.
	Classes []string
	// ClassWeights weighted each class's loss in training (config.json's class_weights, in
	// label order); nil when the classes weighed the same.
	ClassWeights []float64
	// Probs and Labels are the test predictions of the first len(Labels) photos of the
	// dataset's test split, in its order: their true labels and, for two classes, the
	// probability of label 1 (cat), one per photo; for three classes or more a row of
	// len(Classes) probabilities per photo (row-major, len(Labels)×len(Classes)).
	Probs  []float32
	Labels []uint8
}

// ClassNames returns the run's classes: Classes, or dog and cat when it has none.
func (r *Run) ClassNames() []string {
	if len(r.Classes) == 0 {
		return []string{metrics.Dog, metrics.Cat}
	}
	return r.Classes
}

// dogCat says whether classes are those of Dogs vs. Cats (dog, cat), or none (the same).
func dogCat(classes []string) bool {
	return len(classes) == 0 || slices.Equal(classes, []string{metrics.Dog, metrics.Cat})
}

// perLabel is how many probabilities the run's predictions hold per test photo: 1 for two
// classes, one per class for more.
func (r *Run) perLabel() int {
	if c := len(r.ClassNames()); c > 2 {
		return c
	}
	return 1
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

// hasBackboneRow reports whether a layer table already holds its frozen backbone as a row
// (the training engine writes one, named "backbone").
func hasBackboneRow(table []runs.Layer) bool {
	for _, l := range table {
		if (l.Kind == "backbone" || l.Name == "backbone") && isFrozen(l) {
			return true
		}
	}
	return false
}

// isFrozen reports whether training leaves the layer's weights alone: it has values and
// none of them is trainable.
func isFrozen(l runs.Layer) bool { return l.Params == 0 && l.Frozen > 0 }

// layerShape writes the output shape as "32×64×64".
func layerShape(l runs.Layer) string {
	s := make([]string, len(l.Output))
	for i, d := range l.Output {
		s[i] = fmt.Sprint(d)
	}
	return strings.Join(s, "×")
}

// Params sums the layer table: trainable values, values of frozen layers, and other
// values that are not trained (batch-norm running statistics).
func (r *Run) Params() (trainable, frozen, other int) {
	for _, l := range r.Layers {
		trainable += l.Params
		if isFrozen(l) {
			frozen += l.Frozen
		} else {
			other += l.Frozen
		}
	}
	return trainable, frozen, other
}

// Evaluate scores the test predictions of the run's classes into r.Test.
func (r *Run) Evaluate() error {
	probs := make([]float64, len(r.Probs))
	for i, p := range r.Probs {
		probs[i] = float64(p)
	}
	m, err := metrics.ComputeClasses(r.Labels, probs, r.ClassNames(), metrics.Options{})
	if err != nil {
		return fmt.Errorf("scoring run %s: %w", r.Name, err)
	}
	r.Test = m
	return nil
}

// Load reads a run folder. config.json must be there; the other files are read when
// present (a run still training lacks some). Test metrics missing from metrics.json are
// computed from the predictions.
func Load(dir string) (*Run, error) {
	c, all, err := runs.ReadConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var env struct {
		Environment *Environment `json:"environment"`
	}
	if b, err := json.Marshal(all); err == nil {
		_ = json.Unmarshal(b, &env)
	}
	for _, k := range []string{"kind", "arch", "description", "data", "features", "backbone", "weights", "started", "go", "engine", "environment", "classes", "class_weights"} {
		delete(all, k)
	}
	r := &Run{Dir: dir, Name: filepath.Base(dir), Arch: c.Arch, Description: c.Description, Backbone: c.Backbone,
		Weights: c.Weights, Data: c.Data, Created: c.Started, Config: all, Classes: c.Classes, ClassWeights: c.ClassWeights}
	if env.Environment != nil {
		r.Environment = *env.Environment
	}
	if c.Go != "" {
		r.Environment.GoVersion = c.Go
	}
	if c.Engine != "" {
		r.Environment.Engine = c.Engine
	}
	r.Kind = c.Kind
	switch c.Kind {
	case runs.Scratch:
		if len(c.Input) == 3 {
			r.InputSize = c.Input[1]
		}
	case runs.Transfer:
		r.Features, r.Data = c.Data, ""
	}
	if len(c.Features) > 0 {
		var f features.Info
		if err := json.Unmarshal(c.Features, &f); err != nil {
			return nil, fmt.Errorf("report: reading the features of %s: %w", filepath.Join(dir, runs.ConfigFile), err)
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
		if len(r.Classes) == 0 {
			r.Classes = f.Classes
		}
		r.Environment.Provider, r.Environment.ORTVersion, r.Environment.FeaturesPerSec = f.Provider, f.ORTVersion, f.ImagesPerSecond
	}
	if r.Kind == runs.Transfer {
		if r.Arch == "head" && r.Backbone != "" {
			r.Arch = r.Backbone + "-head"
		}
		if r.Weights == "" {
			r.Weights = backboneWeights(r.Backbone)
		}
	} else if r.Weights == "" {
		r.Weights = "none"
	}
	var m runs.Model
	if ok, err := runs.ReadOptional(dir, runs.ModelFile, &m); err != nil {
		return nil, err
	} else if ok {
		r.Layers = m.Table
		if m.BackboneParams > 0 && !hasBackboneRow(m.Table) {
			name := m.Backbone
			if name == "" {
				name = "backbone"
			}
			r.Layers = append([]runs.Layer{{Name: name, Kind: "backbone", Output: m.Input, Frozen: m.BackboneParams}}, r.Layers...)
		}
	}
	if err := readHistory(filepath.Join(dir, runs.HistoryFile), &r.History); err != nil {
		return nil, err
	}
	var check runs.ExportCheck
	if ok, err := runs.ReadOptional(dir, runs.ExportCheckFile, &check); err != nil {
		return nil, err
	} else if ok {
		r.Export = &check
	}
	var met metrics.Report
	if ok, err := runs.ReadOptional(dir, runs.MetricsFile, &met); err != nil {
		return nil, err
	} else if ok {
		r.Test = &met
		if len(r.Classes) == 0 && !dogCat(met.Classes) {
			r.Classes = met.Classes
		}
	}
	if len(r.ClassWeights) > 0 && len(r.ClassWeights) != len(r.ClassNames()) {
		return nil, fmt.Errorf("report: %s: %d class weights for %d classes", filepath.Join(dir, runs.ConfigFile), len(r.ClassWeights), len(r.ClassNames()))
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
	labels, probs, ok, err := runs.ReadTest(dir)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if !ok {
		return nil
	}
	if err := r.checkPredictions(len(labels), len(probs)); err != nil {
		return fmt.Errorf("report: %s: %w", dir, err)
	}
	r.Probs, r.Labels = probs, labels
	return nil
}

// checkPredictions checks that n test photos have the probabilities the run's classes
// need: one each for two classes, one per class for more.
func (r *Run) checkPredictions(n, probs int) error {
	names := r.ClassNames()
	c := len(names)
	if probs == n*r.perLabel() {
		return nil
	}
	if c > 2 {
		return fmt.Errorf("%d probabilities for %d test photos of %d classes; want %d (one per class and photo)", probs, n, c, n*c)
	}
	err := fmt.Errorf("%d probabilities for %d test photos of the classes %s and %s; want one per photo, of %s", probs, n, names[0], names[1], names[1])
	if len(r.Classes) == 0 && n > 0 && probs%n == 0 {
		err = fmt.Errorf("%w (%d per photo: config.json does not name the run's classes)", err, probs/n)
	}
	return err
}

// readHistory reads history.json: the History object, or a bare list of epochs.
func readHistory(path string, h *runs.History) error {
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
	if err := r.checkPredictions(len(r.Labels), len(r.Probs)); err != nil {
		return fmt.Errorf("report: run %s: %w", r.Name, err)
	}
	if len(r.ClassWeights) > 0 && len(r.ClassWeights) != len(r.ClassNames()) {
		return fmt.Errorf("report: run %s has %d class weights for %d classes", r.Name, len(r.ClassWeights), len(r.ClassNames()))
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	cfg := map[string]any{}
	for k, v := range r.Config {
		cfg[k] = v
	}
	env := r.Environment
	switch r.Kind {
	case runs.Scratch:
		if r.InputSize > 0 {
			cfg["input_shape"] = []int{3, r.InputSize, r.InputSize}
		}
		cfg["data"] = r.Data
	case runs.Transfer:
		cfg["data"] = r.Features
		cfg["features"] = features.Info{Backbone: r.Backbone, RandomWeights: r.Weights == "random", InputSize: r.InputSize,
			Data: r.Data, Provider: env.Provider, ORTVersion: env.ORTVersion, ImagesPerSecond: env.FeaturesPerSec}
	}
	cfg["kind"], cfg["arch"], cfg["started"], cfg["go"], cfg["engine"] = r.Kind, r.Arch, r.Created, env.GoVersion, env.Engine
	for k, v := range map[string]string{"description": r.Description, "backbone": r.Backbone, "weights": r.Weights} {
		if v != "" {
			cfg[k] = v
		}
	}
	if !dogCat(r.Classes) {
		cfg["classes"] = r.Classes
	}
	if len(r.ClassWeights) > 0 {
		cfg["class_weights"] = r.ClassWeights
	}
	env.GoVersion, env.Engine = "", ""
	if env != (Environment{}) {
		cfg["environment"] = env
	}
	m := runs.Model{Arch: r.Arch, Backbone: r.Backbone}
	for _, l := range r.Layers {
		if l.Kind == "backbone" && isFrozen(l) {
			m.BackboneParams += l.Frozen
			m.Input = l.Output
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
		{runs.ConfigFile, cfg, false},
		{runs.ModelFile, m, r.Layers == nil},
		{runs.HistoryFile, r.History, false},
		{runs.MetricsFile, r.Test, r.Test == nil},
		{runs.ExportCheckFile, r.Export, r.Export == nil},
	}
	for _, f := range files {
		if f.skip {
			continue
		}
		if err := runs.WriteJSON(r.Dir, f.name, f.v); err != nil {
			return err
		}
	}
	if len(r.Probs) == 0 {
		return nil
	}
	if err := runs.WriteTest(r.Dir, r.Labels, r.Probs); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
