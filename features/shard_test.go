package features

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/internal/shard"
)

// sameArrays fails unless the arrays of the features folders a and b are the same bytes.
func sameArrays(t *testing.T, a, b string) {
	t.Helper()
	for _, split := range datasets.SplitNames() {
		for _, name := range []string{FeaturesFile(split), LabelsFile(split)} {
			x, err := os.ReadFile(filepath.Join(a, name))
			if err != nil {
				t.Fatal(err)
			}
			y, err := os.ReadFile(filepath.Join(b, name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(x, y) {
				t.Fatalf("%s differs between %s and %s (%d and %d bytes)", name, a, b, len(x), len(y))
			}
		}
	}
}

// TestShardedExtractMatchesOne checks that three shards, merged, write the arrays one
// process writes, byte for byte, with batches that straddle the splits' ends (100 photos,
// batches of 8); that a finished shard run again is a cache hit; that a shard stopped
// mid-way leaves a part that Merge refuses and that a rerun completes; and that merging
// again gives the same files.
func TestShardedExtractMatchesOne(t *testing.T) {
	fixtures.RequireORT(t)
	data := prepareSmall(t, 100, 32)
	opts := Options{Backbone: backbones.VGG16Random, Data: data, Provider: "cpu", Batch: 8, Threads: 1}
	one := opts
	one.Out = filepath.Join(t.TempDir(), "one")
	if _, err := Extract(context.Background(), one); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "sharded")
	run := func(ctx context.Context, i, n int) (*Result, error) {
		o := opts
		o.Out, o.Shard = out, &shard.Shard{Index: i, Count: n}
		return Extract(ctx, o)
	}
	for _, i := range []int{2, 0} { // any order
		if _, err := run(context.Background(), i, 3); err != nil {
			t.Fatal(err)
		}
	}
	// shard 1 stopped after its first batch, as a killed pod
	ctx, cancel := context.WithCancel(context.Background())
	o := opts
	o.Out, o.Shard = out, &shard.Shard{Index: 1, Count: 3}
	o.Progress = func(done, total int) { cancel() }
	if _, err := Extract(ctx, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("the stopped shard returned %v", err)
	}
	if _, err := Merge(context.Background(), out, 0); err == nil || !strings.Contains(err.Error(), "1-of-3") || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("Merge with a stopped shard: %v, want it refused as incomplete", err)
	}
	res, err := run(context.Background(), 1, 3)
	if err != nil || res.CacheHit {
		t.Fatalf("the shard run again: %v, cache hit %v", err, res != nil && res.CacheHit)
	}
	if res, err := run(context.Background(), 1, 3); err != nil || !res.CacheHit {
		t.Fatalf("a finished shard run again: %v, want a cache hit", err)
	}
	info, err := Merge(context.Background(), out, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameArrays(t, one.Out, out)
	want, err := Open(one.Out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != want.Key || got.Shards != 3 || info.Shards != 3 {
		t.Errorf("merged key %.12s, shards %d; want key %.12s, 3 shards", got.Key, got.Shards, want.Key)
	}
	for _, split := range datasets.SplitNames() {
		if g, w := got.Splits[split], want.Splits[split]; g.Count != w.Count || g.FeaturesSHA256 != w.FeaturesSHA256 || g.LabelsSHA256 != w.LabelsSHA256 || !slices.Equal(g.Shape, w.Shape) {
			t.Errorf("%s: merged %+v, one process %+v", split, got.Splits[split], want.Splits[split])
		}
	}
	if _, err := Merge(context.Background(), out, 0); err != nil {
		t.Fatalf("merging again: %v", err)
	}
	sameArrays(t, one.Out, out)
}

// TestMergeRefuses checks that Merge refuses, naming them, a missing part, parts of two
// shard counts, a part computed otherwise (features stored as float16), a duplicated part
// folder and a part file changed since its shard wrote it.
func TestMergeRefuses(t *testing.T) {
	fixtures.RequireORT(t)
	data := prepareSmall(t, 40, 32)
	base := Options{Backbone: backbones.VGG16Random, Data: data, Provider: "cpu", Batch: 8, Threads: 1}
	extract := func(out string, s shard.Shard, edit func(*Options)) {
		t.Helper()
		o := base
		o.Out, o.Shard = out, &s
		if edit != nil {
			edit(&o)
		}
		if _, err := Extract(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	// a fresh folder with the three parts of one run
	complete := func() string {
		out := filepath.Join(t.TempDir(), "f")
		for i := range 3 {
			extract(out, shard.Shard{Index: i, Count: 3}, nil)
		}
		return out
	}
	// a fresh folder with the three parts of one run, merged once
	merged := func() (out string, info []byte) {
		out = complete()
		if _, err := Merge(context.Background(), out, 0); err != nil {
			t.Fatal(err)
		}
		info, err := os.ReadFile(filepath.Join(out, InfoFile))
		if err != nil {
			t.Fatal(err)
		}
		return out, info
	}
	for _, tc := range []struct {
		name  string
		spoil func(out string)
		want  []string
	}{
		{"missing", func(out string) {
			if err := os.RemoveAll(PartDir(out, shard.Shard{Index: 2, Count: 3})); err != nil {
				t.Fatal(err)
			}
		}, []string{"missing", "2-of-3"}},
		{"two counts", func(out string) { extract(out, shard.Shard{Index: 0, Count: 2}, nil) }, []string{"0-of-2", "two runs"}},
		{"foreign", func(out string) {
			extract(out, shard.Shard{Index: 1, Count: 3}, func(o *Options) { o.DType = "float16" })
		}, []string{"1-of-3", "foreign", "float16"}},
		{"other batches", func(out string) {
			extract(out, shard.Shard{Index: 2, Count: 3}, func(o *Options) { o.Batch = 4 })
		}, []string{"2-of-3", "batches of 4"}},
		{"duplicate", func(out string) {
			src := PartDir(out, shard.Shard{Index: 1, Count: 3})
			if err := os.CopyFS(src+" copy", os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
		}, []string{"1-of-3 copy", "duplicate"}},
		{"changed", func(out string) {
			p := filepath.Join(PartDir(out, shard.Shard{Index: 0, Count: 3}), FeaturesFile("train"))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-1] ^= 1
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"0-of-3", "train_features.npy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, info := merged()
			tc.spoil(out)
			_, err := Merge(context.Background(), out, 0)
			if err == nil {
				t.Fatal("Merge accepted the parts")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Merge: %v; want it to say %q", err, w)
				}
			}
			if now, err := os.ReadFile(filepath.Join(out, InfoFile)); err != nil || !bytes.Equal(now, info) {
				t.Errorf("a refused merge touched the merged %s (%v)", InfoFile, err)
			}
		})
	}
}

// TestBatchRanges checks batchRanges against the batches of the whole extraction listed
// one by one and dealt out to the shards: every row once, in order, each shard a run of
// whole batches, with splits that end in a partial batch, an empty split, and more shards
// than batches.
func TestBatchRanges(t *testing.T) {
	for _, tc := range []struct {
		sizes      [3]int
		batch, cnt int
	}{
		{[3]int{60, 20, 20}, 8, 3}, {[3]int{5, 0, 3}, 4, 2}, {[3]int{1, 1, 1}, 16, 7},
		{[3]int{100, 37, 0}, 10, 4}, {[3]int{0, 0, 0}, 8, 2}, {[3]int{33, 33, 34}, 1, 9},
	} {
		sizes := map[string]int{}
		type batch struct {
			split    string
			from, to int
		}
		var all []batch
		for i, split := range datasets.SplitNames() {
			sizes[split] = tc.sizes[i]
			for b := 0; b < tc.sizes[i]; b += tc.batch {
				all = append(all, batch{split, b, min(b+tc.batch, tc.sizes[i])})
			}
		}
		next := map[string]int{}
		for i := range tc.cnt {
			s := shard.Shard{Index: i, Count: tc.cnt}
			from, to := batchRanges(sizes, tc.batch, s)
			lo, hi := s.Range(len(all))
			for _, split := range datasets.SplitNames() {
				want := [2]int{0, 0}
				for _, b := range all[lo:hi] {
					if b.split != split {
						continue
					}
					if want[1] == 0 {
						want[0] = b.from
					}
					want[1] = b.to
				}
				if got := [2]int{from[split], to[split]}; got != want && !(want[1] == 0 && got[0] == got[1]) {
					t.Fatalf("%v in batches of %d, shard %s, %s: rows %v, want %v", tc.sizes, tc.batch, s, split, got, want)
				}
				if to[split] > from[split] {
					if from[split] != next[split] {
						t.Fatalf("%v, shard %s, %s starts at %d, want %d", tc.sizes, s, split, from[split], next[split])
					}
					next[split] = to[split]
				}
			}
		}
		for i, split := range datasets.SplitNames() {
			if next[split] != tc.sizes[i] {
				t.Errorf("%v in %d shards: %s covered to %d of %d", tc.sizes, tc.cnt, split, next[split], tc.sizes[i])
			}
		}
	}
}
