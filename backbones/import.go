package backbones

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/userfile"
	"github.com/catdog-ml/catdog/keras"
	"github.com/catdog-ml/catdog/onnx"
)

// Import copies the model in file into the backbone store (CacheDir/<name>/model.onnx,
// with the spec in backbone.json) so that Load(spec.Name) finds it. file is an ONNX file,
// or a Keras model saved for TensorFlow.js (its model.json, or the folder holding it),
// which is converted to ONNX (package keras) and then takes NCHW input. The spec says how
// to feed the model and where to cut it; Import checks that the model decodes, that its
// input matches the spec and that the cut point exists, before writing anything. Tensors
// kept in external data files are stored inline. An existing backbone of that name is
// replaced only when replace is true. It returns the spec as stored, with checksum and
// feature shape.
func Import(ctx context.Context, file string, spec Spec, replace bool, opts Options) (Spec, error) {
	if err := spec.Validate(); err != nil {
		return Spec{}, err
	}
	for _, b := range builtins() {
		if b.Name == spec.Name {
			return Spec{}, fmt.Errorf("importing backbone: %q is a built-in backbone name; choose another with --name", spec.Name)
		}
	}
	dir, err := opts.cacheDir()
	if err != nil {
		return Spec{}, err
	}
	dest := filepath.Join(dir, spec.Name)
	if _, err := os.Stat(filepath.Join(dest, specFile)); err == nil && !replace {
		return Spec{}, fmt.Errorf("importing backbone: %s already exists in %s (use --replace to overwrite it)", spec.Name, dest)
	}

	m, data, src, err := readImport(file, spec, opts.MaxModelBytes)
	if err != nil {
		return Spec{}, fmt.Errorf("importing backbone from %s: %w", file, err)
	}
	if err := ctx.Err(); err != nil {
		return Spec{}, err
	}
	sum := sha256Hex(data)
	if src.ImportedSHA256 == "" {
		src.ImportedSHA256 = sum
	}
	spec.Random = false
	spec.SHA256 = sum
	spec.Source = src
	spec.Source.SHA256, spec.Source.Size = sum, int64(len(data))
	bb := &Backbone{Spec: spec}
	if err := bb.cut(m, 0); err != nil {
		return Spec{}, fmt.Errorf("importing backbone from %s: %w", file, err)
	}
	spec.OutputShape = bb.Spec.OutputShape
	if spec.Input == "" {
		spec.Input = bb.Input
	}

	js, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return Spec{}, err
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return Spec{}, fmt.Errorf("importing backbone: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dest, modelFile), data, 0o644); err != nil {
		return Spec{}, fmt.Errorf("importing backbone: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dest, specFile), append(js, '\n'), 0o644); err != nil {
		return Spec{}, fmt.Errorf("importing backbone: %w", err)
	}
	return spec, nil
}

// IsKeras reports whether path names a Keras model saved for TensorFlow.js: a .json file
// or a folder holding model.json.
func IsKeras(path string) bool {
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		return true
	}
	st, err := os.Stat(filepath.Join(path, keras.ModelFile))
	return err == nil && !st.IsDir()
}

// readImport reads the model to import: an ONNX file, or a TensorFlow.js model converted to
// ONNX. It returns the model, its ONNX bytes, and where it came from.
func readImport(file string, spec Spec, maxBytes int64) (*onnx.Model, []byte, Source, error) {
	abs, _ := filepath.Abs(file)
	src := Source{FileName: modelFile, Imported: abs}
	if IsKeras(file) {
		if spec.Layout == NHWC {
			return nil, nil, src, errors.New("a Keras model converted by catdog takes NCHW input: leave the layout at NCHW")
		}
		km, err := keras.OpenMax(file, maxBytes)
		if err != nil {
			return nil, nil, src, err
		}
		m, err := km.ONNX(keras.Options{Name: spec.Name})
		if err != nil {
			return nil, nil, src, err
		}
		data, err := m.Encode()
		if err != nil {
			return nil, nil, src, err
		}
		src.Format, src.ImportedSHA256 = FormatTFJS, km.SHA256()
		return m, data, src, nil
	}
	data, err := userfile.ReadFile(file, userfile.ModelLimit(maxBytes))
	if err != nil {
		return nil, nil, src, err
	}
	m, err := onnx.Decode(data)
	if errors.Is(err, onnx.ErrExternalData) {
		// External data: ReadMax loads it from beside the file, inside its folder; the model
		// is stored inline.
		if m, err = onnx.ReadMax(file, maxBytes); err == nil {
			data, err = m.Encode()
		}
	}
	return m, data, src, err
}

// loadImported reads an imported backbone's model and checks it is the file imported.
func loadImported(bb *Backbone, opts Options) (*onnx.Model, error) {
	if opts.File != "" {
		return nil, fmt.Errorf("backbone %s was imported; it takes no --file (import the new file instead)", bb.Spec.Name)
	}
	dir, err := opts.cacheDir()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, bb.Spec.Name, modelFile)
	data, err := userfile.ReadFile(path, userfile.ModelLimit(opts.MaxModelBytes))
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w (import it again)", bb.Spec.Name, err)
	}
	sum := sha256Hex(data)
	if want := bb.Spec.Source.SHA256; want != "" && sum != want {
		return nil, fmt.Errorf("backbone %s: %s has changed since it was imported (SHA-256 %s, recorded %s); import it again", bb.Spec.Name, path, sum, want)
	}
	m, err := onnx.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %s: %w", bb.Spec.Name, path, err)
	}
	bb.Spec.SHA256 = sum
	bb.Path = path
	return m, nil
}
