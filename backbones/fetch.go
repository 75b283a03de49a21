package backbones

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/catdog-ml/catdog/internal/atomicfile"
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
	data, err := os.ReadFile(path)
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
	if client == nil {
		// No overall timeout (553 MB take a while), but a server that stops answering
		// should not hang the download forever.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = time.Minute
		client = &http.Client{Transport: tr}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.URL, nil)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download: GET %s: %s", src.URL, resp.Status)
	}
	total := src.Size
	if total <= 0 {
		total = resp.ContentLength
	}
	f, err := atomicfile.Create(dst)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer f.Abort()
	h := sha256.New()
	w := &counter{w: io.MultiWriter(f, h), total: int(total), progress: progress}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return fmt.Errorf("download: GET %s: after %d bytes: %w", src.URL, n, err)
	}
	if src.Size > 0 && n != src.Size {
		return fmt.Errorf("download: GET %s: got %d bytes, want %d", src.URL, n, src.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); src.SHA256 != "" && sum != src.SHA256 {
		return fmt.Errorf("download: GET %s: checksum mismatch: SHA-256 %s, want %s", src.URL, sum, src.SHA256)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	return nil
}

// counter passes writes through and reports progress.
type counter struct {
	w        io.Writer
	done     int
	total    int
	progress func(done, total int)
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.done += n
	if c.progress != nil {
		c.progress(c.done, c.total)
	}
	return n, err
}
