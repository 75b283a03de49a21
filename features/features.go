// Package features runs a frozen, cut backbone (see package backbones) on onnxruntime over
// the train, valid and test splits of a prepared dataset and stores what it computes, so
// that a classifier head can then be trained on features instead of photos.
//
// A features folder (default <data>/features/<backbone>) holds, per split,
// <split>_features.npy (float32 or float16, shape (n, C, H, W) as the backbone emits it)
// and <split>_labels.npy (uint8, (n,)), and features.json (Info) last. Every file is
// written atomically; the features stream to disk batch by batch, so memory does not grow
// with the dataset.
//
// The backbone runs at the dataset's image size: the prepared pixels are fed as they are,
// with the backbone's own normalisation, and nothing is resized a second time, so an
// exported model (backbone + head) sees at serving time exactly what the head was trained
// on. A fully convolutional base such as VGG16 accepts any size from 32 up; its feature map
// then has another spatial size (512 x 6 x 6 at 200 px, 512 x 7 x 7 at 224 px), which Info
// records.
//
// Extraction is cached: Info.Key hashes the backbone file's SHA-256, the cut, the input size,
// the preprocessing, the dtype and the dataset's array checksums. When the folder already
// holds features with the same key, Extract does no work and says so (Result.CacheHit);
// any change rebuilds them.
package features

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/internal/npy"
	"github.com/catdog-ml/catdog/internal/verify"
	"github.com/catdog-ml/catdog/keras"
)

// Format is the version of the features folder layout (2: the arrays' checksums recorded).
const Format = 2

// InfoFile is the name of the description written last in a features folder.
const InfoFile = "features.json"

// DirName is the default name of a features folder: the backbone's name, followed by the
// cut point when it is not the backbone's own ("mobilenet-v1-075@conv_dw_13_relu").
func DirName(backbone, cutAt string) string {
	if cutAt == "" {
		return backbone
	}
	return backbone + "@" + strings.NewReplacer("/", "_", ":", "_").Replace(cutAt)
}

// FeaturesFile returns the file name of a split's features, such as train_features.npy.
func FeaturesFile(split string) string { return split + "_features.npy" }

// LabelsFile returns the file name of a split's labels, such as train_labels.npy.
func LabelsFile(split string) string { return split + "_labels.npy" }

// Info is features.json: what was computed, from what, and how fast.
type Info struct {
	Format int    `json:"format"`
	Key    string `json:"cache_key"`

	Backbone       string `json:"backbone"`
	BackboneSHA256 string `json:"backbone_sha256"`
	BackboneFile   string `json:"backbone_file,omitempty"`
	// BackboneFiles are the files a TensorFlow.js backbone was read from, with their
	// SHA-256 (BackboneSHA256 sums them up).
	BackboneFiles []keras.File `json:"backbone_files,omitempty"`
	// Weights says what the backbone's weights learned: "imagenet", "random" or empty.
	Weights       string `json:"weights,omitempty"`
	RandomWeights bool   `json:"random_weights,omitempty"`
	Input         string `json:"input"` // the backbone's input tensor
	Cut           string `json:"cut"`   // the tensor the features are taken from
	// CutAt and Pool are the cut point and pooling asked for (backbones.Options), empty
	// for the backbone's own.
	CutAt      string    `json:"cut_at,omitempty"`
	Pool       string    `json:"pool,omitempty"`
	InputSize  int       `json:"input_size"` // images fed are InputSize x InputSize
	Layout     string    `json:"layout"`     // of the backbone's input: NCHW or NHWC
	Channels   string    `json:"channels"`   // RGB or BGR
	Scale      float32   `json:"scale"`
	Mean       []float32 `json:"mean"`
	Std        []float32 `json:"std"`
	Preprocess string    `json:"preprocess"`

	Data string `json:"data"` // the prepared dataset folder
	// Classes are the dataset's class names by label; absent (before N classes) means
	// dog, cat: use ClassNames.
	Classes      []string `json:"classes,omitempty"`
	DataChecksum string   `json:"data_checksum"` // SHA-256 over the dataset's array checksums
	ResizeFilter string   `json:"resize_filter"` // the filter the dataset was prepared with

	DType        string               `json:"dtype"`         // float32 or float16
	FeatureShape []int64              `json:"feature_shape"` // one image's features: (C, H, W)
	Splits       map[string]SplitInfo `json:"splits"`

	// Shards is the number of shards whose parts Merge assembled (0: one process).
	Shards int `json:"shards,omitempty"`

	Provider        string  `json:"provider"` // cpu or cuda
	ORTVersion      string  `json:"onnxruntime_version"`
	Batch           int     `json:"batch"`
	Seconds         float64 `json:"seconds"`
	ImagesPerSecond float64 `json:"images_per_second"`
}

// SplitInfo describes one split's arrays.
type SplitInfo struct {
	Count    int    `json:"count"`
	Features string `json:"features"` // file name
	Labels   string `json:"labels"`   // file name
	Shape    []int  `json:"shape"`    // of the features array
	// FeaturesSHA256 and LabelsSHA256 are the files' checksums, checked by Open.
	FeaturesSHA256 string `json:"features_sha256"`
	LabelsSHA256   string `json:"labels_sha256"`
}

// Open reads features.json in dir and checks the arrays it names: there, with the shapes
// and the SHA-256 it records (hashed once, then trusted while their size and modification
// time stay those of that check: package internal/verify). A folder that fails is refused:
// extract again.
func Open(dir string) (*Info, error) {
	data, err := os.ReadFile(filepath.Join(dir, InfoFile))
	if err != nil {
		return nil, fmt.Errorf("features: %w (run catdog extract-features first)", err)
	}
	var info Info
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("features: %s: %w", filepath.Join(dir, InfoFile), err)
	}
	if info.Format != Format {
		return nil, fmt.Errorf("features: %s has format %d, this catdog reads %d: extract again", dir, info.Format, Format)
	}
	if err := info.check(dir); err != nil {
		return nil, err
	}
	if err := verify.Files(dir, info.sums()); err != nil {
		return nil, fmt.Errorf("features: %s: %w (extract them again: catdog extract-features --force)", dir, err)
	}
	return &info, nil
}

// ClassNames returns the class names by label: Classes, or dog, cat for a features.json
// written before classes were recorded.
func (info *Info) ClassNames() []string {
	if len(info.Classes) == 0 {
		return datasets.ClassNames()
	}
	return info.Classes
}

// sums returns the recorded checksum of every array, by file name.
func (info *Info) sums() map[string]string {
	m := map[string]string{}
	for _, s := range info.Splits {
		m[s.Features], m[s.Labels] = s.FeaturesSHA256, s.LabelsSHA256
	}
	return m
}

// check verifies that every array exists with the announced shape and type.
func (info *Info) check(dir string) error {
	for _, split := range datasets.SplitNames() {
		s, ok := info.Splits[split]
		if !ok {
			return fmt.Errorf("features: %s lacks split %s", dir, split)
		}
		if s.FeaturesSHA256 == "" || s.LabelsSHA256 == "" {
			return fmt.Errorf("features: %s records no checksum for the %s split (extract them again)", InfoFile, split)
		}
		wantDT := npy.Float32
		if info.DType == "float16" {
			wantDT = npy.Float16
		}
		for _, f := range []struct {
			name  string
			dt    npy.DType
			shape []int
		}{{s.Features, wantDT, s.Shape}, {s.Labels, npy.Uint8, []int{s.Count}}} {
			a, err := npy.Open(filepath.Join(dir, f.name))
			if err != nil {
				return fmt.Errorf("features: %w", err)
			}
			h := a.Header
			a.Close()
			if h.DType != f.dt || !slices.Equal(h.Shape, f.shape) {
				return fmt.Errorf("features: %s is %s %v, %s says %s %v", f.name, h.DType, h.Shape, InfoFile, f.dt, f.shape)
			}
		}
	}
	return nil
}

// DataChecksum summarises a prepared dataset: the SHA-256 of its manifest's array names and
// checksums, in name order. It changes whenever any pixel, label or split changes.
func DataChecksum(m *datasets.Manifest) (string, error) {
	if m == nil || len(m.Arrays) == 0 {
		return "", fmt.Errorf("the dataset manifest lists no array checksums")
	}
	names := make([]string, 0, len(m.Arrays))
	for n := range m.Arrays {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		a := m.Arrays[n]
		if a.SHA256 == "" {
			return "", fmt.Errorf("the dataset manifest has no checksum for %s", n)
		}
		fmt.Fprintf(h, "%s %s\n", n, a.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// cacheKey hashes everything the features depend on, the class names included. Batch size,
// execution provider and thread count are left out: they change speed, not the features
// (beyond float rounding).
func cacheKey(info *Info) string {
	k := struct {
		Format                          int
		Backbone, SHA, Input, Cut       string
		Size                            int
		Preprocess, DataChecksum, DType string
	}{Format, info.Backbone, info.BackboneSHA256, info.Input, info.Cut, info.InputSize, info.Preprocess, info.DataChecksum, info.DType}
	data, _ := json.Marshal(k)
	if len(info.Classes) > 0 && !datasets.DogsVsCats(info.Classes) {
		// The same arrays under other class names are other features: their names go
		// into the exported model. Dogs vs. Cats keys stay those of earlier versions.
		c, _ := json.Marshal(info.Classes)
		data = append(data, c...)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
