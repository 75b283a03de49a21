package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
)

// TestPredictShardedFilesFrom runs predict --files-from as the pods of an Indexed Job would
// (three shards, their index from JOB_COMPLETION_INDEX), with one shard first killed
// mid-way (a part folder with no part.json), then --merge, and checks the merged results
// against one process's, byte for byte, as text and as JSON Lines.
func TestPredictShardedFilesFrom(t *testing.T) {
	fixtures.RequireORT(t)
	photos := fixtures.Shared(t, "dogs-vs-cats-originals")
	files, _ := filepath.Glob(filepath.Join(photos, "*.jpg"))
	if len(files) < 10 {
		t.Fatalf("%d photos in %s", len(files), photos)
	}
	dir := t.TempDir()
	list := filepath.Join(dir, "list.txt")
	// a missing file too: its error is part of the results, not the end of the shard
	body := strings.Join(files[:100], "\n") + "\n" + filepath.Join(dir, "missing.jpg") + "\n"
	if err := os.WriteFile(list, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	model := fixtures.BrightnessModel(t, 32)
	for _, format := range []string{"text", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			with := func(list string) []string {
				a := []string{"predict", "-q", "--ep", "cpu", "--model", model, "--files-from", list}
				if format == "jsonl" {
					a = append(a, "--jsonl")
				}
				return a
			}
			args := with(list)
			one := filepath.Join(dir, format+"-one")
			if _, _, err := runCatdog(t, append(args, "--out", one)...); err == nil || !strings.Contains(err.Error(), "1 of 101 files failed") {
				t.Fatalf("one process: %v, want the missing file's failure", err)
			}
			sharded := filepath.Join(dir, format+"-sharded")
			// shard 1 killed before it finished: results half-written, no part.json
			killed := filepath.Join(sharded+".parts", "1-of-3")
			if err := os.MkdirAll(killed, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(killed, "results.tmp-123"), []byte("cat  0.9"), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Setenv("CATDOG_SHARDS", "3")
			for _, i := range []string{"2", "0"} {
				t.Setenv("JOB_COMPLETION_INDEX", i)
				if _, errOut, err := runCatdog(t, append(args, "--out", sharded)...); err != nil {
					t.Fatalf("shard %s: %v\n%s", i, err, errOut)
				}
			}
			t.Setenv("JOB_COMPLETION_INDEX", "")
			merge := []string{"predict", "--merge", "--out", sharded}
			if _, _, err := runCatdog(t, merge...); err == nil || !strings.Contains(err.Error(), "1-of-3") || !strings.Contains(err.Error(), "incomplete") {
				t.Fatalf("merge with a killed shard: %v", err)
			}
			t.Setenv("JOB_COMPLETION_INDEX", "1")
			if _, errOut, err := runCatdog(t, append(args, "--out", sharded)...); err != nil {
				t.Fatalf("shard 1 again: %v\n%s", err, errOut)
			}
			_, errOut, err := runCatdog(t, append(args, "--out", sharded)...)
			if err != nil || !strings.Contains(errOut, "cache hit") {
				t.Errorf("shard 1 a third time: %v, %q; want a cache hit", err, errOut)
			}
			t.Setenv("JOB_COMPLETION_INDEX", "")
			_, errOut, err = runCatdog(t, merge...)
			if err == nil || !strings.Contains(err.Error(), "1 of 101 files failed") || !strings.Contains(errOut, "merged 3 shards") {
				t.Fatalf("merge: %v, %q; want it done, with the missing file's failure", err, errOut)
			}
			a, err := os.ReadFile(one)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(sharded)
			if err != nil {
				t.Fatal(err)
			}
			if string(a) != string(b) || len(a) == 0 {
				t.Errorf("the merged results (%d bytes) differ from one process's (%d bytes)", len(b), len(a))
			}
			// a part from another list is refused by name
			other := filepath.Join(dir, format+"-other.txt")
			if err := os.WriteFile(other, []byte(strings.Join(files[:50], "\n")), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Setenv("JOB_COMPLETION_INDEX", "2")
			if _, errOut, err := runCatdog(t, append(with(other), "--out", sharded)...); err != nil {
				t.Fatalf("a shard of another list: %v\n%s", err, errOut)
			}
			t.Setenv("JOB_COMPLETION_INDEX", "")
			if _, _, err := runCatdog(t, merge...); err == nil || !strings.Contains(err.Error(), "2-of-3") || !strings.Contains(err.Error(), "another list") {
				t.Errorf("merge with a foreign part: %v", err)
			}
		})
	}
}
