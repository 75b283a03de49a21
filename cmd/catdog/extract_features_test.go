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

// TestExtractFeaturesShardedCommand runs extract-features as the pods of an Indexed Job
// would (CATDOG_SHARDS and JOB_COMPLETION_INDEX in the environment), then --merge, and
// checks the arrays against one process's, byte for byte.
func TestExtractFeaturesShardedCommand(t *testing.T) {
	fixtures.RequireORT(t)
	data := prepareSmall(t, 30, 32)
	args := []string{"extract-features", "-q", "--backbone", "vgg16-random", "--data", data, "--ep", "cpu", "--batch", "4"}
	one := filepath.Join(t.TempDir(), "one")
	if _, errOut, err := runCatdog(t, append(args, "--out", one)...); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	sharded := filepath.Join(t.TempDir(), "sharded")
	t.Setenv("CATDOG_SHARDS", "3")
	for _, i := range []string{"0", "1", "2"} {
		t.Setenv("JOB_COMPLETION_INDEX", i)
		out, errOut, err := runCatdog(t, append(args, "--out", sharded)...)
		if err != nil {
			t.Fatalf("shard %s: %v\n%s", i, err, errOut)
		}
		if !strings.Contains(out, "shard "+i+"/3") || !strings.Contains(out, "--merge") {
			t.Errorf("shard %s said %q", i, out)
		}
	}
	out, errOut, err := runCatdog(t, "extract-features", "--out", sharded, "--merge") // no --data needed
	if err != nil {
		t.Fatalf("merge: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "merged 3 shards") {
		t.Errorf("merge said %q", out)
	}
	for _, f := range []string{"train_features.npy", "train_labels.npy", "valid_features.npy", "valid_labels.npy", "test_features.npy", "test_labels.npy"} {
		a, err := os.ReadFile(filepath.Join(one, f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(sharded, f))
		if err != nil {
			t.Fatal(err)
		}
		if string(a) != string(b) {
			t.Errorf("%s: the merged shards differ from one process", f)
		}
	}
	t.Setenv("JOB_COMPLETION_INDEX", "")
	if _, _, err := runCatdog(t, append(args, "--out", sharded)...); err == nil || !strings.Contains(err.Error(), "JOB_COMPLETION_INDEX") {
		t.Errorf("3 shards without an index: %v", err)
	}
}
