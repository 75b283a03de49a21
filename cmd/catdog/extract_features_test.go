package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
)

func TestExtractFeaturesCommand(t *testing.T) {
	fixtures.RequireORT(t)
	data := prepareSmall(t, 30, 32)
	args := []string{"extract-features", "-q", "--backbone", "vgg16-random", "--data", data, "--ep", "cpu", "--batch", "4"}
	out, errOut, err := runCatdog(t, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if strings.Contains(out, "cache hit") || !strings.Contains(errOut, "RANDOM") || !strings.Contains(out, "512x1x1") {
		t.Errorf("first run: stdout %q stderr %q", out, errOut)
	}
	dir := filepath.Join(data, "features", "vgg16-random")
	for _, f := range []string{"train_features.npy", "valid_labels.npy", "test_features.npy", "features.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	out, _, err = runCatdog(t, args...)
	if err != nil || !strings.Contains(out, "cache hit") {
		t.Errorf("second run: %v, %q; want a cache hit", err, out)
	}
	out, _, err = runCatdog(t, append(args, "--dtype", "float16")...)
	if err != nil || strings.Contains(out, "cache hit") || !strings.Contains(out, "float16") {
		t.Errorf("float16 run: %v, %q; want a rebuild", err, out)
	}
}
