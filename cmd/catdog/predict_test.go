package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
)

// runCatdog runs a catdog command line in this process as main does, minus the signals,
// and returns what it printed on stdout and stderr and its error.
func runCatdog(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = execute(context.Background(), newApp(&out, &errb), args)
	return out.String(), errb.String(), err
}

func TestPredictCommand(t *testing.T) {
	fixtures.RequireORT(t)
	photos := fixtures.Shared(t, "dogs-vs-cats-originals")
	files, _ := filepath.Glob(filepath.Join(photos, "*.jpg"))
	if len(files) == 0 {
		t.Fatalf("no photos in %s", photos)
	}
	model := fixtures.BrightnessModel(t, 32)

	// The whole folder: one line per photo, no error.
	out, _, err := runCatdog(t, "predict", "-q", "--ep", "cpu", "--model", model, photos)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(files) {
		t.Fatalf("%d lines for %d photos", len(lines), len(files))
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 || (f[0] != "dog" && f[0] != "cat") {
			t.Fatalf("bad line %q", l)
		}
	}

	// A folder with a corrupt file among good ones, as JSON: every file answered, the bad
	// one with an error, exit status non-zero.
	dir := t.TempDir()
	for _, f := range files[:5] {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "aaa-broken.jpg"), []byte("\xff\xd8\xff garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCatdog(t, "predict", "-q", "--ep", "cpu", "--json", "--model", model, dir)
	if err == nil || !strings.Contains(err.Error(), "1 of 6 files failed") {
		t.Errorf("err = %v, want 1 of 6 files failed", err)
	}
	var got []struct {
		Path        string   `json:"path"`
		Label       string   `json:"label"`
		Probability *float64 `json:"probability"`
		Error       string   `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, out)
	}
	if len(got) != 6 {
		t.Fatalf("%d answers, want 6", len(got))
	}
	if got[0].Error == "" || got[0].Probability != nil {
		t.Errorf("broken file: %+v, want an error only", got[0])
	}
	for _, g := range got[1:] {
		if g.Error != "" || g.Probability == nil || (g.Label != "dog" && g.Label != "cat") {
			t.Errorf("good file: %+v", g)
		}
	}

	// Text mode: the error goes to stderr, the other lines to stdout.
	out, errOut, err := runCatdog(t, "predict", "-q", "--ep", "cpu", "--model", model, dir)
	if err == nil || !strings.Contains(errOut, "aaa-broken.jpg") || strings.Count(out, "\n") != 5 {
		t.Errorf("text mode: err %v, stderr %q, stdout %q", err, errOut, out)
	}

	// A missing path among good ones: reported, the others still classified. As JSON Lines:
	// one object per line, in the order given.
	missing := filepath.Join(dir, "no-such-photo.jpg")
	out, _, err = runCatdog(t, "predict", "-q", "--ep", "cpu", "--jsonl", "--model", model, files[0], missing, files[1])
	if err == nil || !strings.Contains(err.Error(), "1 of 3 files failed") {
		t.Errorf("missing path: err = %v, want 1 of 3 files failed", err)
	}
	jl := strings.Split(strings.TrimSpace(out), "\n")
	if len(jl) != 3 {
		t.Fatalf("--jsonl: %d lines, want 3:\n%s", len(jl), out)
	}
	for i, l := range jl {
		var g struct {
			Path, Label, Error string
		}
		if err := json.Unmarshal([]byte(l), &g); err != nil {
			t.Fatalf("--jsonl line %d: %v: %s", i, err, l)
		}
		if bad := g.Error != ""; bad != (i == 1) || (i == 1 && !strings.Contains(g.Error, "no such file")) || (i != 1 && g.Label == "") {
			t.Errorf("--jsonl line %d: %s", i, l)
		}
	}
	if _, _, err := runCatdog(t, "predict", "--json", "--jsonl", "--model", model, files[0]); err == nil {
		t.Error("--json with --jsonl: no error")
	}
}

// TestPredictShowsNamesSafely: file names print as they are, unless they hold characters
// that act on a terminal (escape sequences, new lines): then they print quoted, and the
// error lines on stderr show them escaped.
func TestPredictShowsNamesSafely(t *testing.T) {
	fixtures.RequireORT(t)
	model := fixtures.BrightnessModel(t, 32)
	photo, err := os.ReadFile(fixtures.PhotoFiles(t, "dogs-vs-cats/train", 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string // file name in a fresh folder
		broken bool   // not an image: its error goes to stderr
		want   string // the name as printed, after the folder
	}{
		{"cat.1.jpg", false, "cat.1.jpg"},
		{"chat été.jpg", false, "chat été.jpg"},
		{"red\x1b[31m.jpg", false, `red\x1b[31m.jpg"`},
		{"two\nlines.jpg", false, `two\nlines.jpg"`},
		{"clear\x1b[2J.jpg", true, `clear\x1b[2J.jpg`},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.name), func(t *testing.T) {
			dir := t.TempDir()
			data := photo
			if tt.broken {
				data = []byte("not an image")
			}
			if err := os.WriteFile(filepath.Join(dir, tt.name), data, 0o644); err != nil {
				t.Fatal(err)
			}
			out, errOut, err := runCatdog(t, "predict", "-q", "--ep", "cpu", "--model", model, dir)
			if (err != nil) != tt.broken {
				t.Fatalf("error %v", err)
			}
			shown := out
			if tt.broken {
				shown = errOut
			}
			if strings.ContainsAny(out+errOut, "\x1b\r") || strings.Count(out+errOut, "\n") != 1 {
				t.Errorf("raw control characters or extra lines in stdout %q, stderr %q", out, errOut)
			}
			if !strings.Contains(shown, tt.want) {
				t.Errorf("%q does not show the name as %s", shown, tt.want)
			}
			if quoted := strings.HasSuffix(tt.want, `"`); !tt.broken && quoted != strings.Contains(out, `"`) {
				t.Errorf("stdout %q: quoted %v, want %v", out, !quoted, quoted)
			}
		})
	}
}
