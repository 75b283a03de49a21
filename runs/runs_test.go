package runs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/internal/npy"
)

func TestNewDirNeverReuses(t *testing.T) {
	root := filepath.Join(t.TempDir(), "runs")
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		dir, err := NewDir(root, "vgg1")
		if err != nil {
			t.Fatal(err)
		}
		if seen[dir] || !strings.HasPrefix(filepath.Base(dir), "vgg1-") {
			t.Fatalf("NewDir gave %s (seen before: %v)", dir, seen[dir])
		}
		seen[dir] = true
	}
}

func TestReadConfig(t *testing.T) {
	for _, tc := range []struct {
		name, body, kind, err string
	}{
		{"scratch", `{"kind": "scratch", "arch": "vgg1", "seed": 7, "extra": 1}`, Scratch, ""},
		{"old cnn", `{"kind": "cnn", "arch": "vgg1"}`, Scratch, ""},
		{"old head", `{"kind": "head", "arch": "head"}`, Transfer, ""},
		{"malformed", `{"kind": `, "", ConfigFile},
		{"missing", "", "", "not a run folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.body != "" {
				if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(tc.body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c, extra, err := ReadConfig(dir)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one naming %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind != tc.kind || extra["arch"] == nil {
				t.Fatalf("kind %q extra %v, want %q", c.Kind, extra, tc.kind)
			}
		})
	}
}

func TestReadOptional(t *testing.T) {
	dir := t.TempDir()
	var h History
	if ok, err := ReadOptional(dir, HistoryFile, &h); ok || err != nil {
		t.Fatalf("missing file: ok %v err %v, want false, nil", ok, err)
	}
	os.WriteFile(filepath.Join(dir, HistoryFile), []byte(`{"epochs": [{"epoch": 1, "seconds": 2, "images_per_second": 10}, {"epoch": 2, "seconds": 3}]}`), 0o644)
	if ok, err := ReadOptional(dir, HistoryFile, &h); !ok || err != nil {
		t.Fatalf("ok %v err %v", ok, err)
	}
	if h.Seconds() != 5 || h.ImagesPerSec() != 10 {
		t.Fatalf("seconds %v images/s %v, want 5 and 10", h.Seconds(), h.ImagesPerSec())
	}
	os.WriteFile(filepath.Join(dir, HistoryFile), []byte(`{"epochs": [`), 0o644)
	if _, err := ReadOptional(dir, HistoryFile, &h); err == nil || !strings.Contains(err.Error(), HistoryFile) {
		t.Fatalf("damaged file: err %v, want one naming %s", err, HistoryFile)
	}
}

func TestWriteReadTest(t *testing.T) {
	dir := t.TempDir()
	if _, _, ok, err := ReadTest(dir); ok || err != nil {
		t.Fatalf("a run without predictions: ok %v, %v", ok, err)
	}
	labels, probs := []uint8{0, 1, 1}, []float32{0.1, 0.9, 0.4}
	if err := WriteTest(dir, labels, probs); err != nil {
		t.Fatal(err)
	}
	l, p, ok, err := ReadTest(dir)
	if err != nil || !ok || !slices.Equal(l, labels) || !slices.Equal(p, probs) {
		t.Errorf("read back %v %v %v %v", l, p, ok, err)
	}
	if err := WriteTest(dir, labels, probs[:2]); err == nil {
		t.Error("3 labels and 2 predictions written")
	}
	if err := WriteJSON(dir, "notes.json", 1); err == nil {
		t.Error("WriteJSON wrote a file that is not the run folder's")
	}
}

// TestWriteReadTestClasses writes the predictions of three classes or more, (N, C), and
// refuses two per label (two classes have one) or a count that is no multiple.
func TestWriteReadTestClasses(t *testing.T) {
	dir := t.TempDir()
	labels := []uint8{0, 2, 1}
	probs := []float32{0.7, 0.2, 0.1, 0.1, 0.1, 0.8, 0.3, 0.6, 0.1}
	if err := WriteTest(dir, labels, probs); err != nil {
		t.Fatal(err)
	}
	_, shape, err := npy.ReadFile[float32](filepath.Join(dir, PredictionsFile))
	if err != nil || !slices.Equal(shape, []int{3, 3}) {
		t.Errorf("predictions of shape %v (%v), want [3 3]", shape, err)
	}
	l, p, ok, err := ReadTest(dir)
	if err != nil || !ok || !slices.Equal(l, labels) || !slices.Equal(p, probs) {
		t.Errorf("read back %v %v %v %v", l, p, ok, err)
	}
	for _, n := range []int{6, 8} {
		if err := WriteTest(dir, labels, probs[:n]); err == nil {
			t.Errorf("3 labels and %d predictions written", n)
		}
	}
}
