package onnx_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/catdog-ml/catdog/internal/userfile"
	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/onnxtest"
)

// TestHostileExternalData: what a downloaded model can name as its external data. Nothing
// outside the model's folder is read, no special file is opened for reading, and sizes are
// checked from what is declared before anything is read.
func TestHostileExternalData(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(secret, bytes.Repeat([]byte("root:x:0:0:root:/root:/bin/bash\n"), 40), 0o644); err != nil {
		t.Fatal(err)
	}
	weights := make([]byte, 864)
	tests := []struct {
		name  string
		place func(t *testing.T, dir string) // puts something at dir/w.bin
		dims  []int64
		max   int64
		want  string // "" for success
		is    error
	}{
		{name: "regular file", place: file(weights)},
		{name: "relative link inside", place: func(t *testing.T, dir string) {
			file(weights)(t, filepath.Join(dir, "sub"))
			link("sub/w.bin")(t, dir)
		}},
		{name: "link to a file outside", place: link(secret), want: "leads outside", is: userfile.ErrOutside},
		{name: "relative link outside", place: func(t *testing.T, dir string) {
			rel, _ := filepath.Rel(dir, secret)
			link(rel)(t, dir)
		}, want: "leads outside", is: userfile.ErrOutside},
		{name: "link to /dev/zero", place: link("/dev/zero"), want: "leads outside", is: userfile.ErrOutside},
		{name: "fifo", place: func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "w.bin"), 0o644); err != nil {
				t.Skip(err)
			}
		}, want: "named pipe (FIFO)", is: userfile.ErrNotRegular},
		{name: "short file", place: file(weights[:100]), want: "truncated"},
		{name: "29 GB declared, sparse file", dims: []int64{1 << 28, 3, 3, 3}, place: func(t *testing.T, dir string) {
			f, err := os.Create(filepath.Join(dir, "w.bin"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(27 << 30); err != nil {
				t.Skip(err)
			}
		}, want: "27.0 GiB of external data, more than"},
		{name: "under a lower limit", place: file(weights), max: 1000, want: "of external data, more than"},
		{name: "shape beyond any file", dims: []int64{1 << 40, 1 << 30, 3, 3}, place: file(weights), want: "more elements than any file can hold"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := onnxtest.ExternalConv(t, dir, "w.bin", tc.dims)
			tc.place(t, dir)
			start := time.Now()
			m, err := onnx.ReadMax(path, tc.max)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("ReadMax took %v", d)
			}
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got, _ := onnx.Float32s(m.Proto.Graph.Initializer[0]); len(got) != 8*3*3*3 {
					t.Errorf("%d weights loaded", len(got))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("error %v, want one saying %q (wrapping %v)", err, tc.want, tc.is)
			}
		})
	}
}

func file(b []byte) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "w.bin"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func link(target string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		if err := os.Symlink(target, filepath.Join(dir, "w.bin")); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHostileModelFile: the model file itself must be a regular file within the limit, and
// its tensors must hold what their shapes declare.
func TestHostileModelFile(t *testing.T) {
	dir := t.TempDir()
	m := smallCNN(t, 16)
	path := filepath.Join(dir, "m.onnx")
	if err := m.Write(path); err != nil {
		t.Fatal(err)
	}
	if _, err := onnx.ReadMax(path, 100); err == nil || !strings.Contains(err.Error(), "more than the 100 B allowed") {
		t.Errorf("over the limit: %v", err)
	}
	fifo := filepath.Join(dir, "fifo.onnx")
	if err := syscall.Mkfifo(fifo, 0o644); err == nil {
		if _, err := onnx.Read(fifo); !errors.Is(err, userfile.ErrNotRegular) {
			t.Errorf("FIFO: %v", err)
		}
	}
	if _, err := onnx.Read("/dev/zero"); !errors.Is(err, userfile.ErrNotRegular) || !strings.Contains(err.Error(), "character device") {
		t.Errorf("/dev/zero: %v", err)
	}

	// A weight whose declared shape far exceeds its bytes ([2^20, 2^18, 3, 3] on 16 bytes).
	big := m.Clone()
	w := big.Proto.Graph.Initializer[0]
	w.Dims, w.RawData = []int64{1 << 20, 1 << 18, 3, 3}, make([]byte, 16)
	data, err := big.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onnx.Decode(data); !errors.Is(err, onnx.ErrNotONNX) || !strings.Contains(err.Error(), "its raw_data holds 16 bytes") {
		t.Errorf("shape beyond the bytes: %v", err)
	}
	// The same with the values in float_data.
	w.RawData, w.FloatData, w.Dims = nil, []float32{1, 2, 3}, []int64{4}
	data, _ = big.Encode()
	if _, err := onnx.Decode(data); err == nil || !strings.Contains(err.Error(), "declares 4 values, it holds 3") {
		t.Errorf("float_data short of its shape: %v", err)
	}
	// Consistent with itself, it is read: whether shape [4] suits the Conv is the runtime's
	// business, not the reader's.
	w.FloatData = []float32{1, 2, 3, 4}
	data, _ = big.Encode()
	if _, err := onnx.Decode(data); err != nil {
		t.Errorf("consistent float_data refused: %v", err)
	}
}
