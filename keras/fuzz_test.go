package keras

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// fuzzModel is a small Keras 2 Sequential model as TensorFlow.js writes it (a convolution,
// batch norm, pooling, a dense layer); its shard, fuzzShard, holds fuzzWeights floats.
const fuzzModel = `{"format": "layers-model", "generatedBy": "keras v2.x", "convertedBy": "fuzz",
 "modelTopology": {"keras_version": "2.4.0", "backend": "tensorflow", "model_config": {"class_name": "Sequential", "config": {"name": "seq", "layers": [
  {"class_name": "Conv2D", "config": {"name": "conv", "batch_input_shape": [null, 8, 8, 3], "dtype": "float32", "filters": 2, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "relu", "use_bias": true}},
  {"class_name": "BatchNormalization", "config": {"name": "bn", "axis": -1, "epsilon": 0.001, "center": true, "scale": true}},
  {"class_name": "GlobalAveragePooling2D", "config": {"name": "gap", "data_format": "channels_last"}},
  {"class_name": "Dense", "config": {"name": "dense", "units": 1, "activation": "sigmoid", "use_bias": true}}]}}},
 "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": [
  {"name": "conv/kernel", "shape": [3, 3, 3, 2], "dtype": "float32"}, {"name": "conv/bias", "shape": [2], "dtype": "float32"},
  {"name": "bn/gamma", "shape": [2], "dtype": "float32"}, {"name": "bn/beta", "shape": [2], "dtype": "float32"},
  {"name": "bn/moving_mean", "shape": [2], "dtype": "float32"}, {"name": "bn/moving_variance", "shape": [2], "dtype": "float32"},
  {"name": "dense/kernel", "shape": [2, 1], "dtype": "float32"}, {"name": "dense/bias", "shape": [1], "dtype": "float32"}]}]}`

const (
	fuzzShard   = "group1-shard1of1.bin"
	fuzzWeights = 54 + 2 + 4*2 + 2 + 1
)

// TestFuzzSeedConverts makes sure the fuzzer starts from a model that reads and converts,
// so that it explores the converter, not only the JSON decoder.
func TestFuzzSeedConverts(t *testing.T) {
	dir := fuzzDir(t)
	m, err := parse(filepath.Join(dir, ModelFile), []byte(fuzzModel), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	om, err := m.ONNX(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := om.Inspect(); len(s.Inputs) != 1 || s.Outputs[0].Shape.String() != "(N, 1)" {
		t.Errorf("converted: inputs %v outputs %v", s.Inputs, s.Outputs)
	}
}

func fuzzDir(t testing.TB) string {
	dir := t.TempDir()
	shard := make([]byte, 4*fuzzWeights)
	for i := range fuzzWeights {
		binary.LittleEndian.PutUint32(shard[4*i:], math.Float32bits(1+float32(i%7)/10))
	}
	if err := os.WriteFile(filepath.Join(dir, fuzzShard), shard, 0o644); err != nil {
		t.Fatal(err)
	}
	// What a hostile manifest may name beside the shard: a link out of the folder.
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// FuzzParse feeds arbitrary model.json bytes to the TensorFlow.js reader and converts what
// it reads: no panic, no read outside the folder, no allocation beyond the limit given.
func FuzzParse(f *testing.F) {
	f.Add([]byte(fuzzModel))
	f.Add([]byte(`{"modelTopology": {"class_name": "Sequential", "config": {"layers": []}}, "weightsManifest": [{"paths": ["passwd"], "weights": [{"name": "w", "shape": [8], "dtype": "float32"}]}]}`))
	f.Add([]byte(`{"modelTopology": {"class_name": "Sequential", "config": {"layers": []}}, "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": [{"name": "w", "shape": [1073741824, 1024], "dtype": "float32"}]}]}`))
	f.Add([]byte(`{"modelTopology": null}`))
	dir := fuzzDir(f)
	path := filepath.Join(dir, ModelFile)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parse(path, data, 1<<20)
		if err != nil {
			return
		}
		for _, file := range m.Files {
			if file.Name == "passwd" {
				t.Fatal("read a shard through a link out of the folder")
			}
		}
		om, err := m.ONNX(Options{})
		if err != nil {
			return
		}
		om.Inspect()
		if _, err := om.Encode(); err != nil {
			return
		}
	})
}
