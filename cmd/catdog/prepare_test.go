package main

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/internal/fixtures"
)

func TestPrepareCommand(t *testing.T) {
	src := t.TempDir()
	for i := range 10 {
		for _, cls := range []string{"cat", "dog"} {
			m := image.NewRGBA(image.Rect(0, 0, 50, 40))
			for p := range m.Pix {
				m.Pix[p] = uint8(i * 20)
			}
			var b bytes.Buffer
			png.Encode(&b, m)
			os.WriteFile(filepath.Join(src, fmt.Sprintf("%s.%d.jpg", cls, i)), b.Bytes(), 0o644)
		}
	}
	os.WriteFile(filepath.Join(src, "cat.broken.jpg"), []byte("nope"), 0o644)
	out := filepath.Join(t.TempDir(), "data")
	t.Chdir(t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("CATDOG_SIZE", "48") // the environment is read...
	var stdout, stderr bytes.Buffer
	root := newRootCmd(newApp(&stdout, &stderr))
	root.SetArgs([]string{"prepare", "--data", src, "--out", out, "--size", "40", "--filter", "nearest", "-q"}) // ...but flags win
	if err := root.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"dog     10", "cat     11", "imbalance ratio (largest/smallest): 1.100", "train", "split_test.npy", "20 images of 40x40 (nearest filter)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "not-image") || !strings.Contains(stderr.String(), "cat.broken.jpg") {
		t.Errorf("stderr lacks the skipped file:\n%s", stderr.String())
	}
	ds, err := datasets.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if ds.Len() != 20 || ds.Size() != 40 || ds.Manifest().Filter != "nearest" {
		t.Errorf("dataset: %d images of %d, filter %s", ds.Len(), ds.Size(), ds.Manifest().Filter)
	}

	root = newRootCmd(newApp(&stdout, &stderr))
	root.SetArgs([]string{"prepare", "--data", src, "--out", out, "--filter", "lanczos"})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "lanczos") {
		t.Errorf("bad filter: %v", err)
	}
}

// TestPrepareCommandClasses: a folder per class of real CIFAR-10 photos, with --classes
// ordering and picking them, from the flag and from the environment.
func TestPrepareCommandClasses(t *testing.T) {
	src := fixtures.ClassPhotos(t, "cifar-10/train", 10, "airplane", "cat", "ship")
	t.Chdir(t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	for _, tc := range []struct {
		args, env string
		want      []string
	}{
		{"", "", []string{"airplane", "cat", "ship"}},
		{"ship,airplane", "", []string{"ship", "airplane"}},
		{"", "cat,ship", []string{"cat", "ship"}},
		{"", "ship, cat", []string{"ship", "cat"}},
	} {
		t.Setenv("CATDOG_CLASSES", tc.env)
		out := filepath.Join(t.TempDir(), "data")
		args := []string{"prepare", "--data", src, "--out", out, "--size", "32", "-q"}
		if tc.args != "" {
			args = append(args, "--classes", tc.args)
		}
		var stdout, stderr bytes.Buffer
		root := newRootCmd(newApp(&stdout, &stderr))
		root.SetArgs(args)
		if err := root.Execute(); err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		line := fmt.Sprintf("%d classes, labels 0..%d: %s", len(tc.want), len(tc.want)-1, strings.Join(tc.want, ", "))
		if !strings.Contains(stdout.String(), line) || !strings.Contains(stdout.String(), "photos.npy") {
			t.Errorf("--classes %q, CATDOG_CLASSES %q: stdout lacks %q:\n%s", tc.args, tc.env, line, stdout.String())
		}
	}
}

// Without --data and without network, the error says where to get train.zip.
func TestPrepareCommandNoData(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1") // no network, whatever the machine has
	var stdout, stderr bytes.Buffer
	root := newRootCmd(newApp(&stdout, &stderr))
	root.SetArgs([]string{"prepare", "--out", t.TempDir(), "-q"})
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), "--data path/to/train.zip") || !strings.Contains(err.Error(), "kaggle competitions download") {
		t.Fatalf("error %v, want the way to get train.zip", err)
	}
}
