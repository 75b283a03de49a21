package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
)

// failAfter takes n bytes, then fails every write with ENOSPC, as a full disk does.
type failAfter struct {
	n   int
	got bytes.Buffer
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) <= f.n {
		f.n -= len(p)
		return f.got.Write(p)
	}
	k := f.n
	f.got.Write(p[:k])
	f.n = 0
	return k, syscall.ENOSPC
}

// shortWriter writes at most n bytes per call and reports no error.
type shortWriter struct{ n int }

func (s shortWriter) Write(p []byte) (int, error) { return min(len(p), s.n), nil }

const fullMessage = "writing results to standard output: no space left on device"

// TestOutputKeepsFirstError: the first failed write is kept, worded after the output,
// returned by every later write (which writes nothing more) and by finish.
func TestOutputKeepsFirstError(t *testing.T) {
	tests := []struct {
		name    string
		dst     io.Writer
		writes  []string
		failAt  int    // index of the first write that fails; -1 for none
		want    string // the error's text
		wantOut string // what reached a failAfter
	}{
		{"room for all", &failAfter{n: 100}, []string{"cat  0.9\n", "dog  0.1\n"}, -1, "", "cat  0.9\ndog  0.1\n"},
		{"full at once", &failAfter{n: 0}, []string{"cat\n", "dog\n"}, 0, fullMessage, ""},
		{"full in the second line", &failAfter{n: 6}, []string{"cat\n", "dog\n", "cat\n"}, 1, fullMessage, "cat\ndo"},
		{"short write", shortWriter{2}, []string{"cat\n", "dog\n"}, 0, "writing results to standard output: short write", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &output{w: tt.dst, name: "standard output"}
			var first error
			for i, s := range tt.writes {
				_, err := o.Write([]byte(s))
				if (err != nil) != (tt.failAt >= 0 && i >= tt.failAt) {
					t.Fatalf("write %d: error %v, want one from write %d on", i, err, tt.failAt)
				}
				if first == nil {
					first = err
				} else if err != first {
					t.Errorf("write %d: error %v, want the first one again (%v)", i, err, first)
				}
			}
			err := o.finish()
			if err != first {
				t.Errorf("finish: %v, want %v", err, first)
			}
			if got := errText(err); got != tt.want {
				t.Errorf("error %q, want %q", got, tt.want)
			}
			if f, ok := tt.dst.(*failAfter); ok {
				if f.got.String() != tt.wantOut {
					t.Errorf("written %q, want %q", f.got.String(), tt.wantOut)
				}
				if err != nil && !errors.Is(err, syscall.ENOSPC) {
					t.Errorf("%v is not ENOSPC", err)
				}
			}
		})
	}
}

// TestOutputFinish: finish syncs a regular file and leaves a pipe alone (a pipe cannot be
// synced: it would fail with EINVAL).
func TestOutputFinish(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, dst := range []*os.File{f, w} {
		o := &output{w: dst, name: "standard output"}
		if _, err := io.WriteString(o, "cat  0.9731  a.jpg\n"); err != nil {
			t.Fatal(err)
		}
		if err := o.finish(); err != nil {
			t.Errorf("%s: finish: %v", dst.Name(), err)
		}
	}
	// A closed file fails the write: the error names standard output and its cause.
	f.Close()
	o := &output{w: f, name: "standard output"}
	io.WriteString(o, "x")
	if err := o.finish(); err == nil || !errors.Is(err, os.ErrClosed) || !strings.HasPrefix(err.Error(), "writing results to standard output: ") {
		t.Errorf("closed file: %v", err)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// devFull opens /dev/full, which fails every write with ENOSPC. Missing, it skips the
// test, or fails it in CI.
func devFull(t *testing.T) *os.File {
	t.Helper()
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI: %v", err)
		}
		t.Skipf("no /dev/full: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestResultsToFullOutput: every command that prints results fails, naming standard
// output and the full device, when its results cannot be written: on /dev/full, and on
// a disk that fills up after a few bytes.
func TestResultsToFullOutput(t *testing.T) {
	fixtures.RequireORT(t)
	model := fixtures.BrightnessModel(t, 32)
	photos := fixtures.Shared(t, "dogs-vs-cats-originals")
	data := prepareSmall(t, 40, 32)
	runsDir := t.TempDir()
	tests := []struct {
		name string
		args []string
	}{
		{"predict", []string{"predict", "-q", "--ep", "cpu", "--model", model, photos}},
		{"predict --jsonl", []string{"predict", "-q", "--ep", "cpu", "--jsonl", "--model", model, photos}},
		{"predict --json", []string{"predict", "-q", "--ep", "cpu", "--json", "--model", model, photos}},
		{"evaluate", []string{"evaluate", "-q", "--ep", "cpu", "--model", model, "--data", data}},
		{"evaluate --json", []string{"evaluate", "-q", "--ep", "cpu", "--json", "--model", model, "--data", data}},
		{"models", []string{"models"}},
		{"models --arch", []string{"models", "--arch", "vgg1", "--size", "64"}},
		{"backbones list", []string{"backbones", "list", "--cache-dir", t.TempDir()}},
		{"version", []string{"version"}},
		{"report", []string{"report", "-q", "--runs", runsDir}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" on /dev/full", func(t *testing.T) {
			var errb bytes.Buffer
			err := execute(context.Background(), newApp(devFull(t), &errb), tt.args)
			if err == nil || err.Error() != fullMessage || !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("error %v, want %q", err, fullMessage)
			}
		})
		t.Run(tt.name+" on a disk full after 20 bytes", func(t *testing.T) {
			var errb bytes.Buffer
			dst := &failAfter{n: 20}
			err := execute(context.Background(), newApp(dst, &errb), tt.args)
			if err == nil || err.Error() != fullMessage {
				t.Errorf("error %v, want %q", err, fullMessage)
			}
			if dst.got.Len() != 20 {
				t.Errorf("%d bytes written, want the 20 that fitted", dst.got.Len())
			}
		})
	}
}

// TestNamesShownSafely: names print as they are unless they hold characters that would
// act on a terminal; then they are quoted (whole names) or escaped (inside messages).
func TestNamesShownSafely(t *testing.T) {
	tests := []struct {
		in, name, text string
	}{
		{"photos/cat.1.jpg", "photos/cat.1.jpg", "photos/cat.1.jpg"},
		{"été/chat 2.jpg", "été/chat 2.jpg", "été/chat 2.jpg"},
		{"a\x1b[2Jb.jpg", `"a\x1b[2Jb.jpg"`, `a\x1b[2Jb.jpg`},
		{"two\nlines.jpg", `"two\nlines.jpg"`, `two\nlines.jpg`},
		{"tab\t.jpg", `"tab\t.jpg"`, `tab\t.jpg`},
		{"evil\u202egpj.exe", `"evil\u202egpj.exe"`, `evil\u202egpj.exe`},
		{"bad\xffutf8.jpg", `"bad\xffutf8.jpg"`, `bad\xffutf8.jpg`},
		{"replacement\ufffd.jpg", "replacement\ufffd.jpg", "replacement\ufffd.jpg"},
	}
	for _, tt := range tests {
		if got := shownName(tt.in); got != tt.name {
			t.Errorf("shownName(%q) = %s, want %s", tt.in, got, tt.name)
		}
		if got := shownText(tt.in); got != tt.text {
			t.Errorf("shownText(%q) = %s, want %s", tt.in, got, tt.text)
		}
	}
}
