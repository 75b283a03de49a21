package study

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/runs"
)

// TestRunSmallStudy runs a tiny study end to end on real photos: prepare, one from-scratch
// rung, the transfer rung on vgg16-random, vgg16 listed as not run (no weights here: the
// download is pointed at a closed address), the documents and the comparison page. A second
// run reuses the prepared data and the cached features.
func TestRunSmallStudy(t *testing.T) {
	src := fixtures.Photos(t, 60)
	dir := t.TempDir()
	p := Quick()
	p.Size, p.TransferSize, p.PerClass, p.Epochs, p.HeadEpochs, p.Batch = 32, 32, 0, 1, 1, 8
	var notes []string
	opts := Options{
		Data: src, Dir: dir, Profile: p, Seed: 3,
		Archs:     []string{"vgg1"},
		Backbones: []string{"vgg16", "vgg16-random"},
		Backbone:  backbones.Options{CacheDir: t.TempDir(), NoDownload: true},
		Provider:  "cpu",
		Notify:    func(msg string) { notes = append(notes, msg) },
	}
	sum, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, strings.Join(notes, "\n"))
	}
	if len(sum.Rungs) != 3 {
		t.Fatalf("rungs = %+v, want vgg1, vgg16-head, vgg16-random-head", sum.Rungs)
	}
	byName := map[string]Rung{}
	for _, r := range sum.Rungs {
		byName[r.Name] = r
	}
	for _, name := range []string{"vgg1", "vgg16-random-head"} {
		r, ok := byName[name]
		if !ok || r.Skipped != "" {
			t.Fatalf("rung %s: %+v", name, r)
		}
		if r.MaxDiff > 1e-5 {
			t.Errorf("%s: onnxruntime and Gorgonia differ by %g on the test split", name, r.MaxDiff)
		}
		for _, f := range []string{"model.onnx", "report.html", "report.md", "metrics.json", "predictions.npy"} {
			if _, err := os.Stat(filepath.Join(r.Dir, f)); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if r.Accuracy <= 0 || r.Accuracy > 1 {
			t.Errorf("%s: accuracy %v", name, r.Accuracy)
		}
	}
	for _, name := range []string{"vgg1", "vgg16-random-head"} {
		var c runs.ExportCheck
		ok, err := runs.ReadOptional(byName[name].Dir, runs.ExportCheckFile, &c)
		if !ok || err != nil || c.Images == 0 || c.SameClass != c.Images || c.MaxDiff > 1e-4 || !strings.HasPrefix(c.Runtime, "onnxruntime ") {
			t.Errorf("%s: export check %+v (%v, %v): want onnxruntime and the engine to agree on every photo", name, c, ok, err)
		}
	}
	vgg := byName["vgg16-head"]
	if vgg.Skipped == "" || !strings.Contains(vgg.Fix, "vgg16-12.onnx") {
		t.Errorf("vgg16-head should be listed as not run with a fix naming vgg16-12.onnx: %+v", vgg)
	}
	index, err := os.ReadFile(sum.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"vgg1", "vgg16-random-head", "vgg16-head", "vgg16-12.onnx"} {
		if !strings.Contains(string(index), want) {
			t.Errorf("index.html does not mention %q", want)
		}
	}
	all := strings.Join(notes, "\n")
	for _, want := range []string{"rung 1 of 3: vgg1", "rung 2 of 3: vgg16-head (about", "rung 3 of 3: vgg16-random-head (about"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in the notes:\n%s", want, all)
		}
	}
	var saved Summary
	data, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil || json.Unmarshal(data, &saved) != nil || len(saved.Rungs) != 3 {
		t.Errorf("study.json: %v, %d rungs", err, len(saved.Rungs))
	}

	notes = nil
	opts.Backbones = []string{"vgg16-random"}
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatalf("second Run: %v", err)
	}
	all = strings.Join(notes, "\n")
	for _, want := range []string{"reusing", "cache hit"} {
		if !strings.Contains(all, want) {
			t.Errorf("second run: no %q in its notes:\n%s", want, all)
		}
	}
}

func TestProfileByName(t *testing.T) {
	for _, tt := range []struct {
		name string
		want string
		ok   bool
	}{{"", "quick", true}, {"quick", "quick", true}, {"hour", "hour", true}, {"FULL", "full", true}, {"huge", "", false}} {
		p, err := ProfileByName(tt.name)
		if (err == nil) != tt.ok || p.Name != tt.want {
			t.Errorf("ProfileByName(%q) = %q, %v", tt.name, p.Name, err)
		}
	}
	if err := Hour().validate(); err != nil {
		t.Error(err)
	}
	if err := Full().validate(); err != nil {
		t.Error(err)
	}
	if h := Hour(); h.Augment != "tutorial" || h.PerClass != 0 || h.Patience != 5 {
		t.Errorf("hour profile: %+v", h)
	}
	strong := Quick()
	strong.Augment = "strong"
	if err := strong.validate(); err == nil || !strings.Contains(err.Error(), "tutorial") {
		t.Errorf("unknown augmentation: error %v", err)
	}
	bad := Quick()
	bad.Epochs = 0
	if bad.validate() == nil {
		t.Error("a profile with no epochs should not validate")
	}
}

// TestRunPretrained runs the transfer part of a small study on real ImageNet weights from
// local copies: heads on MobileNet v1 and v2, MobileNetV2's last block fine-tuned, a head on
// both, flip averaging of the best, and VGG16 listed as not run (at hand only, and not at
// hand). Every exported model is evaluated on onnxruntime.
func TestRunPretrained(t *testing.T) {
	src := fixtures.Photos(t, 200) // 40 test photos
	p := Quick().WithExtras()
	p.Size, p.TransferSize, p.PerClass, p.TransferPerClass, p.HeadEpochs, p.Batch, p.LR = 32, 96, 0, 0, 10, 8, 0.001
	p.Backbones = []string{"mobilenet-v1-075", "mobilenet-v2-035"}
	p.FineTune = []FineTune{{Backbone: "mobilenet-v2-035", From: "block_16_project_BN", Head: "dense:1:sigmoid", Epochs: 10, LR: 1e-3}}
	var notes []string
	opts := Options{
		Data: src, Dir: t.TempDir(), Profile: p, Seed: 1, Archs: []string{},
		Backbone: backbones.Options{CacheDir: t.TempDir()},
		BackboneFiles: map[string]string{
			"mobilenet-v1-075": fixtures.Model(t, "mobilenet_v1_0.75_224"),
			"mobilenet-v2-035": fixtures.Model(t, "teachable-machine-export"),
		},
		Provider: "cpu",
		Notify:   func(msg string) { notes = append(notes, msg) },
	}
	sum, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, strings.Join(notes, "\n"))
	}
	var names []string
	byName := map[string]Rung{}
	for _, r := range sum.Rungs {
		names = append(names, r.Name)
		byName[r.Name] = r
	}
	want := []string{"mobilenet-v1-075-head", "mobilenet-v2-035-head", "vgg16-head", "mobilenet-v2-035-finetune", "mobilenet-v1-075+mobilenet-v2-035-head"}
	for _, w := range want {
		if _, ok := byName[w]; !ok {
			t.Errorf("no rung %s in %v", w, names)
		}
	}
	if vgg := byName["vgg16-head"]; vgg.Skipped == "" || !strings.Contains(vgg.Skipped, "not at hand") || !strings.Contains(vgg.Fix, "--backbone-file vgg16=") {
		t.Errorf("vgg16 (at hand only) should not be downloaded: %+v", vgg)
	}
	flips := 0
	for _, r := range sum.Rungs {
		if r.Skipped != "" {
			continue
		}
		if strings.HasSuffix(r.Name, "-flip") {
			flips++
			m, err := os.ReadFile(filepath.Join(r.Dir, "model.onnx"))
			if err != nil || !strings.Contains(string(m), "catdog.flip_average") {
				t.Errorf("%s: model.onnx is not flip-averaged (%v)", r.Name, err)
			}
		} else if r.MaxDiff > 1e-5 {
			t.Errorf("%s: onnxruntime and Gorgonia differ by %g", r.Name, r.MaxDiff)
		}
		t.Logf("%s: test accuracy %.3f [%.3f, %.3f] on %d photos", r.Name, r.Accuracy, r.AccuracyLow, r.AccuracyHigh, r.TestPhotos)
		fixtures.AboveChance(t, r.Name, int(math.Round(r.Accuracy*float64(r.TestPhotos))), r.TestPhotos, 0.5)
		if _, err := os.Stat(filepath.Join(r.Dir, "report.html")); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
	}
	if flips != 1 {
		t.Errorf("%d flip-averaged rungs in %v, want 1", flips, names)
	}
	index, err := os.ReadFile(filepath.Join(filepath.Dir(sum.Index), "index.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(string(index), w) {
			t.Errorf("index.md does not mention %s", w)
		}
	}
}

// TestRunSeeds trains a rung with two seeds: two runs, their mean and spread in the
// summary and on the comparison page.
func TestRunSeeds(t *testing.T) {
	src := fixtures.Photos(t, 40)
	p := Quick()
	p.Size, p.PerClass, p.Epochs, p.Batch = 32, 0, 1, 8
	opts := Options{Data: src, Dir: t.TempDir(), Profile: p, Seed: 5, Seeds: 2, Archs: []string{"vgg1"}, Backbones: []string{}, Provider: "cpu"}
	sum, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Rungs) != 2 || sum.Rungs[0].Seed != 5 || sum.Rungs[1].Seed != 6 {
		t.Fatalf("rungs %+v, want vgg1 with seeds 5 and 6", sum.Rungs)
	}
	if len(sum.Seeds) != 1 || sum.Seeds[0].Name != "vgg1" || len(sum.Seeds[0].Accuracies) != 2 {
		t.Fatalf("seed summary %+v", sum.Seeds)
	}
	md, err := os.ReadFile(filepath.Join(filepath.Dir(sum.Index), "index.md"))
	if err != nil || !strings.Contains(string(md), "## Over seeds") || !strings.Contains(string(md), "| vgg1 | 2 | 5: ") {
		t.Errorf("index.md lacks the seeds of vgg1 (%v):\n%s", err, md)
	}
}

// TestRunClasses runs the study on a folder per class of four CIFAR-10 classes: the ladder,
// the transfer rungs, the fine-tuned top block, the joined head and the flip, each with a
// softmax over the four classes, exported, scored on onnxruntime and documented.
func TestRunClasses(t *testing.T) {
	classes := []string{"automobile", "bird", "frog", "ship"}
	src := fixtures.ClassPhotos(t, "cifar-10/train", 50, classes...) // 10 test photos per class
	p := Quick().WithExtras()
	p.Size, p.TransferSize, p.PerClass, p.TransferPerClass, p.Epochs, p.HeadEpochs, p.Batch, p.LR = 32, 96, 0, 0, 1, 10, 8, 0.001
	p.Backbones = []string{"mobilenet-v1-075", "mobilenet-v2-035"}
	p.FineTune = []FineTune{{Backbone: "mobilenet-v2-035", From: "block_16_project_BN", Head: "dense:1:sigmoid", Epochs: 10, LR: 1e-3}}
	var notes []string
	opts := Options{
		Data: src, Dir: t.TempDir(), Profile: p, Seed: 1, Archs: []string{"vgg1"},
		Backbone: backbones.Options{CacheDir: t.TempDir()},
		BackboneFiles: map[string]string{
			"mobilenet-v1-075": fixtures.Model(t, "mobilenet_v1_0.75_224"),
			"mobilenet-v2-035": fixtures.Model(t, "teachable-machine-export"),
		},
		Provider: "cpu",
		Notify:   func(msg string) { notes = append(notes, msg) },
	}
	sum, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, strings.Join(notes, "\n"))
	}
	ran := 0
	for _, r := range sum.Rungs {
		if r.Skipped != "" {
			continue
		}
		ran++
		cfg, _, err := runs.ReadConfig(r.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cfg.Classes, classes) {
			t.Errorf("%s: classes %q, want %q", r.Name, cfg.Classes, classes)
		}
		c, err := classifier.Load(filepath.Join(r.Dir, runs.ONNXFile), classifier.WithProvider("cpu"))
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		if !slices.Equal(c.Labels(), classes) {
			t.Errorf("%s: model labels %q", r.Name, c.Labels())
		}
		c.Close()
		if !strings.HasSuffix(r.Name, "-flip") && r.MaxDiff > 1e-5 {
			t.Errorf("%s: onnxruntime and Gorgonia differ by %g", r.Name, r.MaxDiff)
		}
		t.Logf("%s: test accuracy %.3f [%.3f, %.3f] on %d photos", r.Name, r.Accuracy, r.AccuracyLow, r.AccuracyHigh, r.TestPhotos)
		if r.TestPhotos != 40 {
			t.Errorf("%s: %d test photos, want 40", r.Name, r.TestPhotos)
		}
		if r.Kind == runs.Transfer {
			fixtures.AboveChance(t, r.Name, int(math.Round(r.Accuracy*float64(r.TestPhotos))), r.TestPhotos, 0.25)
		}
		if _, err := os.Stat(filepath.Join(r.Dir, "report.html")); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
	}
	if ran != 6 { // vgg1, two heads, the fine-tuned block, the joined head, the flip
		var names []string
		for _, r := range sum.Rungs {
			names = append(names, r.Name+" "+r.Skipped)
		}
		t.Errorf("%d rungs ran: %q", ran, names)
	}
}
