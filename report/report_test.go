package report

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/catdog-ml/catdog/metrics"
	"github.com/catdog-ml/catdog/runs"
)

// fakePhotos is a prepared dataset of generated photos: row i is a gradient tinted by i.
type fakePhotos struct {
	size   int
	closed *int
}

func (f fakePhotos) Size() int { return f.size }

func (f fakePhotos) Image(i int, dst []uint8) ([]uint8, error) {
	if i < 0 || i >= 1000 {
		return nil, fmt.Errorf("image %d outside 0..999", i)
	}
	if n := f.size * f.size * 3; cap(dst) < n {
		dst = make([]uint8, n)
	} else {
		dst = dst[:n]
	}
	for y := range f.size {
		for x := range f.size {
			p := (y*f.size + x) * 3
			dst[p], dst[p+1], dst[p+2] = uint8(x*255/f.size), uint8(y*255/f.size), uint8(i*37)
		}
	}
	return dst, nil
}

func (f fakePhotos) File(i int) string { return fmt.Sprintf("train/cat.%d.jpg", i) }

// Split returns the test split: rows 1, 4, 7, ... (200 of them).
func (f fakePhotos) Split(name string) []int64 {
	if name != "test" {
		return nil
	}
	s := make([]int64, 200)
	for i := range s {
		s[i] = int64(3*i + 1)
	}
	return s
}

// Labels gives test photo i (row 3i+1) the label i%2, like fakeRun.
func (f fakePhotos) Labels() []uint8 {
	l := make([]uint8, 1000)
	for j := 1; j < len(l); j += 3 {
		l[j] = uint8((j - 1) / 3 % 2)
	}
	return l
}

func (f fakePhotos) Close() error { *f.closed++; return nil }

// fakeRun builds a consistent run: test predictions drawn so that about skill of them
// are right, a history that learns, a layer table, saved into dir.
func fakeRun(t *testing.T, dir, name, arch, kind string, skill float64, epochs int, seed uint64) *Run {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	const n = 200
	r := &Run{
		Dir: dir, Name: name, Arch: arch, Kind: kind, Description: "a test network",
		Data: "/data/prepared", InputSize: 64, Created: time.Date(2026, 11, 24, 15, 2, 0, 0, time.UTC),
		Config:      map[string]any{"epochs": epochs, "batch": 32, "optimizer": "adam", "lr": 0.001, "seed": seed},
		Environment: Environment{GoVersion: "go1.26", OS: "linux/amd64", Cores: 2, Engine: "gorgonia", BLAS: "openblas"},
		Layers: []runs.Layer{
			{Name: "conv1", Kind: "conv", Spec: "conv:32:3:1", Output: []int{32, 64, 64}, Params: 896},
			{Name: "relu1", Kind: "relu", Spec: "relu", Output: []int{32, 64, 64}},
			{Name: "pool1", Kind: "maxpool", Spec: "maxpool:2", Output: []int{32, 32, 32}},
			{Name: "bn1", Kind: "batchnorm", Spec: "batchnorm", Output: []int{32, 32, 32}, Params: 64, Frozen: 64},
			{Name: "flatten", Kind: "flatten", Spec: "flatten", Output: []int{32768}},
			{Name: "dense1", Kind: "dense", Spec: "dense:128", Output: []int{128}, Params: 4194432},
			{Name: "dense2", Kind: "dense", Spec: "dense:1", Output: []int{1}, Params: 129},
			{Name: "sigmoid", Kind: "sigmoid", Spec: "sigmoid", Output: []int{1}},
		},
	}
	if kind == runs.Transfer {
		r.Backbone, r.Weights, r.Features = "vgg16", "imagenet", "/data/prepared/features/vgg16"
		r.Environment.ORTVersion, r.Environment.Provider, r.Environment.FeaturesPerSec = "1.30.0", "cpu", 6.5
		r.Layers = append([]runs.Layer{{Name: "vgg16", Kind: "backbone", Output: []int{512, 2, 2}, Frozen: 14714688}}, r.Layers[4:]...)
	}
	for e := 1; e <= epochs; e++ {
		f := float64(e)
		r.History.Epochs = append(r.History.Epochs, runs.Epoch{
			Epoch: e, TrainLoss: 0.69 * math.Exp(-f/4), ValidLoss: 0.69*math.Exp(-f*skill/4) + 1.1 - skill,
			TrainAcc: 1 - 0.5*math.Exp(-f/3), ValidAcc: skill - 0.4*math.Exp(-f/2), Seconds: 30 + f, ImagesPerSec: 80,
		})
	}
	r.History.BestEpoch = epochs
	r.Export = &runs.ExportCheck{Runtime: "onnxruntime 1.30.0 (cpu)", Engine: "gorgonia v0.9.18 float32", Images: n, SameClass: n, MaxDiff: 3e-7}
	for i := range n {
		l := uint8(i % 2)
		p := 0.5 + 0.5*rng.Float64()
		if rng.Float64() > skill {
			p = 1 - p
		}
		if l == 0 {
			p = 1 - p
		}
		r.Labels = append(r.Labels, l)
		r.Probs = append(r.Probs, float32(p))
	}
	if err := Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func opts() (Options, *int) {
	closed := new(int)
	return Options{
		OpenPhotos: func(dir string) (Photos, error) { return fakePhotos{size: 64, closed: closed}, nil },
		Now:        time.Date(2026, 11, 24, 16, 0, 0, 0, time.UTC),
	}, closed
}

func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vgg3-1")
	want := fakeRun(t, dir, "vgg3-1", "vgg3", runs.Scratch, 0.8, 5, 1)
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != want.Name || got.Arch != want.Arch || len(got.Layers) != len(want.Layers) ||
		len(got.History.Epochs) != 5 || got.History.BestEpoch != 5 || len(got.Probs) != 200 || got.Kind != runs.Scratch || got.Weights != "none" || got.InputSize != 64 {
		t.Fatalf("loaded %s %s %s %s %d, %d layers, %d epochs (best %d), %d predictions", got.Name, got.Arch, got.Kind, got.Weights, got.InputSize,
			len(got.Layers), len(got.History.Epochs), got.History.BestEpoch, len(got.Probs))
	}
	if got.Test == nil || got.Test.Accuracy != want.Test.Accuracy || got.Test.ClassificationReport != want.Test.ClassificationReport {
		t.Errorf("test metrics changed on the way: %+v", got.Test)
	}
	if got.Config["optimizer"] != "adam" || got.Environment.BLAS != "openblas" || got.Environment.GoVersion != "go1.26" || !got.Created.Equal(want.Created) {
		t.Errorf("config %v", got.Config)
	}
	// Without metrics.json, Load scores the predictions itself.
	if err := os.Remove(filepath.Join(dir, runs.MetricsFile)); err != nil {
		t.Fatal(err)
	}
	again, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Test == nil || again.Test.Accuracy != want.Test.Accuracy {
		t.Errorf("recomputed metrics %+v, want accuracy %v", again.Test, want.Test.Accuracy)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a run folder") {
		t.Errorf("empty folder: %v", err)
	}
	os.WriteFile(filepath.Join(dir, runs.ConfigFile), []byte(`{"name": `), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), runs.ConfigFile) {
		t.Errorf("broken config: %v", err)
	}
	r := &Run{Dir: t.TempDir(), Probs: []float32{0.5}, Labels: nil}
	if err := Save(r); err == nil {
		t.Error("saved predictions without labels")
	}
	r = &Run{}
	if err := Save(r); err == nil {
		t.Error("saved predictions without labels")
	}
}

var dataURI = regexp.MustCompile(`src="data:image/png;base64,([A-Za-z0-9+/=]+)"`)

// checkSelfContained fails on any http(s) source or link but allowed ones.
func checkSelfContained(t *testing.T, name, html string) {
	t.Helper()
	for _, m := range regexp.MustCompile(`(?i)(src|href)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(html, -1) {
		u := strings.ToLower(m[2])
		if strings.HasPrefix(u, "http:") || strings.HasPrefix(u, "https:") || strings.HasPrefix(u, "//") {
			t.Errorf("%s refers to %s", name, m[2])
		}
		if m[1] == "src" && !strings.HasPrefix(u, "data:") {
			t.Errorf("%s loads %s from outside the file", name, m[2])
		}
	}
	if strings.Contains(html, "<link") || strings.Contains(html, "@import") {
		t.Errorf("%s links a style sheet", name)
	}
}

// checkImages decodes every embedded picture and returns how many there are.
func checkImages(t *testing.T, name, html string) int {
	t.Helper()
	ms := dataURI.FindAllStringSubmatch(html, -1)
	for i, m := range ms {
		b, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil {
			t.Fatalf("%s: picture %d: %v", name, i, err)
		}
		im, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: picture %d is not a PNG: %v", name, i, err)
		}
		if im.Bounds().Dx() < 200 || im.Bounds().Dy() < 100 {
			t.Errorf("%s: picture %d is only %v", name, i, im.Bounds())
		}
	}
	return len(ms)
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	if out := os.Getenv("CATDOG_REPORT_OUT"); out != "" {
		dir = filepath.Join(out, "vgg3-20261124-1502")
	}
	r := fakeRun(t, dir, "vgg3-20261124-1502", "vgg3", runs.Scratch, 0.82, 12, 3)
	o, closed := opts()
	if err := Write(dir, o); err != nil {
		t.Fatal(err)
	}
	html, md := read(t, filepath.Join(dir, runs.HTMLFile)), read(t, filepath.Join(dir, runs.MarkdownFile))
	checkSelfContained(t, runs.HTMLFile, html)
	if n := checkImages(t, runs.HTMLFile, html); n != 6 {
		t.Errorf("%d pictures in the HTML, want 6 (network, loss, accuracy, confusion, ROC, wrong photos)", n)
	}
	if *closed != 1 {
		t.Errorf("photos closed %d times, want 1", *closed)
	}
	report := r.Test.Text(2)
	if !strings.Contains(html, "<pre>"+report+"</pre>") {
		t.Errorf("HTML lacks the classification report:\n%s", report)
	}
	if !strings.Contains(md, "```\n"+report+"```") {
		t.Errorf("Markdown lacks the classification report")
	}
	want := "onnxruntime 1.30.0 (cpu) against gorgonia v0.9.18 float32: the same class for 200 of 200 test photos, probabilities within 3.0e-07"
	if !strings.Contains(md, want) || !strings.Contains(html, want) {
		t.Errorf("the documents do not say how the export was checked (%q)", want)
	}
	if got, err := Load(dir); err != nil || got.Export == nil || *got.Export != *r.Export {
		t.Errorf("export check read back as %+v (%v), want %+v", got.Export, err, r.Export)
	}
	for _, h := range []string{"Architecture", "Training", "Test split", "Most confidently wrong", "Configuration and environment"} {
		if !strings.Contains(html, ">"+h+"</h2>") {
			t.Errorf("HTML lacks section %q", h)
		}
		if !strings.Contains(md, "\n## "+h+"\n") {
			t.Errorf("Markdown lacks section %q", h)
		}
	}
	for _, l := range r.Layers {
		if !strings.Contains(html, "<td>"+l.Name+"</td><td>"+l.Kind+"</td>") {
			t.Errorf("HTML lacks layer row %s", l.Name)
		}
		if !strings.Contains(md, "| "+l.Name+" | "+l.Kind+" | `"+l.Spec+"` | "+layerShape(l)+" | ") {
			t.Errorf("Markdown lacks layer row %s", l.Name)
		}
	}
	for _, s := range []string{"4,195,521 trainable, 64 running statistics", "80.2 %", "Brownlee", pct(r.Test.Accuracy), fmt.Sprintf("%.3f", r.Test.AUC), "openblas", "adam"} {
		if !strings.Contains(html, s) {
			t.Errorf("HTML lacks %q", s)
		}
	}
	for _, f := range []string{"network.png", "loss.png", "accuracy.png", "confusion.png", "roc.png", "wrong.png"} {
		if !strings.Contains(md, "]("+f+")") {
			t.Errorf("Markdown does not show %s", f)
		}
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// The wrong photos are the wrong predictions, most confident first.
	wrong := 0
	for i, p := range r.Probs {
		if (p >= 0.5) != (r.Labels[i] == 1) {
			wrong++
		}
	}
	if got := strings.Count(md, "| cat."); got != min(wrong, 12) {
		t.Errorf("Markdown has %d wrong photo rows, want %d", got, min(wrong, 12))
	}
	if got := strings.Count(html, `<td class="mono">cat.`); got != min(wrong, 12) {
		t.Errorf("%d wrong photo rows, want %d", got, min(wrong, 12))
	}
}

func TestWriteWithoutRecords(t *testing.T) {
	dir := t.TempDir()
	r := &Run{Dir: dir, Name: "bare", Arch: "vgg1", Kind: runs.Scratch}
	if err := Save(r); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	html := read(t, filepath.Join(dir, runs.HTMLFile))
	for _, s := range []string{"No layer table", "No training history", "not scored on the test split"} {
		if !strings.Contains(html, s) {
			t.Errorf("HTML does not say %q", s)
		}
	}
	if n := checkImages(t, runs.HTMLFile, html); n != 0 {
		t.Errorf("%d pictures for a run without records", n)
	}
	// Predictions but no photo reader: the wrong ones are listed, the photos explained away.
	r2 := fakeRun(t, t.TempDir(), "x", "vgg2", runs.Scratch, 0.7, 3, 5)
	if err := WriteRun(r2, Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(read(t, filepath.Join(r2.Dir, runs.HTMLFile)), "no dataset reader was given") {
		t.Error("missing photo reader not explained")
	}
}

func TestIndex(t *testing.T) {
	runDirs := t.TempDir()
	if out := os.Getenv("CATDOG_REPORT_OUT"); out != "" {
		runDirs = out
	}
	o, _ := opts()
	made := []*Run{
		fakeRun(t, filepath.Join(runDirs, "vgg1-20261124-1400"), "vgg1-20261124-1400", "vgg1", runs.Scratch, 0.66, 8, 11),
		fakeRun(t, filepath.Join(runDirs, "vgg3-dropout-20261124-1430"), "vgg3-dropout-20261124-1430", "vgg3-dropout", runs.Scratch, 0.79, 15, 12),
		fakeRun(t, filepath.Join(runDirs, "vgg16-head-20261124-1500"), "vgg16-head-20261124-1500", "vgg16-head", runs.Transfer, 0.95, 6, 13),
	}
	if err := os.MkdirAll(filepath.Join(runDirs, "broken-run"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(runDirs, "broken-run", runs.ConfigFile), []byte("{"), 0o644)
	os.MkdirAll(filepath.Join(runDirs, "not-a-run"), 0o755)
	skipped := []Skipped{{Name: "vgg16", Reason: "ImageNet weights not found", Fix: "catdog backbones download vgg16, or pass --file"}}
	var progress []int
	err := Index(context.Background(), runDirs, IndexOptions{Skipped: skipped, Report: o, Progress: func(d, n int) { progress = append(progress, d) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(progress) != 4 {
		t.Errorf("progress %v, want 4 calls", progress)
	}
	html, md := read(t, filepath.Join(runDirs, IndexHTML)), read(t, filepath.Join(runDirs, IndexMarkdown))
	checkSelfContained(t, IndexHTML, html)
	if n := checkImages(t, IndexHTML, html); n != 4 {
		t.Errorf("%d pictures in the index, want 4", n)
	}
	// Every run is listed with its figures and a link to its document, best first.
	last := -1
	for _, want := range []*Run{made[2], made[1], made[0]} {
		r, err := Load(want.Dir)
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Base(r.Dir)
		i := strings.Index(html, `<a href="`+base+`/report.html">`+r.Arch+`</a>`)
		if i < 0 {
			t.Fatalf("index.html does not link %s", base)
		}
		if i < last {
			t.Errorf("%s is listed out of order", base)
		}
		last = i
		rowEnd := strings.Index(html[i:], "</tr>")
		row := html[i : i+rowEnd]
		for _, s := range []string{pct(r.Test.Accuracy), fmt.Sprintf("%.3f", r.Test.MacroAvg.F1), fmt.Sprintf("%.3f", r.Test.AUC), fmt.Sprintf("%.3f", r.Test.LogLoss), duration(r.History.Seconds())} {
			if !strings.Contains(row, s) {
				t.Errorf("row of %s lacks %q: %s", base, s, row)
			}
		}
		if !strings.Contains(md, "["+r.Arch+"]("+base+"/report.md)") {
			t.Errorf("index.md does not link %s", base)
		}
		if _, err := os.Stat(filepath.Join(r.Dir, runs.HTMLFile)); err != nil {
			t.Errorf("the run's document was not written: %v", err)
		}
	}
	for _, s := range []string{"97.6 %", "72.3 %", "81.3 %", "ImageNet weights not found", "catdog backbones download vgg16, or pass --file", "broken-run", "14.7M frozen"} {
		if !strings.Contains(html, s) || !strings.Contains(md, s) {
			t.Errorf("index lacks %q", s)
		}
	}
	if strings.Contains(html, "not-a-run") {
		t.Error("a folder without config.json is listed")
	}
	// A run whose record changed after its report gets a new report; the others keep theirs.
	past := time.Now().Add(-time.Hour)
	outdated, current := filepath.Join(made[0].Dir, runs.HTMLFile), filepath.Join(made[1].Dir, runs.HTMLFile)
	for _, f := range []string{outdated, current} {
		os.Chtimes(f, past, past)
	}
	os.Chtimes(filepath.Join(made[1].Dir, runs.HistoryFile), past.Add(-time.Hour), past.Add(-time.Hour))
	for _, f := range []string{runs.ConfigFile, runs.ModelFile, runs.PredictionsFile, runs.LabelsFile} {
		os.Chtimes(filepath.Join(made[1].Dir, f), past.Add(-time.Hour), past.Add(-time.Hour))
	}
	if !stale(made[0].Dir) || stale(made[1].Dir) {
		t.Fatalf("stale: %v %v, want true false", stale(made[0].Dir), stale(made[1].Dir))
	}
	if err := Index(context.Background(), runDirs, IndexOptions{Skipped: skipped, Report: o}); err != nil {
		t.Fatal(err)
	}
	if stale(made[0].Dir) {
		t.Error("the outdated report was not written again")
	}
	if st, _ := os.Stat(current); st.ModTime().After(past.Add(time.Second)) {
		t.Error("an up-to-date report was written again")
	}
	// Skipped models saved beside the runs come back when none are passed.
	if err := WriteSkipped(runDirs, []Skipped{{Name: "resnet-gap", Reason: "not in the quick profile", Fix: "catdog run --profile full"}}); err != nil {
		t.Fatal(err)
	}
	if err := Index(context.Background(), runDirs, IndexOptions{Report: o}); err != nil {
		t.Fatal(err)
	}
	if html := read(t, filepath.Join(runDirs, IndexHTML)); !strings.Contains(html, "catdog run --profile full") {
		t.Error("skipped.json not read")
	}
	// A cancelled context stops the work.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Index(ctx, runDirs, IndexOptions{}); err == nil {
		t.Error("cancelled Index succeeded")
	}
	if err := Index(context.Background(), filepath.Join(runDirs, "nope"), IndexOptions{}); err == nil {
		t.Error("missing runDirs folder accepted")
	}
}

func TestFormatting(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 14714688: "14,714,688"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
	for s, want := range map[float64]string{0: "—", 42: "42 s", 200: "3 min 20 s", 7500: "2 h 05 min"} {
		if got := duration(s); got != want {
			t.Errorf("duration(%v) = %q, want %q", s, got, want)
		}
	}
	_ = metrics.Dog
}

// TestLoadTrainingFormat reads a head run folder written the way finetune writes it
// (docs/training.md), by hand.
func TestLoadTrainingFormat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "head-20261124-150000")
	os.MkdirAll(dir, 0o755)
	files := map[string]string{
		runs.ConfigFile: `{"kind": "head", "arch": "head", "layers": "flatten,dense:128:relu,dropout:0.5,dense:1:sigmoid",
  "input_shape": [512, 7, 7], "data": "/d/features/vgg16", "epochs": 10, "batch": 32, "optimizer": "sgd",
  "lr": 0.001, "momentum": 0.9, "patience": 0, "seed": 1, "layout": "NCHW",
  "features": {"format": 1, "backbone": "vgg16", "input_size": 224, "data": "/d", "provider": "cpu",
    "onnxruntime_version": "1.30.0", "images_per_second": 6.4, "dtype": "float32"},
  "backbone": "vgg16", "started": "2026-11-24T15:00:00Z", "go": "go1.26.8", "engine": "gorgonia v0.9.18 float32"}`,
		runs.ModelFile: `{"arch": "head", "layers": "flatten,dense:128:relu,dropout:0.5,dense:1:sigmoid", "input_shape": [512, 7, 7],
  "table": [{"name": "flatten", "kind": "flatten", "spec": "flatten", "output_shape": [25088], "params": 0, "frozen": 0},
    {"name": "dense1", "kind": "dense", "spec": "dense:128:relu", "output_shape": [128], "params": 3211392, "frozen": 0},
    {"name": "dropout1", "kind": "dropout", "spec": "dropout:0.5", "output_shape": [128], "params": 0, "frozen": 0},
    {"name": "dense2", "kind": "dense", "spec": "dense:1:sigmoid", "output_shape": [1], "params": 129, "frozen": 0}],
  "params": 3211521, "non_trainable": 0, "backbone": "vgg16", "backbone_params": 14714688}`,
		runs.HistoryFile: `{"epochs": [{"epoch": 1, "train_loss": 0.3, "train_accuracy": 0.88, "valid_loss": 0.2, "valid_accuracy": 0.93,
  "seconds": 12.5, "images_per_second": 640, "best": true}], "best_epoch": 1, "best_valid_loss": 0.2,
  "best_valid_accuracy": 0.93, "stopped_early": false}`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != runs.Transfer || r.Arch != "vgg16-head" || r.Backbone != "vgg16" || r.Weights != "imagenet" ||
		r.Data != "/d" || r.Features != "/d/features/vgg16" || r.InputSize != 224 {
		t.Errorf("run %s: kind %s arch %s backbone %s weights %s data %s features %s size %d", r.Name, r.Kind, r.Arch, r.Backbone, r.Weights, r.Data, r.Features, r.InputSize)
	}
	if tr, fr, other := r.Params(); tr != 3211521 || fr != 14714688 || other != 0 {
		t.Errorf("params %d trainable, %d frozen, %d other", tr, fr, other)
	}
	if len(r.Layers) != 5 || r.Layers[0].Kind != "backbone" || !isFrozen(r.Layers[0]) || r.Layers[2].Kind != "dense" {
		t.Errorf("layers %+v", r.Layers)
	}
	if e := r.History.Epochs; len(e) != 1 || e[0].ValidAcc != 0.93 || e[0].ImagesPerSec != 640 || r.History.BestEpoch != 1 {
		t.Errorf("history %+v", r.History)
	}
	if r.Environment.Engine != "gorgonia v0.9.18 float32" || r.Environment.ORTVersion != "1.30.0" || r.Environment.FeaturesPerSec != 6.4 {
		t.Errorf("environment %+v", r.Environment)
	}
	if r.Config["optimizer"] != "sgd" || r.Config["layers"] == nil || r.Config["kind"] != nil {
		t.Errorf("config %v", r.Config)
	}
	if r.Test != nil {
		t.Error("test metrics without predictions")
	}
	if err := WriteRun(r, Options{}); err != nil {
		t.Fatal(err)
	}
	html := read(t, filepath.Join(dir, runs.HTMLFile))
	for _, s := range []string{"97.6 %", "14,714,688 frozen", "not scored on the test split", "6.4 images/s"} {
		if !strings.Contains(html, s) {
			t.Errorf("report lacks %q", s)
		}
	}

	// finetune also writes the backbone as the table's first row: counted once.
	withRow := strings.Replace(files[runs.ModelFile], `"table": [`,
		`"table": [{"name": "backbone", "spec": "vgg16", "output_shape": [512, 7, 7], "params": 0, "frozen": 14714688},`, 1)
	if err := os.WriteFile(filepath.Join(dir, runs.ModelFile), []byte(withRow), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tr, fr, _ := r.Params(); tr != 3211521 || fr != 14714688 || len(r.Layers) != 5 {
		t.Errorf("with a backbone row: params %d trainable, %d frozen, %d layers", tr, fr, len(r.Layers))
	}
}

// TestIndexUncertainty: each row has its 95 % interval and says whether it is within noise
// of the best; a model run with several seeds gets its mean and spread; a rerun of a model
// with the same seed replaces its row.
func TestIndexUncertainty(t *testing.T) {
	runDirs := t.TempDir()
	o, _ := opts()
	mk := func(dir, arch string, skill float64, seed uint64, created time.Time) *Run {
		r := fakeRun(t, filepath.Join(runDirs, dir), dir, arch, runs.Scratch, skill, 4, seed)
		r.Created = created
		if err := Save(r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	day := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	best := mk("vgg3-a", "vgg3", 0.92, 1, day)
	mk("vgg3-b", "vgg3", 0.90, 2, day)
	mk("vgg1-old", "vgg1", 0.85, 1, day)
	mk("vgg1-new", "vgg1", 0.88, 1, day.Add(time.Hour)) // the same model and seed, later
	far := mk("vgg2-a", "vgg2", 0.6, 1, day)
	if err := Index(context.Background(), runDirs, IndexOptions{Report: o}); err != nil {
		t.Fatal(err)
	}
	md := read(t, filepath.Join(runDirs, IndexMarkdown))
	if strings.Contains(md, "vgg1-old") || !strings.Contains(md, "vgg1-new") || !strings.Contains(md, "1 older run of a model with the same seed and data is not listed") {
		t.Errorf("the older run of vgg1 with seed 1 should be replaced by the newer:\n%s", md)
	}
	rb, _ := Load(best.Dir)
	if other, _ := Load(filepath.Join(runDirs, "vgg3-b")); other.Test.Accuracy > rb.Test.Accuracy {
		rb = other
	}
	second := "vgg3-b"
	if rb.Dir != best.Dir {
		second = "vgg3-a"
	}
	lo, hi, _ := rb.Interval()
	if !strings.Contains(md, intervalText(lo, hi)+" | best |") {
		t.Errorf("the best row lacks its interval %s and the mark best", intervalText(lo, hi))
	}
	rf, _ := Load(far.Dir)
	flo, fhi, _ := rf.Interval()
	if fhi >= lo {
		t.Fatalf("test setup: vgg2's interval [%v, %v] overlaps the best's [%v, %v]", flo, fhi, lo, hi)
	}
	rowOf := func(name string) string {
		i := strings.Index(md, "]("+name+"/report.md)")
		if i < 0 {
			t.Fatalf("no row for %s", name)
		}
		return md[i : i+strings.Index(md[i:], "\n")]
	}
	if row := rowOf("vgg2-a"); strings.Contains(row, "within noise") || !strings.Contains(row, intervalText(flo, fhi)) {
		t.Errorf("vgg2, far below the best, is marked within noise or lacks its interval: %s", row)
	}
	if row := rowOf(second); !strings.Contains(row, "within noise") {
		t.Errorf("the other vgg3 run, close to the best, is not within noise: %s", row)
	}
	r1, _ := Load(best.Dir)
	r2, _ := Load(filepath.Join(runDirs, "vgg3-b"))
	mean, sd := meanSD([]float64{r1.Test.Accuracy, r2.Test.Accuracy})
	want := fmt.Sprintf("| vgg3 | 2 | 1: %.1f, 2: %.1f | **%.1f ± %.1f %%** |", 100*r1.Test.Accuracy, 100*r2.Test.Accuracy, 100*mean, 100*sd)
	if !strings.Contains(md, "## Over seeds") || !strings.Contains(md, want) {
		t.Errorf("index.md lacks the seeds row %q:\n%s", want, md)
	}
	if rep := read(t, filepath.Join(rb.Dir, runs.MarkdownFile)); !strings.Contains(rep, intervalText(lo, hi)) || !strings.Contains(rep, "95 % interval, 200 test photos") {
		t.Errorf("the run's report lacks its interval")
	}
}
