package report

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/runs"
)

// cifar are CIFAR-10's classes in label order.
var cifar = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// softmaxRow draws a row of probabilities of c classes whose most probable class is the
// true label with probability about skill: random logits, one of them raised.
func softmaxRow(rng *rand.Rand, label, c int, skill float64) []float32 {
	logits := make([]float64, c)
	for j := range logits {
		logits[j] = rng.NormFloat64()
	}
	top := label
	if rng.Float64() > skill {
		top = (label + 1 + rng.IntN(c-1)) % c
	}
	logits[top] += 2 + 2*rng.Float64()
	s := 0.0
	for j, l := range logits {
		logits[j] = math.Exp(l)
		s += logits[j]
	}
	row := make([]float32, c)
	for j, e := range logits {
		row[j] = float32(e / s)
	}
	return row
}

// classRun writes a run folder of several classes by hand, the way the training engine
// writes one (config.json with its classes and class weights, model.json, history.json,
// predictions (N, C) and labels), and returns its test predictions. labels are the test
// photos' labels (nil: 300 of them, i%C).
func classRun(t *testing.T, dir, arch, data string, classes []string, weights []float64, labels []uint8, skill float64, seed uint64) (probs []float32, _ []uint8) {
	t.Helper()
	c := len(classes)
	if labels == nil {
		for i := range 300 {
			labels = append(labels, uint8(i%c))
		}
	}
	rng := rand.New(rand.NewPCG(seed, 19))
	for _, l := range labels {
		probs = append(probs, softmaxRow(rng, int(l), c, skill)...)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := runs.Config{Kind: runs.Scratch, Arch: arch, Input: []int{3, 32, 32}, Data: data, Epochs: 6, Batch: 32,
		Optimizer: "adam", LR: 0.001, Seed: seed, Classes: classes, ClassWeights: weights,
		Started: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC), Go: "go1.26", Engine: "gorgonia v0.9.18 float32"}
	model := runs.Model{Arch: arch, Input: []int{3, 32, 32}, Table: []runs.Layer{
		{Name: "conv1", Kind: "conv", Spec: "conv:16:3:1", Output: []int{16, 32, 32}, Params: 448},
		{Name: "pool1", Kind: "maxpool", Spec: "maxpool:2", Output: []int{16, 16, 16}},
		{Name: "flatten", Kind: "flatten", Spec: "flatten", Output: []int{4096}},
		{Name: "dense1", Kind: "dense", Spec: fmt.Sprintf("dense:%d", c), Output: []int{c}, Params: 4096*c + c},
		{Name: "softmax", Kind: "softmax", Spec: "softmax", Output: []int{c}},
	}}
	var h runs.History
	for e := 1; e <= 4; e++ {
		f := float64(e)
		h.Epochs = append(h.Epochs, runs.Epoch{Epoch: e, TrainLoss: 2.3 * math.Exp(-f/3), ValidLoss: 2.3*math.Exp(-f/4) + 0.3,
			TrainAcc: 1 - 0.9*math.Exp(-f/3), ValidAcc: skill - 0.6*math.Exp(-f/2), Seconds: 20, ImagesPerSec: 150})
	}
	h.BestEpoch = 4
	for name, v := range map[string]any{runs.ConfigFile: cfg, runs.ModelFile: model, runs.HistoryFile: h} {
		if err := runs.WriteJSON(dir, name, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := runs.WriteTest(dir, labels, probs); err != nil {
		t.Fatal(err)
	}
	return probs, labels
}

// TestWriteClasses: the document of a run of the ten CIFAR-10 classes shows the 10×10
// confusion matrix in counts and by row, a row per class, the top-3 and top-5 accuracies
// with their intervals, one ROC curve per class with the macro AUC, the per-class bars,
// the most confident mistakes of each class and the class weights.
func TestWriteClasses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cnn10-20261206-0900")
	if out := os.Getenv("CATDOG_REPORT_OUT"); out != "" {
		dir = filepath.Join(out, "cnn10-20261206-0900")
	}
	weights := []float64{1, 2, 1, 1.5, 1, 1, 1, 1, 0.5, 1}
	probs, labels := classRun(t, dir, "cnn10", "/data/cifar-10", cifar, weights, nil, 0.7, 1)
	o, closed := opts()
	o.OpenPhotos = nil
	if err := Write(dir, o); err != nil {
		t.Fatal(err)
	}
	if *closed != 0 {
		t.Errorf("photos opened without a reader")
	}
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := r.Test
	if !slices.Equal(r.Classes, cifar) || !slices.Equal(r.ClassWeights, weights) || m == nil || len(m.Confusion) != 10 || len(m.Confusion[9]) != 10 || len(m.OneVsRest) != 10 {
		t.Fatalf("loaded classes %v, weights %v, report %+v", r.Classes, r.ClassWeights, m)
	}
	if _, ok := r.Config["classes"]; ok {
		t.Error("the classes are left among the other settings too")
	}
	html, md := read(t, filepath.Join(dir, runs.HTMLFile)), read(t, filepath.Join(dir, runs.MarkdownFile))
	checkSelfContained(t, runs.HTMLFile, html)
	if n := checkImages(t, runs.HTMLFile, html); n != 7 {
		t.Errorf("%d pictures in the HTML, want 7 (network, loss, accuracy, confusion in counts and by row, ROC, per-class bars)", n)
	}
	for _, f := range []string{"network.png", "loss.png", "accuracy.png", "confusion.png", "confusion_normalized.png", "roc.png", "per_class.png"} {
		if !strings.Contains(md, "]("+f+")") {
			t.Errorf("Markdown does not show %s", f)
		}
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		im, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if f == "confusion.png" && im.Bounds().Dx() < 700 {
			t.Errorf("the 10×10 confusion matrix is %v, too small for ten classes", im.Bounds())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "wrong.png")); err == nil {
		t.Error("wrong.png written without photos")
	}
	report := m.Text(2)
	if !strings.Contains(html, "<pre>"+report+"</pre>") || !strings.Contains(md, "```\n"+report+"```") {
		t.Errorf("the documents lack the classification report of ten classes:\n%s", report)
	}
	// A row per class: its test photos, precision, recall, F1 and one-vs-rest AUC.
	for k, name := range cifar {
		s := m.PerClass[k]
		cells := []string{name, fmt.Sprint(s.Support), fmt.Sprintf("%.2f", s.Precision), fmt.Sprintf("%.2f", s.Recall), fmt.Sprintf("%.2f", s.F1), fmt.Sprintf("%.3f", m.OneVsRest[k].AUC)}
		if row := "| " + strings.Join(cells, " | ") + " | "; !strings.Contains(md, row) {
			t.Errorf("Markdown lacks the row of %s: %q", name, row)
		}
		if row := "<tr><td>" + cells[0] + `</td><td class="n">` + strings.Join(cells[1:], `</td><td class="n">`) + "</td>"; !strings.Contains(html, row) {
			t.Errorf("HTML lacks the row of %s: %q", name, row)
		}
	}
	if row := fmt.Sprintf("| **macro average** | 300 | %.2f | %.2f | %.2f | **%.3f** |", m.MacroAvg.Precision, m.MacroAvg.Recall, m.MacroAvg.F1, m.AUC); !strings.Contains(md, row) {
		t.Errorf("Markdown lacks the macro average %q", row)
	}
	// Top-1, top-3 and top-5 accuracies with their intervals.
	if len(m.TopK) != 3 || m.TopK[1].K != 3 || m.TopK[2].K != 5 {
		t.Fatalf("top-k %+v, want k 1, 3, 5", m.TopK)
	}
	for _, tk := range m.TopK {
		want := fmt.Sprintf("| top-%d | **%s** | %s | %d of 300 |", tk.K, pct(tk.Accuracy), intervalText(tk.Low, tk.High), tk.Correct)
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
		want = fmt.Sprintf(`<tr><td>top-%d</td><td class="n"><b>%s</b></td><td class="n">%s</td>`, tk.K, pct(tk.Accuracy), intervalText(tk.Low, tk.High))
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, s := range []string{"top-5 accuracy", "macro ROC AUC", "10: airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck",
		"airplane 1, automobile 2, bird 1, cat 1.5, deer 1, dog 1, frog 1, horse 1, ship 0.5, truck 1",
		"Confusion matrix by true class", "no dataset reader was given"} {
		if !strings.Contains(html, s) || !strings.Contains(md, s) {
			t.Errorf("the documents lack %q", s)
		}
	}
	if !strings.Contains(html, "columns the prediction (the most probable class)") {
		t.Error("HTML does not say how a prediction is made")
	}
	for _, s := range []string{"Brownlee", "threshold 0.5", "positive class"} {
		if strings.Contains(html, s) {
			t.Errorf("HTML of ten classes says %q", s)
		}
	}
	// The most confident mistakes, two of each class (20 by default), by true class.
	bad, pred, conf := mistakesByClass(labels, probs, 10, 0)
	if len(bad) != 20 {
		t.Fatalf("%d mistakes picked, want 20", len(bad))
	}
	for k, i := range bad {
		row := fmt.Sprintf("| %s | %.3f | %s |", cifar[pred[k]], conf[k], cifar[labels[i]])
		if !strings.Contains(md, row) {
			t.Errorf("Markdown lacks the mistake %q", row)
		}
	}
	if rows := tableRows(t, md, "| prediction | probability | truth |"); len(rows) != 20 {
		t.Errorf("Markdown's table of mistakes has %d rows, want 20", len(rows))
	}
}

// tableRows returns the rows of the Markdown table whose heading starts with head.
func tableRows(t *testing.T, md, head string) []string {
	t.Helper()
	i := strings.Index(md, head)
	if i < 0 {
		t.Fatalf("Markdown has no table %q", head)
	}
	table, _, _ := strings.Cut(md[i:], "\n\n")
	return strings.Split(strings.TrimSpace(table), "\n")[2:]
}

// TestMistakesByClass: the most confident mistake of each class first, then each one's
// second, a round's most confident first, listed by true class.
func TestMistakesByClass(t *testing.T) {
	// 3 classes; the rows of probabilities and the true labels.
	rows := [][]float32{
		{0.1, 0.8, 0.1}, // 0: wrong (1, 0.8)
		{0.2, 0.7, 0.1}, // 1: wrong (0.7, label 0)... see labels
		{0.6, 0.3, 0.1},
		{0.1, 0.1, 0.8},
		{0.5, 0.4, 0.1},
		{0.3, 0.3, 0.4},
		{0.4, 0.4, 0.2}, // a tie: class 0 predicted
	}
	labels := []uint8{0, 0, 1, 1, 2, 0, 1}
	var probs []float32
	for _, r := range rows {
		probs = append(probs, r...)
	}
	// Mistakes of class 0: 0 (0.8), 1 (0.7), 5 (0.4); of class 1: 3 (0.8), 2 (0.6), 6 (0.4); of class 2: 4 (0.5).
	tests := []struct {
		most int
		bad  []int
		pred []int
	}{
		{1, []int{0}, []int{1}},       // round 1: 0 (0.8) and 3 (0.8), index 0 first
		{2, []int{0, 3}, []int{1, 2}}, // by class: 0 then 1
		{3, []int{0, 3, 4}, []int{1, 2, 0}},
		{4, []int{0, 1, 3, 4}, []int{1, 1, 2, 0}}, // round 2: 1 (0.7) before 2 (0.6)
		{5, []int{0, 1, 3, 2, 4}, []int{1, 1, 2, 0, 0}},
		{100, []int{0, 1, 5, 3, 2, 6, 4}, []int{1, 1, 2, 2, 0, 0, 0}},
		{0, []int{0, 1, 5, 3, 2, 6, 4}, []int{1, 1, 2, 2, 0, 0, 0}}, // 0: 12 at least
	}
	for _, tt := range tests {
		bad, pred, conf := mistakesByClass(labels, probs, 3, tt.most)
		if !slices.Equal(bad, tt.bad) || !slices.Equal(pred, tt.pred) {
			t.Errorf("most %d: photos %v predicted %v, want %v predicted %v", tt.most, bad, pred, tt.bad, tt.pred)
		}
		for k, i := range bad {
			if want := float64(probs[i*3+pred[k]]); conf[k] != want {
				t.Errorf("most %d: photo %d's probability %v, want %v", tt.most, i, conf[k], want)
			}
		}
	}
}

// TestLoadClasses: a run's classes and class weights go through Save and Load, and
// predictions that do not fit the classes are refused with a clear error.
func TestLoadClasses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "yes-no")
	r := fakeRun(t, dir, "yes-no", "vgg3", runs.Scratch, 0.8, 3, 2)
	r.Classes, r.ClassWeights, r.Test = []string{"no", "yes"}, []float64{1, 3}, nil
	if err := Save(r); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Classes, r.Classes) || !slices.Equal(got.ClassWeights, r.ClassWeights) || !slices.Equal(got.Test.Classes, r.Classes) {
		t.Fatalf("classes %v, weights %v, report's classes %v", got.Classes, got.ClassWeights, got.Test.Classes)
	}
	if _, ok := ReferenceFor(got); ok {
		t.Error("a Dogs vs. Cats reference for a run of other classes")
	}
	v, err := buildRunView(got, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(v.Summary, kv{"classes", "2: no, yes"}) || !slices.Contains(v.Config, kv{"class_weights", "no 1, yes 3"}) || v.ROC == nil || v.Multi {
		t.Errorf("summary %v, settings %v, ROC %v", v.Summary, v.Config, v.ROC != nil)
	}
	if v.WrongRows[0].Truth != "no" && v.WrongRows[0].Truth != "yes" {
		t.Errorf("mistakes named %+v", v.WrongRows[0])
	}

	tests := []struct {
		name    string
		classes []string
		perRow  int
		want    string
	}{
		{"ten per photo, no classes", nil, 10, "config.json does not name the run's classes"},
		{"three per photo, ten classes", cifar, 3, "of 10 classes; want 3000"},
		{"ten per photo, two classes", []string{"no", "yes"}, 10, "want one per photo, of yes"},
	}
	for _, tt := range tests {
		dir := filepath.Join(t.TempDir(), "run")
		_, labels := classRun(t, dir, "cnn", "", cifar, nil, nil, 0.5, 3)
		cfg, _, err := runs.ReadConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Classes = tt.classes
		if err := runs.WriteJSON(dir, runs.ConfigFile, cfg); err != nil {
			t.Fatal(err)
		}
		if err := runs.WriteTest(dir, labels, make([]float32, len(labels)*tt.perRow)); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
	// Class weights of another number of classes.
	r.ClassWeights = []float64{1, 2, 3}
	if err := Save(r); err == nil || !strings.Contains(err.Error(), "3 class weights for 2 classes") {
		t.Errorf("saving 3 class weights for 2 classes: %v", err)
	}
}

// TestWriteClassesPhotos shows the mistakes of a run of CIFAR-10 photos prepared as a
// dataset: the photos come from the dataset, named by their class; a dataset of other
// classes is noted, not shown.
func TestWriteClassesPhotos(t *testing.T) {
	src := fixtures.ClassPhotos(t, "cifar-10/test", 10)
	data := filepath.Join(t.TempDir(), "prepared")
	if _, err := datasets.Prepare(context.Background(), datasets.Options{Data: src, Out: data, Size: 32, Seed: 1, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	ds, err := datasets.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	all, test := ds.Labels(), ds.Split("test")
	var labels []uint8
	for _, row := range test {
		labels = append(labels, all[row])
	}
	ds.Close()
	if !slices.Equal(ds.Classes(), cifar) || len(labels) < 10 {
		t.Fatalf("prepared classes %v, %d test photos", ds.Classes(), len(labels))
	}
	open := func(dir string) (Photos, error) { return datasets.Open(dir) }
	dir := filepath.Join(t.TempDir(), "cnn10")
	if out := os.Getenv("CATDOG_REPORT_OUT"); out != "" {
		dir = filepath.Join(out, "cnn10-photos")
	}
	classRun(t, dir, "cnn10", data, cifar, nil, labels, 0.4, 5)
	if err := Write(dir, Options{OpenPhotos: open, Wrong: 8}); err != nil {
		t.Fatal(err)
	}
	md, html := read(t, filepath.Join(dir, runs.MarkdownFile)), read(t, filepath.Join(dir, runs.HTMLFile))
	if n := checkImages(t, runs.HTMLFile, html); n != 8 {
		t.Errorf("%d pictures, want 8 (with the wrong photos)", n)
	}
	if !strings.Contains(md, "](wrong.png)") {
		t.Error("Markdown does not show wrong.png")
	}
	rows := tableRows(t, md, "| prediction | probability | truth |")
	if len(rows) != 8 {
		t.Errorf("%d mistakes listed, want 8:\n%s", len(rows), strings.Join(rows, "\n"))
	}
	for _, row := range rows {
		cells := strings.Split(row, " | ")
		if len(cells) != 5 || !slices.Contains(cifar, cells[0][2:]) || !slices.Contains(cifar, cells[2]) || cells[0][2:] == cells[2] || !strings.HasSuffix(cells[4], ".jpg |") || !strings.HasPrefix(cells[4], cells[2]+"/") {
			t.Errorf("mistake row %q: want a predicted class, the true one, the row and the file in its class folder", row)
		}
	}
	// A run whose classes are not the dataset's does not show its photos.
	other := slices.Clone(cifar)
	other[0], other[1] = other[1], other[0]
	dir2 := filepath.Join(t.TempDir(), "swapped")
	classRun(t, dir2, "cnn10", data, other, nil, labels, 0.4, 5)
	if err := Write(dir2, Options{OpenPhotos: open}); err != nil {
		t.Fatal(err)
	}
	if html := read(t, filepath.Join(dir2, runs.HTMLFile)); !strings.Contains(html, "the dataset&#39;s classes (airplane, automobile,") {
		t.Error("a dataset of other classes is not noted")
	}
}

// TestIndexClasses: the comparison page of runs of ten classes has their macro AUC and
// top-5 accuracy, no ROC chart and no Dogs vs. Cats references; a run of other classes is
// listed apart, with a note, not ranked with them.
func TestIndexClasses(t *testing.T) {
	runsDir := t.TempDir()
	if out := os.Getenv("CATDOG_REPORT_OUT"); out != "" {
		runsDir = filepath.Join(out, "classes")
	}
	classRun(t, filepath.Join(runsDir, "cnn-a-20261206-0900"), "cnn-a", "/data/cifar-10", cifar, nil, nil, 0.75, 1)
	classRun(t, filepath.Join(runsDir, "cnn-b-20261206-0930"), "cnn-b", "/data/cifar-10", cifar, nil, nil, 0.5, 2)
	fakeRun(t, filepath.Join(runsDir, "vgg3-20261206-1000"), "vgg3-20261206-1000", "vgg3", runs.Scratch, 0.8, 4, 3)
	o, _ := opts()
	if err := Index(context.Background(), runsDir, IndexOptions{Report: o}); err != nil {
		t.Fatal(err)
	}
	html, md := read(t, filepath.Join(runsDir, IndexHTML)), read(t, filepath.Join(runsDir, IndexMarkdown))
	checkSelfContained(t, IndexHTML, html)
	if n := checkImages(t, IndexHTML, html); n != 3 {
		t.Errorf("%d pictures, want 3 (accuracy, validation accuracy and loss; no ROC for ten classes)", n)
	}
	if _, err := os.Stat(filepath.Join(runsDir, "index_roc.png")); err == nil {
		t.Error("a ROC chart for runs of ten classes")
	}
	for _, s := range []string{"# 10 classes: every model", "The classes: airplane, automobile,",
		"These runs do not all have the same classes", "compare only the 2 runs of 10 classes (airplane, automobile,",
		"the 1 run of other classes is listed apart", "## Runs of other classes", "### 2 classes: dog, cat",
		"| macro ROC AUC |", "| top-5 accuracy |", "marks chance (one in 10)"} {
		if !strings.Contains(md, s) && !strings.Contains(html, s) {
			t.Errorf("the index lacks %q", s)
		}
	}
	lb := md[strings.Index(md, "## Leaderboard"):strings.Index(md, "## Runs of other classes")]
	if strings.Contains(lb, "vgg3") || strings.Contains(lb, "published (theirs)") || !strings.Contains(lb, "cnn-a") || !strings.Contains(lb, "cnn-b") {
		t.Errorf("the leaderboard of ten classes:\n%s", lb)
	}
	a, err := Load(filepath.Join(runsDir, "cnn-a-20261206-0900"))
	if err != nil {
		t.Fatal(err)
	}
	lo, hi, _ := a.Interval()
	want := fmt.Sprintf("| **%s** | %s | best | %s | %.3f | %.3f |", pct(a.Test.Accuracy), intervalText(lo, hi), pct(a.Test.TopK[2].Accuracy), a.Test.MacroAvg.F1, a.Test.AUC)
	if !strings.Contains(lb, want) {
		t.Errorf("the best row lacks %q:\n%s", want, lb)
	}
	if !strings.Contains(md[strings.Index(md, "## Runs of other classes"):], "[vgg3](vgg3-20261206-1000/report.md)") {
		t.Error("the run of dog and cat is not listed apart")
	}
}
