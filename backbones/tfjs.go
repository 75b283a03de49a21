package backbones

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/catdog-ml/catdog/internal/ort"
	"github.com/catdog-ml/catdog/keras"
	"github.com/catdog-ml/catdog/onnx"
)

// loadTFJS reads a built-in backbone kept as a TensorFlow.js layers model (opts.File: its
// folder or model.json; else the cache, downloading it there first when missing) and
// converts it to ONNX.
func loadTFJS(ctx context.Context, bb *Backbone, opts Options) (*onnx.Model, error) {
	spec := bb.Spec
	path := opts.File
	if path == "" {
		var err error
		if path, err = ModelPath(spec, opts); err != nil {
			return nil, err
		}
		if _, err := os.Stat(filepath.Join(path, keras.ModelFile)); errors.Is(err, os.ErrNotExist) {
			if opts.NoDownload {
				return nil, missingError(spec, path, errors.New("downloading is switched off"))
			}
			var p func(done, total int64)
			if opts.Progress != nil {
				p = func(done, total int64) { opts.Progress(int(done), int(total)) }
			}
			if err := keras.Download(ctx, spec.Source.URL, path, keras.DownloadOptions{Client: opts.HTTPClient, Progress: p}); err != nil {
				return nil, missingError(spec, path, err)
			}
		}
	}
	km, err := keras.OpenMax(path, opts.MaxModelBytes)
	if err != nil {
		if opts.File != "" {
			return nil, fmt.Errorf("backbone %s: --file %s: %w", spec.Name, opts.File, err)
		}
		return nil, fmt.Errorf("backbone %s: the cached copy in %s is unusable (delete it to download it again): %w", spec.Name, path, err)
	}
	m, err := km.ONNX(keras.Options{Name: spec.Name, InputSize: opts.InputSize})
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", spec.Name, err)
	}
	bb.Spec.SHA256 = km.SHA256()
	bb.Path = filepath.Dir(km.Path)
	bb.Files = km.Files
	return m, nil
}

// Fingerprint sums up what a model's architecture fixes, whatever its weights' values: the
// SHA-256 of the lines "<name> <dtype> <dims>" of its initializers, sorted. Two copies of
// one network, converted the same way, have the same fingerprint.
func Fingerprint(m *onnx.Model) string {
	var lines []string
	for _, t := range m.Graph().GetInitializer() {
		lines = append(lines, fmt.Sprintf("%s %d %v\n", t.GetName(), t.GetDataType(), t.GetDims()))
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// pool appends a global average or max pool of the model's (N, C, H, W) output, flattened
// to (N, C).
func pool(m *onnx.Model, kind string) (*onnx.Model, error) {
	out := m.Inspect().Outputs[0]
	if len(out.Shape) != 4 {
		return nil, fmt.Errorf("pooling the features: %s has shape %s, want (N, C, H, W)", out.Name, out.Shape)
	}
	op := "GlobalAveragePool"
	if kind == "max" {
		op = "GlobalMaxPool"
	}
	b := onnx.NewBuilder("pool")
	x := b.Input("features", onnx.Float, -1, out.Shape[1], max(out.Shape[2], 1), max(out.Shape[3], 1))
	p := b.Node(op, []string{x}, nil)
	y := b.Flatten(p, 1)
	b.Output(y, out.Name+"_"+kind+"pool", onnx.Float, -1, out.Shape[1])
	pm, err := b.Model()
	if err != nil {
		return nil, err
	}
	return onnx.Compose(m, out.Name, pm, "features", "pool/")
}

// probeShape runs the model once on onnxruntime, on a batch of one black image, to learn the
// shape of output when static shape inference cannot.
func probeShape(m *onnx.Model, input, output string, s *Spec) (onnx.Shape, error) {
	env, err := ort.Open()
	if err != nil {
		return nil, err
	}
	defer env.Close()
	data, err := m.Encode()
	if err != nil {
		return nil, err
	}
	sess, err := env.NewSession(data, ort.SessionOptions{Provider: ort.ProviderCPU, Inputs: []string{input}, Outputs: []string{output}})
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	size := int64(s.InputSize)
	dims := []int64{1, 3, size, size}
	if s.Layout == NHWC {
		dims = []int64{1, size, size, 3}
	}
	_, shape, err := sess.RunFloat32(make([]float32, 3*size*size), dims...)
	if err != nil {
		return nil, err
	}
	out := onnx.Shape(shape)
	out[0] = -1
	return out, nil
}
