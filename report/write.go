package report

import (
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"html/template"
	"math"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/catdog-ml/catdog/finetune"
	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/plot"
	"github.com/catdog-ml/catdog/metrics"
	"github.com/catdog-ml/catdog/runs"
)

// Photos reads the photos of a prepared dataset by row (*datasets.Dataset is one).
type Photos interface {
	// Size is the side of the square photos.
	Size() int
	// Image reads row i (Size×Size×3 RGB, HWC) into dst, grown if needed.
	Image(i int, dst []uint8) ([]uint8, error)
	// Split returns the rows of a split ("test"), in order.
	Split(name string) []int64
	// Labels returns every row's label.
	Labels() []uint8
	Close() error
}

// Options tune Write. The zero value writes every section it can.
type Options struct {
	// OpenPhotos opens the prepared dataset folder a run trained on, to show the photos
	// it got wrong; nil leaves them out. cmd/catdog passes a wrapper of datasets.Open.
	OpenPhotos func(dataDir string) (Photos, error)
	// Wrong is how many wrong photos to show, none if negative. If 0: 12 for two
	// classes; for more, two per class, at least 12 and at most 40 (the most confident
	// mistakes of each class in turn).
	Wrong int
	// Digits is the classification report's precision (2 if 0).
	Digits int
	// Now stamps the document (time.Now if zero).
	Now time.Time
}

// Write reads the run folder dir and writes its document there: report.md, report.html
// and the pictures.
func Write(dir string, opts Options) error {
	r, err := Load(dir)
	if err != nil {
		return err
	}
	return WriteRun(r, opts)
}

// WriteRun writes the document of a loaded run into r.Dir.
func WriteRun(r *Run, opts Options) error {
	if r.Dir == "" {
		return errors.New("report: run without a folder")
	}
	v, err := buildRunView(r, opts)
	if err != nil {
		return err
	}
	for _, f := range v.figures() {
		if err := atomicfile.WriteFile(filepath.Join(r.Dir, f.File), f.PNG, 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	if r.Test != nil && missing(filepath.Join(r.Dir, runs.MetricsFile)) {
		if err := runs.WriteJSON(r.Dir, runs.MetricsFile, r.Test); err != nil {
			return err
		}
	}
	return writeDocs(r.Dir, runs.MarkdownFile, runs.HTMLFile, "run", v)
}

// figure is one picture of a document.
type figure struct {
	File, Title string
	PNG         []byte
}

// Img is the picture as an HTML img element holding the PNG inline (a data URI).
func (f *figure) Img() template.HTML {
	return template.HTML(`<img src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(f.PNG) +
		`" alt="` + html.EscapeString(f.Title) + `">`)
}

// kv is one row of a two-column table.
type kv struct{ Key, Value string }

type layerRow struct {
	Name, Kind, Spec, Shape, Params, Frozen, Status string
}

type wrongRow struct {
	Row, File, Predicted, Prob, Truth string
}

// classRow is one class's row of the per-class table of three classes or more.
type classRow struct {
	Name, Support, Precision, Recall, F1, AUC string
	// Confused names the class most often predicted in its place, and how often.
	Confused string
}

// topKRow is one top-k accuracy with its interval.
type topKRow struct {
	K, Accuracy, Interval, Right string
}

// runView is what the run templates show.
type runView struct {
	Run       *Run
	KindText  string
	Generated string
	Cards     []kv
	Summary   []kv
	Config    []kv
	Env       []kv
	Layers    []layerRow
	Totals    layerRow
	Reference string
	Report    string
	Warnings  []string
	Network   *figure
	Loss      *figure
	Accuracy  *figure
	Confusion *figure
	ROC       *figure
	Wrong     *figure
	WrongRows []wrongRow
	// Multi says the run has three classes or more: Decision is how a prediction is made
	// ("threshold 0.5", "the most probable class"); ConfusionShares is the confusion
	// matrix by row, PerClass the precision, recall and F1 bars, ClassRows and ClassAvg
	// the per-class table, TopK the top-k accuracies.
	Multi           bool
	Decision        string
	ConfusionShares *figure
	PerClass        *figure
	ClassRows       []classRow
	ClassAvg        classRow
	TopK            []topKRow
	// Notes say why a section is missing.
	Notes map[string]string
}

func (v *runView) figures() []*figure {
	var fs []*figure
	for _, f := range []*figure{v.Network, v.Loss, v.Accuracy, v.Confusion, v.ConfusionShares, v.ROC, v.PerClass, v.Wrong} {
		if f != nil {
			fs = append(fs, f)
		}
	}
	return fs
}

func buildRunView(r *Run, opts Options) (*runView, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Digits == 0 {
		opts.Digits = 2
	}
	v := &runView{Run: r, KindText: kindText(r), Generated: opts.Now.UTC().Format("2006-01-02 15:04 UTC"), Notes: map[string]string{}}
	trainable, frozen, other := r.Params()
	h := r.History
	if m := r.Test; m != nil {
		lo, hi, _ := r.Interval()
		v.Cards = []kv{
			{"test accuracy", pct(m.Accuracy)},
			{fmt.Sprintf("95 %% interval, %d test photos", m.N), intervalText(lo, hi)},
		}
		if n := len(m.TopK); n > 0 && m.TopK[n-1].K > 1 {
			t := m.TopK[n-1]
			v.Cards = append(v.Cards, kv{fmt.Sprintf("top-%d accuracy", t.K), pct(t.Accuracy)})
		}
		auc := "ROC AUC"
		if len(m.Classes) > 2 {
			auc = "macro ROC AUC"
		}
		v.Cards = append(v.Cards,
			kv{"macro F1", fmt.Sprintf("%.3f", m.MacroAvg.F1)},
			kv{auc, aucText(m)},
			kv{"log loss", fmt.Sprintf("%.3f", m.LogLoss)},
		)
	}
	v.Summary = []kv{
		{"architecture", join(r.Arch, r.Description)},
		{"kind", kindText(r)},
	}
	if !dogCat(r.Classes) {
		v.Summary = append(v.Summary, kv{"classes", classesText(r.Classes)})
	}
	v.Summary = append(v.Summary, []kv{
		{"parameters", paramsText(trainable, frozen, other)},
		{"epochs", epochsText(h, configInt(r.Config, "epochs"))},
		{"training time", duration(h.Seconds())},
	}...)
	if ips := h.ImagesPerSec(); ips > 0 {
		v.Summary = append(v.Summary, kv{"training speed", fmt.Sprintf("%.1f images/s", ips)})
	}
	if r.Test != nil {
		v.Summary = append(v.Summary, kv{"test photos", fmt.Sprint(r.Test.N)})
	}
	if c := r.Export; c != nil {
		v.Summary = append(v.Summary, kv{"exported model checked", fmt.Sprintf(
			"%s against %s: the same class for %d of %d test photos, probabilities within %.1e", c.Runtime, c.Engine, c.SameClass, c.Images, c.MaxDiff)})
	}
	if ref, ok := ReferenceFor(r); ok {
		v.Reference = fmt.Sprintf("%s: %s, %s.", ref.Source, ref.Model, pct(ref.Accuracy))
	}
	v.Config = []kv{{"data", orDash(r.Data)}}
	if r.Features != "" {
		v.Config = append(v.Config, kv{"features", r.Features})
	}
	if r.BackboneSHA256 != "" {
		v.Config = append(v.Config, kv{"backbone weights", fmt.Sprintf("%s (SHA-256 %s)", orDash(r.BackboneFile), r.BackboneSHA256)})
	}
	v.Config = append(v.Config, kv{"input size", sizeText(r.InputSize)}, kv{"started", timeText(r.Created)})
	settings := make([]kv, 0, len(r.Config)+1)
	for k, val := range r.Config {
		settings = append(settings, kv{k, fmt.Sprint(val)})
	}
	if len(r.ClassWeights) > 0 {
		settings = append(settings, kv{"class_weights", weightsText(r.ClassNames(), r.ClassWeights)})
	}
	sort.Slice(settings, func(a, b int) bool { return settings[a].Key < settings[b].Key })
	v.Config = append(v.Config, settings...)
	e := r.Environment
	for _, p := range []kv{
		{"Go", e.GoVersion}, {"OS", e.OS}, {"CPU", e.CPU}, {"cores", intText(e.Cores)},
		{"engine", e.Engine}, {"BLAS", e.BLAS}, {"onnxruntime", e.ORTVersion},
		{"execution provider", e.Provider}, {"threads", intText(e.Threads)},
	} {
		if p.Value != "" {
			v.Env = append(v.Env, p)
		}
	}
	if e.FeaturesPerSec > 0 {
		v.Env = append(v.Env, kv{"feature extraction", fmt.Sprintf("%.1f images/s", e.FeaturesPerSec)})
	}
	if len(h.Epochs) > 0 {
		v.Env = append(v.Env, kv{"time per epoch", duration(h.Seconds() / float64(len(h.Epochs)))})
	}

	if err := v.architecture(r, trainable, frozen+other); err != nil {
		return nil, err
	}
	if err := v.training(r); err != nil {
		return nil, err
	}
	if err := v.test(r, opts.Digits); err != nil {
		return nil, err
	}
	if err := v.wrong(r, opts); err != nil {
		return nil, err
	}
	return v, nil
}

func (v *runView) architecture(r *Run, trainable, frozen int) error {
	if len(r.Layers) == 0 {
		v.Notes["architecture"] = "No layer table was recorded (layers.json)."
		return nil
	}
	net := []plot.NetLayer{}
	if r.InputSize > 0 {
		net = append(net, plot.NetLayer{Name: "input", Kind: "input", Shape: fmt.Sprintf("3×%d×%d", r.InputSize, r.InputSize)})
	}
	for _, l := range r.Layers {
		status := "trained"
		switch {
		case isFrozen(l):
			status = "frozen"
		case l.Params == 0:
			status = "no weights"
		}
		v.Layers = append(v.Layers, layerRow{Name: l.Name, Kind: l.Kind, Spec: l.Spec, Shape: layerShape(l),
			Params: count(l.Params), Frozen: count(l.Frozen), Status: status})
		w := l.Params
		if isFrozen(l) {
			w = l.Frozen
		}
		net = append(net, plot.NetLayer{Name: l.Name, Kind: l.Kind, Color: finetune.KindColor(finetune.Kind(l.Kind)), Shape: layerShape(l), Params: w, Frozen: isFrozen(l)})
	}
	v.Totals = layerRow{Name: "total", Params: count(trainable), Frozen: count(frozen)}
	png, err := plot.Network(r.Arch, 6, net)
	if err != nil {
		return fmt.Errorf("report: network picture: %w", err)
	}
	v.Network = &figure{File: "network.png", Title: "The network, layer by layer", PNG: png}
	return nil
}

func (v *runView) training(r *Run) error {
	ep := r.History.Epochs
	if len(ep) == 0 {
		v.Notes["training"] = "No training history was recorded (history.json)."
		return nil
	}
	x := make([]float64, len(ep))
	tl, vl, ta, va := make([]float64, len(ep)), make([]float64, len(ep)), make([]float64, len(ep)), make([]float64, len(ep))
	for i, e := range ep {
		x[i] = float64(e.Epoch)
		tl[i], vl[i], ta[i], va[i] = e.TrainLoss, e.ValidLoss, e.TrainAcc, e.ValidAcc
	}
	png, err := plot.Curves("Loss per epoch", "epoch", lossName(r.ClassNames()), plot.CurveOptions{LegendOutside: true},
		plot.Series{Name: "training", X: x, Y: tl, Dashed: true}, plot.Series{Name: "validation", X: x, Y: vl})
	if err != nil {
		return fmt.Errorf("report: loss curves: %w", err)
	}
	v.Loss = &figure{File: "loss.png", Title: "Loss per epoch", PNG: png}
	lo := 1.0
	for i := range ta {
		lo = min(lo, ta[i], va[i])
	}
	png, err = plot.Curves("Accuracy per epoch", "epoch", "accuracy", plot.CurveOptions{YMin: math.Floor(lo*10) / 10, YMax: 1, LegendOutside: true},
		plot.Series{Name: "training", X: x, Y: ta, Dashed: true}, plot.Series{Name: "validation", X: x, Y: va})
	if err != nil {
		return fmt.Errorf("report: accuracy curves: %w", err)
	}
	v.Accuracy = &figure{File: "accuracy.png", Title: "Accuracy per epoch", PNG: png}
	return nil
}

func (v *runView) test(r *Run, digits int) error {
	if r.Test == nil {
		v.Notes["test"] = "The model was not scored on the test split (no metrics.json or predictions)."
		return nil
	}
	m := r.Test
	v.Report = m.Text(digits)
	v.Warnings = m.Warnings
	names := m.Classes
	if len(names) != len(m.Confusion) {
		names = r.ClassNames()
	}
	v.Multi = len(names) > 2
	if v.Multi {
		v.Decision = "the most probable class"
		return v.testClasses(m, names, digits)
	}
	v.Decision = fmt.Sprintf("threshold %g", m.Threshold)
	if m.Threshold == 0 {
		v.Decision = fmt.Sprintf("threshold %g", metrics.DefaultThreshold)
	}
	png, err := plot.ConfusionMatrix("Confusion matrix, test split", names, m.Confusion)
	if err != nil {
		return fmt.Errorf("report: confusion matrix: %w", err)
	}
	v.Confusion = &figure{File: "confusion.png", Title: "Confusion matrix", PNG: png}
	if len(m.ROC) > 1 {
		fpr, tpr := metrics.Rates(m.ROC)
		png, err := plot.ROC(fmt.Sprintf("ROC curve, test split (positive class: %s)", names[1]), plot.ROCCurve{Name: r.Arch, FPR: fpr, TPR: tpr, AUC: m.AUC})
		if err != nil {
			return fmt.Errorf("report: ROC curve: %w", err)
		}
		v.ROC = &figure{File: "roc.png", Title: "ROC curve", PNG: png}
	}
	return nil
}

// testClasses fills the test section of three classes or more: the top-k accuracies, the
// per-class table and bars, the confusion matrix in counts and by row, and each class's
// ROC curve against the rest.
func (v *runView) testClasses(m *metrics.Report, names []string, digits int) error {
	lo, hi := m.AccuracyInterval()
	v.TopK = []topKRow{{K: "1", Accuracy: pct(m.Accuracy), Interval: intervalText(lo, hi), Right: fmt.Sprintf("%d of %d", m.Correct(), m.N)}}
	for _, t := range m.TopK {
		if t.K > 1 {
			v.TopK = append(v.TopK, topKRow{K: fmt.Sprint(t.K), Accuracy: pct(t.Accuracy), Interval: intervalText(t.Low, t.High), Right: fmt.Sprintf("%d of %d", t.Correct, m.N)})
		}
	}
	num := func(f float64) string { return fmt.Sprintf("%.*f", digits, f) }
	prec, rec, f1 := make([]float64, len(names)), make([]float64, len(names)), make([]float64, len(names))
	for k, s := range m.PerClass {
		row := classRow{Name: names[k], Support: fmt.Sprint(s.Support), Precision: num(s.Precision), Recall: num(s.Recall), F1: num(s.F1), AUC: "n/a", Confused: "—"}
		if k < len(m.OneVsRest) && len(m.OneVsRest[k].ROC) > 0 {
			row.AUC = fmt.Sprintf("%.3f", m.OneVsRest[k].AUC)
		}
		best := -1
		for j, n := range m.Confusion[k] {
			if j != k && n > 0 && (best < 0 || n > m.Confusion[k][best]) {
				best = j
			}
		}
		if best >= 0 {
			row.Confused = fmt.Sprintf("%s (%d)", names[best], m.Confusion[k][best])
		}
		v.ClassRows = append(v.ClassRows, row)
		prec[k], rec[k], f1[k] = s.Precision, s.Recall, s.F1
	}
	a := m.MacroAvg
	v.ClassAvg = classRow{Name: "macro average", Support: fmt.Sprint(a.Support), Precision: num(a.Precision), Recall: num(a.Recall), F1: num(a.F1), AUC: aucText(m)}

	png, err := plot.ConfusionMatrix("Confusion matrix, test split", names, m.Confusion)
	if err != nil {
		return fmt.Errorf("report: confusion matrix: %w", err)
	}
	v.Confusion = &figure{File: "confusion.png", Title: "Confusion matrix", PNG: png}
	png, err = plot.ConfusionMatrixNormalized("Confusion matrix by true class, test split", names, m.Confusion)
	if err != nil {
		return fmt.Errorf("report: confusion matrix: %w", err)
	}
	v.ConfusionShares = &figure{File: "confusion_normalized.png", Title: "Confusion matrix by true class", PNG: png}
	png, err = plot.GroupedBars("Precision, recall and F1 per class, test split", "score", names,
		plot.BarSeries{Name: "precision", Values: prec}, plot.BarSeries{Name: "recall", Values: rec}, plot.BarSeries{Name: "F1", Values: f1})
	if err != nil {
		return fmt.Errorf("report: per-class scores: %w", err)
	}
	v.PerClass = &figure{File: "per_class.png", Title: "Precision, recall and F1 per class", PNG: png}
	var curves []plot.ROCCurve
	for k, c := range m.OneVsRest {
		if len(c.ROC) > 1 && k < len(names) {
			fpr, tpr := metrics.Rates(c.ROC)
			curves = append(curves, plot.ROCCurve{Name: names[k], FPR: fpr, TPR: tpr, AUC: c.AUC})
		}
	}
	if len(curves) > 0 {
		png, err := plot.ROC("One-vs-rest ROC curves, test split, macro AUC "+aucText(m), curves...)
		if err != nil {
			return fmt.Errorf("report: ROC curves: %w", err)
		}
		v.ROC = &figure{File: "roc.png", Title: "ROC curves, one class against the rest", PNG: png}
	}
	return nil
}

// wrongPhotos reads the test photos at positions bad of the predictions from the run's
// dataset and fills in their rows, or says why it cannot.
func (r *Run) wrongPhotos(bad []int, rows []wrongRow, opts Options) ([]plot.GridImage, string) {
	switch {
	case r.Data == "":
		return nil, "The run does not name its prepared dataset, so the photos cannot be shown."
	case opts.OpenPhotos == nil:
		return nil, "Photos are not shown: no dataset reader was given."
	}
	ph, err := opts.OpenPhotos(r.Data)
	if err != nil {
		return nil, fmt.Sprintf("Photos are not shown: %v.", err)
	}
	defer ph.Close()
	type classer interface{ Classes() []string }
	if c, ok := ph.(classer); ok {
		if names := c.Classes(); len(names) > 0 && !slices.Equal(names, r.ClassNames()) {
			return nil, fmt.Sprintf("Photos are not shown: the dataset's classes (%s) are not the run's (%s).", strings.Join(names, ", "), strings.Join(r.ClassNames(), ", "))
		}
	}
	test, all := ph.Split("test"), ph.Labels()
	if len(test) < len(r.Labels) {
		return nil, fmt.Sprintf("Photos are not shown: the dataset's test split has %d photos, the run scored %d.", len(test), len(r.Labels))
	}
	for i, l := range r.Labels {
		if j := test[i]; j < 0 || int(j) >= len(all) || all[j] != l {
			return nil, "Photos are not shown: the dataset's test split does not match the run's labels (was the data prepared again?)."
		}
	}
	type filer interface{ File(i int) string }
	f, hasFiles := ph.(filer)
	ims := make([]plot.GridImage, len(bad))
	for k, i := range bad {
		row := int(test[i])
		px, err := ph.Image(row, nil)
		if err != nil {
			return nil, fmt.Sprintf("Photos are not shown: %v.", err)
		}
		rows[k].Row = fmt.Sprint(row)
		if hasFiles {
			rows[k].File = filepath.Base(f.File(row))
			if len(r.ClassNames()) > 2 { // a folder per class: keep the folder
				rows[k].File = path.Join(path.Base(path.Dir(f.File(row))), rows[k].File)
			}
		}
		ims[k] = plot.GridImage{Pixels: px, Width: ph.Size(), Height: ph.Size(), Highlight: true,
			Caption: fmt.Sprintf("%s %s\ntrue %s, row %d", rows[k].Predicted, rows[k].Prob, rows[k].Truth, row)}
	}
	return ims, ""
}

// wrong picks the test photos predicted wrong with the highest confidence: of them all
// for two classes, of each true class in turn for more.
func (v *runView) wrong(r *Run, opts Options) error {
	if opts.Wrong < 0 || r.Test == nil || len(r.Probs) == 0 {
		return nil
	}
	names := r.ClassNames()
	var bad []int
	var pred []int
	var conf []float64
	if len(names) > 2 {
		bad, pred, conf = mistakesByClass(r.Labels, r.Probs, len(names), opts.Wrong)
	} else {
		bad, pred, conf = mistakesBinary(r, opts.Wrong)
	}
	if len(bad) == 0 {
		v.Notes["wrong"] = "The model got every test photo right."
		return nil
	}
	for k, i := range bad {
		v.WrongRows = append(v.WrongRows, wrongRow{Predicted: names[pred[k]], Prob: fmt.Sprintf("%.3f", conf[k]), Truth: names[r.Labels[i]]})
	}
	ims, why := r.wrongPhotos(bad, v.WrongRows, opts)
	if why != "" {
		v.Notes["wrong"] = why
		return nil
	}
	png, err := plot.ImageGrid("", 6, 128, ims)
	if err != nil {
		return fmt.Errorf("report: photo grid: %w", err)
	}
	v.Wrong = &figure{File: "wrong.png", Title: "Most confidently wrong test photos", PNG: png}
	return nil
}

// mistakesBinary returns the test photos of a two-class run predicted wrong at the
// report's threshold, at most most of them (12 if 0), the most confident first, with the
// label each was given and the probability of that label.
func mistakesBinary(r *Run, most int) (bad, pred []int, conf []float64) {
	if most == 0 {
		most = 12
	}
	th := r.Test.Threshold
	if th == 0 {
		th = metrics.DefaultThreshold
	}
	for i, p := range r.Probs {
		if (float64(p) >= th) != (r.Labels[i] == 1) {
			bad = append(bad, i)
		}
	}
	sure := func(i int) float64 { return math.Max(float64(r.Probs[i]), 1-float64(r.Probs[i])) }
	sort.SliceStable(bad, func(a, b int) bool { return sure(bad[a]) > sure(bad[b]) })
	bad = bad[:min(len(bad), most)]
	for _, i := range bad {
		pred = append(pred, 1-int(r.Labels[i]))
		conf = append(conf, sure(i))
	}
	return bad, pred, conf
}

// mistakesByClass returns test photos of c >= 3 classes predicted wrong (the most
// probable class is not the true one; the lowest label among equals, as metrics does),
// at most most of them (two per class, from 12 to 40, if 0): each true class's most
// confident mistake, then each one's second, and so on, a round's most confident first.
// They come in label order of the true class, the most confident first within one, with
// the predicted label and its probability.
func mistakesByClass(labels []uint8, probs []float32, c, most int) (bad, pred []int, conf []float64) {
	if most == 0 {
		most = min(max(12, 2*c), 40)
	}
	type mistake struct {
		i, pred int
		p       float64
	}
	byClass := make([][]mistake, c)
	for i, l := range labels {
		row, best := probs[i*c:(i+1)*c], 0
		for j, p := range row {
			if p > row[best] {
				best = j
			}
		}
		if best != int(l) {
			byClass[l] = append(byClass[l], mistake{i, best, float64(row[best])})
		}
	}
	for _, ms := range byClass {
		sort.SliceStable(ms, func(a, b int) bool { return ms[a].p > ms[b].p })
	}
	taken := make([]int, c) // mistakes taken of each class
	for round, total := 0, 0; total < most; round++ {
		var next []int // the classes with a mistake left for this round
		for k, ms := range byClass {
			if round < len(ms) {
				next = append(next, k)
			}
		}
		if len(next) == 0 {
			break
		}
		sort.SliceStable(next, func(a, b int) bool { return byClass[next[a]][round].p > byClass[next[b]][round].p })
		for _, k := range next[:min(len(next), most-total)] {
			taken[k]++
			total++
		}
	}
	for k, ms := range byClass {
		for _, m := range ms[:taken[k]] {
			bad, pred, conf = append(bad, m.i), append(pred, m.pred), append(conf, m.p)
		}
	}
	return bad, pred, conf
}

func pct(f float64) string { return fmt.Sprintf("%.1f %%", 100*f) }

func aucText(m *metrics.Report) string {
	if !m.HasAUC() {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", m.AUC)
}

// classesText writes a run's classes as "10: airplane, automobile, ...".
func classesText(classes []string) string {
	return fmt.Sprintf("%d: %s", len(classes), strings.Join(classes, ", "))
}

// weightsText writes class weights by class name: "cat 1, dog 2.5".
func weightsText(classes []string, weights []float64) string {
	s := make([]string, len(weights))
	for i, w := range weights {
		name := fmt.Sprint(i)
		if i < len(classes) {
			name = classes[i]
		}
		s[i] = fmt.Sprintf("%s %.4g", name, w)
	}
	return strings.Join(s, ", ")
}

// lossName names the training loss of a model of the given classes.
func lossName(classes []string) string {
	if len(classes) > 2 {
		return "categorical cross-entropy"
	}
	return "binary cross-entropy"
}

func join(a, b string) string {
	if b == "" {
		return orDash(a)
	}
	return a + ": " + b
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func kindText(r *Run) string {
	switch r.Kind {
	case runs.Transfer:
		w := r.Weights
		if w == "" {
			w = "unknown"
		}
		return fmt.Sprintf("transfer learning: head trained on a frozen %s (%s weights)", orDash(r.Backbone), w)
	case runs.Scratch:
		return "trained from scratch"
	}
	return orDash(r.Kind)
}

func paramsText(trainable, frozen, other int) string {
	s := count(trainable) + " trainable"
	if frozen > 0 {
		s += ", " + count(frozen) + " frozen"
	}
	if other > 0 {
		s += ", " + count(other) + " running statistics"
	}
	return s
}

func epochsText(h runs.History, most int) string {
	n := len(h.Epochs)
	if n == 0 {
		return "—"
	}
	s := fmt.Sprint(n)
	if most > 0 {
		s = fmt.Sprintf("%d of at most %d", n, most)
	}
	if h.StoppedEarly {
		s += ", stopped early"
	}
	if h.BestEpoch > 0 && h.BestEpoch != n {
		s += fmt.Sprintf("; the weights of epoch %d (lowest validation loss) kept", h.BestEpoch)
	}
	if len(h.ResumedAt) > 0 {
		s += fmt.Sprintf("; resumed after epoch %v", h.ResumedAt)
	}
	return s
}

// intervalText writes an interval of proportions as "[96.9, 98.2] %".
func intervalText(lo, hi float64) string {
	return fmt.Sprintf("[%.1f, %.1f] %%", 100*lo, 100*hi)
}

// configInt reads a whole number of a run's config.json.
func configInt(cfg map[string]any, key string) int {
	if v, ok := cfg[key].(float64); ok {
		return int(v)
	}
	return 0
}

func sizeText(n int) string {
	if n == 0 {
		return "—"
	}
	return fmt.Sprintf("%d×%d px", n, n)
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func intText(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}

// count writes n with thousands separators: 14,714,688.
func count(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// duration writes seconds as "42 s", "3 min 20 s" or "2 h 05 min".
func duration(s float64) string {
	switch {
	case s <= 0:
		return "—"
	case s < 60:
		return fmt.Sprintf("%.0f s", s)
	case s < 3600:
		return fmt.Sprintf("%d min %02d s", int(s)/60, int(s)%60)
	}
	return fmt.Sprintf("%d h %02d min", int(s)/3600, int(s)%3600/60)
}
