package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/features"
	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/npy"
)

// runConfig is a run's config.json: everything that determines the result.
type runConfig struct {
	Kind      string          `json:"kind"` // "cnn" or "head"
	Arch      string          `json:"arch"`
	Layers    string          `json:"layers"`
	Input     []int           `json:"input_shape"`
	Data      string          `json:"data"` // prepared dataset or features folder
	Epochs    int             `json:"epochs"`
	Batch     int             `json:"batch"`
	Init      Init            `json:"init,omitempty"`
	Optimizer string          `json:"optimizer"`
	LR        float64         `json:"lr"`
	Schedule  string          `json:"schedule,omitempty"`
	Warmup    int             `json:"warmup,omitempty"`
	Momentum  float64         `json:"momentum"`
	Patience  int             `json:"patience"`
	Seed      uint64          `json:"seed"`
	Limit     int             `json:"limit,omitempty"`
	Augment   *AugmentOptions `json:"augment,omitempty"`
	// InputScale is the factor applied to 0..255 pixels (cnn), inside the exported graph.
	InputScale float32 `json:"input_scale,omitempty"`
	Layout     string  `json:"layout,omitempty"`
	// Features is the features folder's features.json (head).
	Features json.RawMessage `json:"features,omitempty"`
	Backbone string          `json:"backbone,omitempty"`
	// JoinFeatures are the other features folders joined to Data's (head).
	JoinFeatures []string `json:"join_features,omitempty"`
	// InitFrom says where the initial weights come from, when not drawn at random.
	InitFrom string    `json:"init_from,omitempty"`
	Started  time.Time `json:"started"`
	Go       string    `json:"go"`
	Engine   string    `json:"engine"`
}

// differs names the first setting that makes two configurations train differently.
func (c runConfig) differs(o runConfig) string {
	type key struct {
		Kind, Arch, Layers string
		Input              []int
		Batch              int
		Init               Init
		Optimizer          string
		LR, Momentum       float64
		Schedule           string
		Warmup             int
		Seed               uint64
		Limit              int
		Augment            *AugmentOptions
	}
	a := key{c.Kind, c.Arch, c.Layers, c.Input, c.Batch, c.Init, c.Optimizer, c.LR, c.Momentum, c.Schedule, c.Warmup, c.Seed, c.Limit, c.Augment}
	b := key{o.Kind, o.Arch, o.Layers, o.Input, o.Batch, o.Init, o.Optimizer, o.LR, o.Momentum, o.Schedule, o.Warmup, o.Seed, o.Limit, o.Augment}
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

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func newRunConfig(kind, arch string, m *Model, data string, cfg Config) runConfig {
	abs, err := filepath.Abs(data)
	if err != nil {
		abs = data
	}
	return runConfig{Kind: kind, Arch: arch, Layers: SpecString(m.Layers), Input: m.Input, Data: abs,
		Epochs: cfg.Epochs, Batch: cfg.Batch, Init: cfg.Init, Optimizer: cfg.Optimizer, LR: cfg.LR, Momentum: cfg.Momentum,
		Schedule: cfg.Schedule, Warmup: cfg.Warmup,
		Patience: cfg.Patience, Seed: cfg.Seed, Limit: cfg.Limit, InitFrom: cfg.InitFrom, Started: time.Now().UTC(),
		Go: runtime.Version(), Engine: "gorgonia v0.9.18 float32"}
}

// TrainCNN trains architecture arch from scratch on the prepared dataset in dataDir
// (catdog prepare) and writes a run folder (docs/training.md): model.onnx takes plain
// RGB 0..255 NCHW images of the dataset's size.
func TrainCNN(ctx context.Context, dataDir string, arch Architecture, cfg Config) (*Result, error) {
	if err := cfg.defaults(arch.Name); err != nil {
		return nil, err
	}
	src, err := openImages(dataDir)
	if err != nil {
		return nil, err
	}
	defer src.close()
	m, err := arch.Model(src.size, cfg.Init, cfg.Seed)
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
	rc := newRunConfig("cnn", arch.Name, m, dataDir, cfg)
	rc.Augment, rc.InputScale, rc.Layout = aug, ImageScale, "NCHW"
	meta := map[string]string{}
	if f := src.ds.Manifest().Filter; f != "" {
		meta[classifier.MetaResizeFilter] = f
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
		mod, err := m.Export(ExportOptions{Input: classifier.InputName, Scale: ImageScale, Metadata: meta})
		if err != nil {
			return "", err
		}
		path := filepath.Join(t.dir, "model.onnx")
		return path, mod.Write(path)
	})
}

// TrainHead trains a transfer head (cfg.Head, default DefaultHead) on the features in
// featuresDir (catdog extract-features) and writes a run folder (docs/training.md). With
// cfg.Backbone, model.onnx is backbone + head from images; without, head.onnx takes
// features.
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
	if cfg.Head == "" {
		cfg.Head = DefaultHead
	}
	layers, err := ParseLayers(cfg.Head)
	if err != nil {
		return nil, fmt.Errorf("head spec: %w", err)
	}
	src, err := openFeatures(featuresDir, cfg.JoinFeatures...)
	if err != nil {
		return nil, err
	}
	defer src.close()
	m, err := NewModel(cfg.Name, src.shape(), layers, cfg.Init, cfg.Seed)
	if err != nil {
		return nil, err
	}
	rc := newRunConfig("head", cfg.Name, m, featuresDir, cfg)
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
		meta[classifier.MetaInputSize] = strconv.Itoa(info.InputSize)
		meta[classifier.MetaLayout] = "NCHW"
	}
	if info.ResizeFilter != "" {
		meta[classifier.MetaResizeFilter] = info.ResizeFilter
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
			mod, err := m.Export(ExportOptions{Input: classifier.FeaturesName, Metadata: meta})
			if err != nil {
				return "", err
			}
			path := filepath.Join(t.dir, "head.onnx")
			return path, mod.Write(path)
		}
		mod, err := m.ExportWithBackbone(cfg.Backbone, meta)
		if err != nil {
			return "", err
		}
		path := filepath.Join(t.dir, "model.onnx")
		return path, mod.Write(path)
	})
	if res != nil && cfg.Backbone != nil {
		res.BackboneParams = cfg.Backbone.Params
	}
	return res, err
}

// modelInfo is a run's model.json.
type modelInfo struct {
	Arch           string      `json:"arch"`
	Layers         string      `json:"layers"`
	Input          []int       `json:"input_shape"`
	Table          []LayerInfo `json:"table"`
	Params         int         `json:"params"`
	NonTrainable   int         `json:"non_trainable"`
	Backbone       string      `json:"backbone,omitempty"`
	BackboneParams int         `json:"backbone_params,omitempty"`
}

// finish writes the trained run's files: the exported model (export returns its path),
// model.json, test predictions and result.json; then removes the checkpoint.
func (t *trainer) finish(export func() (string, error)) (*Result, error) {
	m := t.model
	res := &Result{Name: t.cfg.Name, Dir: t.dir, Kind: t.runCfg.Kind, Arch: t.runCfg.Arch, History: t.hist, Model: m, Table: m.Table()}
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
	info := modelInfo{Arch: t.runCfg.Arch, Layers: t.runCfg.Layers, Input: m.Input, Table: res.Table, Params: res.Params, NonTrainable: other, Backbone: t.runCfg.Backbone}
	if bb := t.cfg.Backbone; bb != nil {
		info.BackboneParams = bb.Params
		// The frozen backbone heads the table.
		row := LayerInfo{Name: "backbone", Spec: bb.Name, Output: m.Input, Frozen: bb.Params}
		info.Table = append([]LayerInfo{row}, info.Table...)
		res.Table = info.Table
	}
	if err := atomicfile.WriteJSON(filepath.Join(t.dir, "model.json"), info); err != nil {
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
		res.TestLoss, res.TestAcc, res.TestProbs, err = evaluate(m, t.src, Test, n, t.cfg.Batch, graphs)
		if err != nil {
			return nil, err
		}
		res.TestLabels = t.src.labels(Test)[:n]
		if err := npy.WriteFile(filepath.Join(t.dir, "predictions.npy"), []int{n}, res.TestProbs); err != nil {
			return nil, fmt.Errorf("writing predictions: %w", err)
		}
		if err := npy.WriteFile(filepath.Join(t.dir, "labels.npy"), []int{n}, res.TestLabels); err != nil {
			return nil, fmt.Errorf("writing labels: %w", err)
		}
	}
	if err := atomicfile.WriteJSON(filepath.Join(t.dir, "result.json"), res); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(filepath.Join(t.dir, "checkpoint")); err != nil {
		return nil, fmt.Errorf("removing the checkpoint: %w", err)
	}
	return res, nil
}
