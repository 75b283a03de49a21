package keras

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/catdog-ml/catdog/internal/fetch"
	"github.com/catdog-ml/catdog/internal/userfile"
)

// DownloadOptions tune Download.
type DownloadOptions struct {
	// Client makes the requests; nil means fetch's default (no overall timeout, a minute
	// for the response headers).
	Client *http.Client
	// Progress, if set, is called as bytes arrive, with the bytes of model.json and of the
	// shards so far and the total the manifest announces (model.json's own size included
	// once it is known).
	Progress func(done, total int64)
}

// maxJSONBytes bounds a downloaded model.json: the largest Keras topologies take a few MB.
const maxJSONBytes = 64 << 20

// Download fetches the TensorFlow.js layers model whose model.json is at modelURL, and every
// shard its manifest names (beside it), into the folder dir. The folder appears, complete
// and checked by Open, only at the end: files go to a temporary folder beside it that is
// renamed into place, and removed on any error. An existing dir is an error.
func Download(ctx context.Context, modelURL, dir string, opts DownloadOptions) error {
	fail := func(err error) error { return fmt.Errorf("keras: downloading %s: %w", modelURL, err) }
	base, err := url.Parse(modelURL)
	if err != nil {
		return fail(err)
	}
	if _, err := os.Stat(dir); err == nil {
		return fail(fmt.Errorf("%s already exists", dir))
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fail(err)
	}
	tmp, err := os.MkdirTemp(parent, filepath.Base(dir)+".tmp-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)

	var done, total int64
	progress := func(prev int64) func(n, _ int64) {
		return func(n, _ int64) {
			if opts.Progress != nil {
				opts.Progress(prev+n, max(total, prev+n))
			}
		}
	}
	fo := fetch.Options{Client: opts.Client, Progress: progress(0)}
	jsonPath := filepath.Join(tmp, ModelFile)
	if err := fetch.File(ctx, modelURL, jsonPath, fetch.Want{MaxSize: maxJSONBytes}, fo); err != nil {
		return fail(err)
	}
	data, err := userfile.ReadFile(jsonPath, maxJSONBytes)
	if err != nil {
		return fail(err)
	}
	shards, bytes, err := ShardNames(data)
	if err != nil {
		return fail(err)
	}
	done, total = int64(len(data)), int64(len(data))+bytes
	for _, s := range shards {
		u, err := base.Parse(s)
		if err != nil {
			return fail(fmt.Errorf("shard %s: %w", s, err))
		}
		dst := filepath.Join(tmp, filepath.FromSlash(s))
		fo.Progress = progress(done)
		if err := fetch.File(ctx, u.String(), dst, fetch.Want{MaxSize: bytes}, fo); err != nil { // no shard holds more than all the weights
			return fail(err)
		}
		st, err := os.Stat(dst)
		if err != nil {
			return fail(err)
		}
		done += st.Size()
	}
	if _, err := Open(tmp); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fail(fmt.Errorf("%s appeared while downloading", dir))
		}
		return fail(err)
	}
	return nil
}
