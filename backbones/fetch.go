package backbones

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/catdog-ml/catdog/internal/fetch"
	"github.com/catdog-ml/catdog/internal/userfile"

	"github.com/catdog-ml/catdog/onnx"
)

// ModelPath returns where the model file of a downloadable backbone lives in the cache.
func ModelPath(spec Spec, opts Options) (string, error) {
	if spec.Source.FileName == "" {
		return "", fmt.Errorf("backbone %s is not downloaded", spec.Name)
	}
	dir, err := opts.cacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, spec.Source.FileName), nil
}

// AtHand reports whether loading spec with opts needs no download: its file is given
// (opts.File), it is not a downloadable backbone (random weights, imported), or its model
// file is already in the cache.
func AtHand(spec Spec, opts Options) bool {
	if opts.File != "" || spec.Source.FileName == "" {
		return true
	}
	path, err := ModelPath(spec, opts)
	if err != nil {
		return false
	}
	_, err = os.Stat(path)
	return err == nil
}

// loadDownloadable reads a built-in backbone's model from opts.File or the cache,
// downloading it into the cache first when missing.
func loadDownloadable(ctx context.Context, bb *Backbone, opts Options) (*onnx.Model, error) {
	spec := bb.Spec
	src := spec.Source
	path := opts.File
	if path == "" {
		var err error
		if path, err = ModelPath(spec, opts); err != nil {
			return nil, err
		}
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if opts.NoDownload {
				return nil, missingError(spec, path, errors.New("downloading is switched off"))
			}
			if err := Download(ctx, src, path, opts.HTTPClient, opts.Progress); err != nil {
				return nil, missingError(spec, path, err)
			}
		}
	}
	data, err := userfile.ReadFile(path, userfile.ModelLimit(opts.MaxModelBytes))
	if err != nil {
		if opts.File != "" {
			return nil, fmt.Errorf("backbone %s: reading --file: %w", spec.Name, err)
		}
		return nil, fmt.Errorf("backbone %s: %w", spec.Name, err)
	}
	sum := sha256Hex(data)
	if sum != src.SHA256 {
		if opts.File == "" {
			return nil, fmt.Errorf("backbone %s: the cached file %s has SHA-256 %s, not the pinned %s (%d bytes instead of %d): delete it to download it again",
				spec.Name, path, sum, src.SHA256, len(data), src.Size)
		}
		bb.Warnings = append(bb.Warnings, fmt.Sprintf("backbone %s: %s has SHA-256 %s, not the pinned %s of %s; using it as given",
			spec.Name, path, sum, src.SHA256, src.FileName))
	}
	bb.Spec.SHA256 = sum
	bb.Path = path
	m, err := onnx.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %s: %w", spec.Name, path, err)
	}
	return m, nil
}

// WeightsError is the error of Load when a backbone's model file cannot be had (not in the
// cache and not downloadable). Its message names the file, its URL and where to put it.
type WeightsError struct {
	Backbone string // backbone name
	File     string // file name, such as vgg16-12.onnx
	URL      string // where to download it
	SHA256   string // pinned checksum
	Size     int64  // bytes
	Path     string // where Load looks for it (the cache)
	Err      error  // why it could not be downloaded
}

func (e *WeightsError) Error() string {
	if e.SHA256 == "" {
		return fmt.Sprintf(`backbone %s needs the TensorFlow.js model %s (model.json and its weight shards), which could not be downloaded: %v
Download model.json and every shard its manifest names (they sit beside it) from
  %s
and either pass their folder with --file PATH or put them in
  %s`, e.Backbone, e.File, e.Err, e.URL, e.Path)
	}
	return fmt.Sprintf(`backbone %s needs the file %s (%d bytes, SHA-256 %s), which could not be downloaded: %v
Download it yourself from
  %s
and either pass it with --file PATH or put it at
  %s`, e.Backbone, e.File, e.Size, e.SHA256, e.Err, e.URL, e.Path)
}

// Unwrap returns the cause.
func (e *WeightsError) Unwrap() error { return e.Err }

// missingError explains how to get a model file that could not be had.
func missingError(spec Spec, path string, cause error) error {
	return &WeightsError{Backbone: spec.Name, File: spec.Source.FileName, URL: spec.Source.URL,
		SHA256: spec.Source.SHA256, Size: spec.Source.Size, Path: path, Err: cause}
}

// Download fetches src.URL into dst, checking its size and SHA-256 against src. The file
// appears at dst only when complete and verified. A nil client means a default one that
// gives up when the server sends no response headers within a minute; cancel ctx to stop a
// download. progress, if set, is called as bytes arrive.
func Download(ctx context.Context, src Source, dst string, client *http.Client, progress func(done, total int)) error {
	var p func(done, total int64)
	if progress != nil {
		p = func(done, total int64) { progress(int(done), int(total)) }
	}
	return fetch.File(ctx, src.URL, dst, fetch.Want{Size: src.Size, SHA256: src.SHA256}, fetch.Options{Client: client, Progress: p})
}
