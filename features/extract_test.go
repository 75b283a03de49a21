package features

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/internal/half"
	"github.com/catdog-ml/catdog/internal/npy"
)

// prepareSmall prepares n shared photos (half dogs, half cats) at size x size.
func prepareSmall(t testing.TB, n, size int) string {
	t.Helper()
	src := fixtures.Photos(t, n)
	out := filepath.Join(t.TempDir(), "data")
	if _, err := datasets.Prepare(context.Background(), datasets.Options{Data: src, Out: out, Size: size, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExtract(t *testing.T) {
	fixtures.RequireORT(t)
	data := prepareSmall(t, 100, 32)
	ds, err := datasets.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	out := filepath.Join(t.TempDir(), "feats")
	var notes []string
	var lastDone, lastTotal int
	opts := Options{
		Backbone: backbones.VGG16Random, Data: data, Out: out, Provider: "cpu", Batch: 8,
		Progress: func(done, total int) { lastDone, lastTotal = done, total },
		Notify:   func(m string) { notes = append(notes, m) },
	}
	res, err := Extract(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.CacheHit {
		t.Fatal("first run reported a cache hit")
	}
	if lastDone != ds.Len() || lastTotal != ds.Len() {
		t.Errorf("progress ended at %d/%d, want %d/%d", lastDone, lastTotal, ds.Len(), ds.Len())
	}
	if len(notes) == 0 || !strings.Contains(notes[0], "RANDOM") {
		t.Errorf("notices %q: want the random-weights warning", notes)
	}
	info, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.InputSize != 32 || info.DType != "float32" || !info.RandomWeights || info.Provider != "cpu" {
		t.Errorf("info %+v", info)
	}
	if len(info.FeatureShape) != 3 || info.FeatureShape[0] != 512 || info.FeatureShape[1] != 1 || info.FeatureShape[2] != 1 {
		t.Errorf("feature shape %v, want [512 1 1]", info.FeatureShape)
	}
	total := 0
	feats32 := map[string][]float32{}
	for _, split := range datasets.SplitNames() {
		rows := ds.Split(split)
		total += len(rows)
		f, shape, err := npy.ReadFile[float32](filepath.Join(out, FeaturesFile(split)))
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{len(rows), 512, 1, 1}; !slices.Equal(shape, want) {
			t.Errorf("%s features shape %v, want %v", split, shape, want)
		}
		labels, _, err := npy.ReadFile[uint8](filepath.Join(out, LabelsFile(split)))
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			if labels[i] != ds.Labels()[r] {
				t.Fatalf("%s label %d = %d, dataset row %d has %d", split, i, labels[i], r, ds.Labels()[r])
			}
		}
		nonzero := 0
		for _, v := range f {
			if v != 0 {
				nonzero++
			}
		}
		if nonzero == 0 {
			t.Errorf("%s features are all zero", split)
		}
		feats32[split] = f
	}
	if total != ds.Len() {
		t.Errorf("splits cover %d rows of %d", total, ds.Len())
	}

	// The features match a direct run of the same backbone in Gorgonia, on the test split's
	// first images: two engines, one answer, on real photos.
	bb, err := backbones.Load(context.Background(), backbones.VGG16Random, backbones.Options{InputSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	it := ds.Batches(datasets.Test, datasets.BatchOptions{Size: 4})
	if !it.Next() {
		t.Fatal(it.Err())
	}
	b := it.Batch()
	in := make([]float32, b.Len()*32*32*3)
	for i := 0; i < b.Len(); i++ {
		bb.Spec.FillInput(in[i*3072:(i+1)*3072], b.Images[i*3072:(i+1)*3072])
	}
	g, err := NewGorgonia(bb.Model, b.Len())
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := g.Run(in, int64(b.Len()), 3, 32, 32)
	if err != nil {
		t.Fatal(err)
	}
	if rel := maxRelErr(got, feats32[datasets.Test][:len(got)]); rel > 1e-4 {
		t.Errorf("Gorgonia vs onnxruntime on real photos: relative error %.3g > 1e-4", rel)
	} else {
		t.Logf("Gorgonia vs onnxruntime on %d real photos: relative error %.3g", b.Len(), rel)
	}

	// Same key: nothing is done, nothing is rewritten.
	st1, _ := os.Stat(filepath.Join(out, FeaturesFile(datasets.Train)))
	res, err = Extract(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(filepath.Join(out, FeaturesFile(datasets.Train)))
	if !res.CacheHit || !st1.ModTime().Equal(st2.ModTime()) {
		t.Errorf("second run: cache hit %v, file rewritten %v", res.CacheHit, !st1.ModTime().Equal(st2.ModTime()))
	}

	// float16: rebuilt, same values to half precision.
	opts16 := opts
	opts16.DType = "float16"
	res, err = Extract(context.Background(), opts16)
	if err != nil {
		t.Fatal(err)
	}
	if res.CacheHit || res.Info.Key == info.Key {
		t.Fatal("dtype change did not rebuild")
	}
	f16, err := npy.Open(filepath.Join(out, FeaturesFile(datasets.Valid)))
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, f16.DataSize())
	if _, err := f16.ReadAt(raw, 0); err != nil {
		t.Fatal(err)
	}
	f16.Close()
	if f16.DType != npy.Float16 {
		t.Fatalf("dtype %s, want float16", f16.DType)
	}
	for i, want := range feats32[datasets.Valid] {
		got := half.ToFloat32(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
		if math.Abs(float64(got-want)) > 1e-3*math.Abs(float64(want))+1e-6 {
			t.Fatalf("float16 value %d = %v, float32 %v", i, got, want)
		}
	}

	// Another backbone (other weights, so another checksum): rebuilt.
	optsSeed := opts
	optsSeed.Backbones.Seed = 7
	res, err = Extract(context.Background(), optsSeed)
	if err != nil {
		t.Fatal(err)
	}
	if res.CacheHit || res.Info.BackboneSHA256 == info.BackboneSHA256 {
		t.Error("backbone change did not rebuild")
	}
	// When onnxruntime cannot start, the existing features are left as they were.
	orig, had := os.LookupEnv("ONNXRUNTIME_LIB")
	t.Setenv("ONNXRUNTIME_LIB", filepath.Join(t.TempDir(), "missing.so"))
	forced := optsSeed
	forced.Force = true
	if _, err := Extract(context.Background(), forced); err == nil || !strings.Contains(err.Error(), "ONNXRUNTIME_LIB") {
		t.Errorf("without a library: err = %v", err)
	}
	if _, err := Open(out); err != nil {
		t.Errorf("a failed start damaged the cache: %v", err)
	}
	if had {
		os.Setenv("ONNXRUNTIME_LIB", orig)
	} else {
		os.Unsetenv("ONNXRUNTIME_LIB")
	}

	// A damaged array invalidates the cache.
	if err := os.Truncate(filepath.Join(out, FeaturesFile(datasets.Test)), 100); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(out); err == nil {
		t.Error("Open accepted a truncated features file")
	}
	res, err = Extract(context.Background(), optsSeed)
	if err != nil || res.CacheHit {
		t.Errorf("after damage: cache hit %v, err %v; want a rebuild", res != nil && res.CacheHit, err)
	}
}

func TestExtractErrors(t *testing.T) {
	fixtures.RequireORT(t)
	data := prepareSmall(t, 20, 48)
	tests := []struct {
		name   string
		opts   Options
		errHas string
	}{
		{"no backbone", Options{Data: data}, "no backbone"},
		{"bad dtype", Options{Backbone: "vgg16-random", Data: data, DType: "int8"}, "dtype"},
		{"bad provider", Options{Backbone: "vgg16-random", Data: data, Provider: "tpu"}, "execution provider"},
		{"missing data", Options{Backbone: "vgg16-random", Data: filepath.Join(t.TempDir(), "none")}, "features"},
		{"unknown backbone", Options{Backbone: "resnet9000", Data: data}, "resnet9000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Extract(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.errHas)
			}
		})
	}
	// A size that is not a multiple of 32 works: the feature map is rounded down.
	res, err := Extract(context.Background(), Options{Backbone: "vgg16-random", Data: data, Provider: "cpu", Out: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if fs := res.Info.FeatureShape; len(fs) != 3 || fs[0] != 512 || fs[1] != 1 || fs[2] != 1 || res.Info.InputSize != 48 {
		t.Errorf("48 px: input %d, feature shape %v; want 48 and [512 1 1]", res.Info.InputSize, fs)
	}
}

// TestExtractCancel stops extraction after the first batch: the error says so and the
// folder holds neither features.json nor any partial or temporary file.
func TestExtractCancel(t *testing.T) {
	fixtures.RequireORT(t)
	data := prepareSmall(t, 40, 32)
	out := filepath.Join(t.TempDir(), "feats")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Extract(ctx, Options{
		Backbone: "vgg16-random", Data: data, Out: out, Provider: "cpu", Batch: 4,
		Progress: func(done, total int) { cancel() },
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if e.Name() != atomicfile.LockFile {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestExtractRefusesDamage: a features folder whose labels were changed after extraction is
// no cache hit: Open refuses it, and Extract computes the features again.
func TestExtractRefusesDamage(t *testing.T) {
	fixtures.RequireORT(t)
	data := prepareSmall(t, 20, 32)
	out := filepath.Join(t.TempDir(), "feats")
	opts := Options{Backbone: "vgg16-random", Data: data, Out: out, Provider: "cpu"}
	if _, err := Extract(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(out, LabelsFile("train"))
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 1
	os.WriteFile(p, b, 0o644)
	if _, err := Open(out); err == nil || !strings.Contains(err.Error(), LabelsFile("train")) {
		t.Errorf("Open of damaged labels: %v", err)
	}
	res, err := Extract(context.Background(), opts)
	if err != nil || res.CacheHit {
		t.Errorf("second Extract: cache hit %v, %v; want the features computed again", res != nil && res.CacheHit, err)
	}
	if _, err := Open(out); err != nil {
		t.Errorf("after extracting again: %v", err)
	}
}

// TestCacheKeyClasses: the class names are part of the key, except Dogs vs. Cats', whose
// keys stay those of the features extracted before classes were recorded.
func TestCacheKeyClasses(t *testing.T) {
	base := Info{Backbone: "b", DataChecksum: "d"}
	key := func(classes ...string) string { i := base; i.Classes = classes; return cacheKey(&i) }
	for _, tc := range []struct {
		a, b []string
		same bool
	}{
		{nil, []string{"dog", "cat"}, true},
		{nil, []string{"cat", "dog"}, false},
		{[]string{"rose", "tulip"}, []string{"rose", "daisy"}, false},
		{[]string{"rose", "tulip"}, []string{"rose", "tulip"}, true},
	} {
		if got := key(tc.a...) == key(tc.b...); got != tc.same {
			t.Errorf("keys of %q and %q equal: %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}
