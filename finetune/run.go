package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/features"
	"github.com/catdog-ml/catdog/runs"
)

// differs names the first setting that makes two run configurations train differently.
func differs(c, o runs.Config) string {
	type key struct {
		Kind, Arch, Layers string
		Input              []int
		Batch              int
		Init               string
		Optimizer          string
		LR, Momentum       float64
		Schedule           string
		Warmup             int
		Seed               uint64
		Limit              int
		Augment            string
		Classes            []string
		ClassWeights       []float64
	}
	a := key{c.Kind, c.Arch, c.Layers, c.Input, c.Batch, c.Init, c.Optimizer, c.LR, c.Momentum, c.Schedule, c.Warmup, c.Seed, c.Limit, string(c.Augment), runClasses(c), c.ClassWeights}
	b := key{o.Kind, o.Arch, o.Layers, o.Input, o.Batch, o.Init, o.Optimizer, o.LR, o.Momentum, o.Schedule, o.Warmup, o.Seed, o.Limit, string(o.Augment), runClasses(o), o.ClassWeights}
	if reflect.DeepEqual(a, b) {
		return ""
	}
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			return fmt.Sprintf("%s was %v, now %v", va.Type().Field(i).Name, jsonString(va.Field(i).Interface()), jsonString(vb.Field(i).Interface()))
		}
	}
	return "settings differ"
}

// runClasses returns a run's class names: those of its config, or Dogs vs. Cats for a run
// written before configs named them.
func runClasses(c runs.Config) []string {
	if c.Classes == nil {
		return DefaultClasses()
	}
	return c.Classes
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func newRunConfig(kind, arch string, m *Model, data string, cfg Config) runs.Config {
	abs, err := filepath.Abs(data)
	if err != nil {
		abs = data
	}
	return runs.Config{Kind: kind, Arch: arch, Layers: SpecString(m.Layers), Input: m.Input, Data: abs,
		Epochs: cfg.Epochs, Batch: cfg.Batch, Init: string(cfg.Init), Optimizer: cfg.Optimizer, LR: cfg.LR, Momentum: cfg.Momentum,
		Schedule: cfg.Schedule, Warmup: cfg.Warmup,
		Patience: cfg.Patience, Seed: cfg.Seed, Limit: cfg.Limit, InitFrom: cfg.InitFrom, Started: time.Now().UTC(),
		Classes: cfg.Classes, ClassWeights: cfg.ClassWeights,
		Go: runtime.Version(), Engine: Engine()}
}

// TrainCNN trains architecture arch from scratch on the prepared dataset in dataDir
// (catdog prepare) and writes a run folder (docs/training.md): model.onnx takes plain
// RGB 0..255 NCHW images of the dataset's size. The architecture's output layers are made
// for the classes (cfg.Classes, else the dataset's): OutputLayers.
func TrainCNN(ctx context.Context, dataDir string, arch Architecture, cfg Config) (*Result, error) {
	if err := cfg.defaults(arch.Name); err != nil {
		return nil, err
	}
	src, err := openImages(dataDir)
	if err != nil {
		return nil, err
	}
	defer src.close()
	if cfg.Classes, err = dataClasses(cfg.Classes, src.ds.Classes(), dataDir); err != nil {
		return nil, err
	}
	layers, err := WithClasses(arch.Layers(), len(cfg.Classes))
	if err != nil {
		return nil, fmt.Errorf("architecture %s: %w", arch.Name, err)
	}
	m, err := NewModel(arch.Name, []int{3, src.size, src.size}, layers, cfg.Init, cfg.Seed)
	if err != nil {
		return nil, err
	}
	aug := cfg.Augment
	if aug == nil && arch.Augment {
		d := DefaultAugment()
		aug = &d
	}
	if aug != nil {
		if err := aug.Validate(); err != nil {
			return nil, err
		}
	}
	rc := newRunConfig(runs.Scratch, arch.Name, m, dataDir, cfg)
	if aug != nil {
		rc.Augment, _ = json.Marshal(aug)
	}
	rc.InputScale, rc.Layout = ImageScale, "NCHW"
	meta := map[string]string{}
	if f := src.ds.Manifest().Filter; f != "" {
		meta[exported.MetaResizeFilter] = f
	}
	for k, v := range cfg.Metadata {
		meta[k] = v
	}
	t, err := newTrainer(cfg, m, src, rc)
	if err != nil {
		return nil, err
	}
	if aug != nil {
		a := NewAugmenter(*aug)
		t.augment = func(raw []uint8, n int) { a.Apply(raw, n, src.size, t.rng) }
	}
	if err := t.run(ctx); err != nil {
		return nil, err
	}
	return t.finish(func() (string, error) {
		mod, err := m.Export(ExportOptions{Input: exported.InputName, Scale: ImageScale, Classes: cfg.Classes, Metadata: meta})
		if err != nil {
			return "", err
		}
		path := filepath.Join(t.dir, runs.ONNXFile)
		return path, mod.Write(path)
	})
}

// TrainHead trains a transfer head (cfg.Head, default DefaultHead) on the features in
// featuresDir (catdog extract-features) and writes a run folder (docs/training.md). With
// cfg.Backbone, model.onnx is backbone + head from images; without, head.onnx takes
// features. The head must end with the output layers of the classes (cfg.Classes, else
// the features'): OutputLayers; the default head is made so (WithClasses).
func TrainHead(ctx context.Context, featuresDir string, cfg Config) (*Result, error) {
	// The run is named after the backbones: "mobilenet-v1-075-head", "a+b-head".
	var names []string
	infos := map[string]*features.Info{}
	for _, d := range append([]string{featuresDir}, cfg.JoinFeatures...) {
		info, err := features.Open(d)
		if err != nil {
			return nil, err
		}
		infos[d] = info
		names = append(names, info.Backbone)
	}
	if err := cfg.defaults(strings.Join(names, "+") + "-head"); err != nil {
		return nil, err
	}
	classes := cfg.Classes
	for _, d := range append([]string{featuresDir}, cfg.JoinFeatures...) {
		var err error
		if classes, err = dataClasses(classes, infos[d].ClassNames(), d); err != nil {
			return nil, err
		}
	}
	cfg.Classes = classes
	if cfg.Head == "" {
		def, err := ParseLayers(DefaultHead)
		if err != nil {
			return nil, err
		}
		if def, err = WithClasses(def, len(cfg.Classes)); err != nil {
			return nil, err
		}
		cfg.Head = SpecString(def)
	}
	layers, err := ParseLayers(cfg.Head)
	if err != nil {
		return nil, fmt.Errorf("head spec: %w", err)
	}
	src, err := openFeatures(infos, featuresDir, cfg.JoinFeatures...)
	if err != nil {
		return nil, err
	}
	defer src.close()
	if err := cfg.Backbone.fits(src.shape(), featuresDir); err != nil {
		return nil, err
	}
	m, err := NewModel(cfg.Name, src.shape(), layers, cfg.Init, cfg.Seed)
	if err != nil {
		return nil, err
	}
	rc := newRunConfig(runs.Transfer, cfg.Name, m, featuresDir, cfg)
	for _, d := range cfg.JoinFeatures {
		if abs, err := filepath.Abs(d); err == nil {
			d = abs
		}
		rc.JoinFeatures = append(rc.JoinFeatures, d)
	}
	meta := map[string]string{}
	info := infos[featuresDir]
	if b, err := os.ReadFile(filepath.Join(featuresDir, features.InfoFile)); err == nil && json.Valid(b) {
		rc.Features = b
	}
	rc.Backbone = strings.Join(names, "+")
	if cfg.Backbone != nil && info.InputSize > 0 {
		meta[exported.MetaInputSize] = strconv.Itoa(info.InputSize)
		meta[exported.MetaLayout] = "NCHW"
	}
	if info.ResizeFilter != "" {
		meta[exported.MetaResizeFilter] = info.ResizeFilter
	}
	if cfg.Backbone != nil {
		rc.Backbone = cfg.Backbone.Name
	}
	for k, v := range cfg.Metadata {
		meta[k] = v
	}
	t, err := newTrainer(cfg, m, src, rc)
	if err != nil {
		return nil, err
	}
	if err := t.run(ctx); err != nil {
		return nil, err
	}
	res, err := t.finish(func() (string, error) {
		if cfg.Backbone == nil {
			mod, err := m.Export(ExportOptions{Input: exported.FeaturesName, Classes: cfg.Classes, Metadata: meta})
			if err != nil {
				return "", err
			}
			path := filepath.Join(t.dir, runs.HeadONNXFile)
			return path, mod.Write(path)
		}
		mod, err := m.ExportWithBackbone(cfg.Backbone, cfg.Classes, meta)
		if err != nil {
			return "", err
		}
		path := filepath.Join(t.dir, runs.ONNXFile)
		return path, mod.Write(path)
	})
	if res != nil && cfg.Backbone != nil {
		res.BackboneParams = cfg.Backbone.Params
	}
	return res, err
}

// finish writes the trained run's files: the exported model (export returns its path),
// model.json, test predictions and result.json; then removes the checkpoint.
func (t *trainer) finish(export func() (string, error)) (*Result, error) {
	m := t.model
	res := &Result{Name: t.cfg.Name, Dir: t.dir, Kind: t.runCfg.Kind, Arch: t.runCfg.Arch, Classes: t.cfg.Classes, History: t.hist, Model: m, Table: m.Table()}
	res.Params, _ = m.NumParams()
	for _, e := range t.hist.Epochs {
		res.TrainSeconds += e.Seconds
	}
	if n := len(t.hist.Epochs); n > 0 {
		var ips float64
		for _, e := range t.hist.Epochs {
			ips += e.ImagesPerSec
		}
		res.ImagesPerSec = ips / float64(n)
	}
	path, err := export()
	if err != nil {
		return nil, err
	}
	res.ModelPath = path
	_, other := m.NumParams()
	info := runs.Model{Arch: t.runCfg.Arch, Layers: t.runCfg.Layers, Input: m.Input, Table: res.Table, Params: res.Params, NonTrainable: other, Backbone: t.runCfg.Backbone}
	if bb := t.cfg.Backbone; bb != nil {
		info.BackboneParams = bb.Params
		// The frozen backbone heads the table.
		row := runs.Layer{Name: "backbone", Kind: "backbone", Spec: bb.Name, Output: m.Input, Frozen: bb.Params}
		info.Table = append([]runs.Layer{row}, info.Table...)
		res.Table = info.Table
	}
	if err := runs.WriteJSON(t.dir, runs.ModelFile, info); err != nil {
		return nil, err
	}
	graphs := map[int]*graph{}
	defer func() {
		for _, g := range graphs {
			g.close()
		}
	}()
	n := t.src.len(Test)
	if n > 0 {
		res.TestLoss, res.TestAcc, res.TestProbs, err = evaluate(m, t.obj, t.src, Test, n, t.cfg.Batch, graphs)
		if err != nil {
			return nil, err
		}
		res.TestLabels = t.src.labels(Test)[:n]
		// The training engine's predictions, until the exported model's replace them
		// (evaluate.Result.WriteRun): a run trained alone is documented with these.
		if err := runs.WriteTest(t.dir, res.TestLabels, res.TestProbs); err != nil {
			return nil, err
		}
	}
	if err := runs.WriteJSON(t.dir, runs.ResultFile, res); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(filepath.Join(t.dir, runs.CheckpointDir)); err != nil {
		return nil, fmt.Errorf("removing the checkpoint: %w", err)
	}
	return res, nil
}

// dataClasses returns the classes of a run: want (Config.Classes) when set, which must then
// be the data's (have, from the dataset or features in dir) when it names them; else the
// data's; else Dogs vs. Cats.
func dataClasses(want, have []string, dir string) ([]string, error) {
	switch {
	case want != nil && have != nil && !slices.Equal(want, have):
		return nil, fmt.Errorf("the classes to train are %q, but the data in %s has %q", want, dir, have)
	case want != nil:
		return want, nil
	case have != nil:
		return have, nil
	}
	return DefaultClasses(), nil
}

// Engine names the training engine: Gorgonia's module version (from the build information)
// and the float type, "gorgonia v0.9.18 float32".
func Engine() string {
	v := "(unknown version)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "gorgonia.org/gorgonia" {
				v = d.Version
			}
		}
	}
	return "gorgonia " + v + " float32"
}
