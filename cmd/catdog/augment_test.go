package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/datasets"
)

func TestAugmentCommand(t *testing.T) {
	data := prepareSmall(t, 10, 32)
	out := filepath.Join(t.TempDir(), "aug")
	stdout, stderr, err := runCatdog(t, "augment", "--quiet", "--data", data, "--out", out, "--copies", "2", "--seed", "3")
	if err != nil {
		t.Fatalf("augment: %v\n%s", err, stderr)
	}
	src, err := datasets.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ds, err := datasets.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if want := src.Len() + 2*len(src.Split(datasets.Train)); ds.Len() != want {
		t.Errorf("%d images, want %d", ds.Len(), want)
	}
	if !strings.Contains(stdout, "images of 32x32") {
		t.Errorf("output:\n%s", stdout)
	}
	if _, _, err := runCatdog(t, "augment", "--quiet", "--data", data, "--out", t.TempDir(), "--flip", "3"); err == nil {
		t.Error("--flip 3: no error")
	}
	if _, _, err := runCatdog(t, "augment", "--quiet", "--out", t.TempDir()); err == nil {
		t.Error("no --data: no error")
	}
}
