// Package fetch downloads a file over HTTP into place, checked: the file appears under its
// final name only when it is complete and its size and SHA-256 are the expected ones.
package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/userfile"
)

// Want is what the downloaded file must be. Zero fields are not checked.
type Want struct {
	Size   int64  // bytes
	SHA256 string // hex, either case
	// MaxSize, where Size is not known, bounds what the server may send: the download
	// stops with an error past it, so a server cannot fill the disk.
	MaxSize int64
}

// Options tune File.
type Options struct {
	// Client makes the request; nil means one with no overall timeout (large files take a
	// while) that gives up when a server sends no response headers within a minute.
	Client *http.Client
	// Progress, if set, is called as bytes arrive; total is Want.Size, else the response's
	// Content-Length, else -1.
	Progress func(done, total int64)
}

// File downloads url into dst (its folder is created) and checks it against want. On any
// error nothing is left under dst's name. Cancel ctx to stop a download.
func File(ctx context.Context, url, dst string, want Want, opts Options) error {
	client := opts.Client
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = time.Minute
		client = &http.Client{Transport: tr}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download: GET %s: %s", url, resp.Status)
	}
	total := want.Size
	if total <= 0 {
		total = resp.ContentLength
	}
	f, err := atomicfile.Create(dst)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer f.Abort()
	h := sha256.New()
	w := &counter{w: io.MultiWriter(f, h), total: total, progress: opts.Progress}
	limit := want.MaxSize
	if want.Size > 0 {
		limit = want.Size
	}
	body := io.Reader(resp.Body)
	if limit > 0 {
		if resp.ContentLength > limit {
			return fmt.Errorf("download: GET %s: the server announces %d bytes, more than the %d expected", url, resp.ContentLength, limit)
		}
		body = io.LimitReader(resp.Body, limit+1)
	}
	n, err := io.Copy(w, body)
	if err != nil {
		return fmt.Errorf("download: GET %s: after %d bytes: %w", url, n, err)
	}
	if limit > 0 && n > limit {
		return fmt.Errorf("download: GET %s: the server sent more than the %d bytes expected", url, limit)
	}
	if want.Size > 0 && n != want.Size {
		return fmt.Errorf("download: GET %s: got %d bytes, want %d", url, n, want.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); want.SHA256 != "" && sum != strings.ToLower(want.SHA256) {
		return fmt.Errorf("download: GET %s: checksum mismatch: SHA-256 %s, want %s (file discarded)", url, sum, want.SHA256)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	return nil
}

// SHA256 returns the hex SHA-256 of the file at path, a regular file (userfile.Open: a FIFO
// or a device in its place is an error, not a wait or an endless read).
func SHA256(path string) (string, error) {
	f, err := userfile.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// counter passes writes through and reports progress.
type counter struct {
	w           io.Writer
	done, total int64
	progress    func(done, total int64)
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.done += int64(n)
	if c.progress != nil {
		c.progress(c.done, c.total)
	}
	return n, err
}
