package report

import (
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"html/template"
	"math"
	"path/filepath"
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
	// Wrong is how many wrong photos to show (12 if 0, none if negative).
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
	// Notes say why a section is missing.
	Notes map[string]string
}

func (v *runView) figures() []*figure {
	var fs []*figure
	for _, f := range []*figure{v.Network, v.Loss, v.Accuracy, v.Confusion, v.ROC, v.Wrong} {
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
	if opts.Wrong == 0 {
		opts.Wrong = 12
	}
	v := &runView{Run: r, KindText: kindText(r), Generated: opts.Now.UTC().Format("2006-01-02 15:04 UTC"), Notes: map[string]string{}}
	trainable, frozen, other := r.Params()
	h := r.History
	if r.Test != nil {
		lo, hi, _ := r.Interval()
		v.Cards = []kv{
			{"test accuracy", pct(r.Test.Accuracy)},
			{fmt.Sprintf("95 %% interval, %d test photos", r.Test.N), intervalText(lo, hi)},
			{"macro F1", fmt.Sprintf("%.3f", r.Test.MacroAvg.F1)},
			{"ROC AUC", aucText(r.Test)},
			{"log loss", fmt.Sprintf("%.3f", r.Test.LogLoss)},
		}
	}
	v.Summary = []kv{
		{"architecture", join(r.Arch, r.Description)},
		{"kind", kindText(r)},
		{"parameters", paramsText(trainable, frozen, other)},
		{"epochs", epochsText(h, configInt(r.Config, "epochs"))},
		{"training time", duration(h.Seconds())},
	}
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
	keys := make([]string, 0, len(r.Config))
	for k := range r.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.Config = append(v.Config, kv{k, fmt.Sprint(r.Config[k])})
	}
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
	png, err := plot.Curves("Loss per epoch", "epoch", "binary cross-entropy", plot.CurveOptions{LegendOutside: true},
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
	c := m.Confusion
	png, err := plot.ConfusionMatrix("Confusion matrix, test split", []string{metrics.Dog, metrics.Cat}, [][]int{c[0][:], c[1][:]})
	if err != nil {
		return fmt.Errorf("report: confusion matrix: %w", err)
	}
	v.Confusion = &figure{File: "confusion.png", Title: "Confusion matrix", PNG: png}
	if len(m.ROC) > 1 {
		fpr, tpr := make([]float64, len(m.ROC)), make([]float64, len(m.ROC))
		for i, p := range m.ROC {
			fpr[i], tpr[i] = p.FPR, p.TPR
		}
		png, err := plot.ROC("ROC curve, test split (positive class: cat)", plot.ROCCurve{Name: r.Arch, FPR: fpr, TPR: tpr, AUC: m.AUC})
		if err != nil {
			return fmt.Errorf("report: ROC curve: %w", err)
		}
		v.ROC = &figure{File: "roc.png", Title: "ROC curve", PNG: png}
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
		}
		ims[k] = plot.GridImage{Pixels: px, Width: ph.Size(), Height: ph.Size(), Highlight: true,
			Caption: fmt.Sprintf("%s %s\ntrue %s, row %d", rows[k].Predicted, rows[k].Prob, rows[k].Truth, row)}
	}
	return ims, ""
}

// wrong picks the test photos predicted wrong with the highest confidence.
func (v *runView) wrong(r *Run, opts Options) error {
	if opts.Wrong < 0 || r.Test == nil || len(r.Probs) == 0 {
		return nil
	}
	th := r.Test.Threshold
	if th == 0 {
		th = metrics.DefaultThreshold
	}
	var bad []int
	for i, p := range r.Probs {
		if (float64(p) >= th) != (r.Labels[i] == 1) {
			bad = append(bad, i)
		}
	}
	if len(bad) == 0 {
		v.Notes["wrong"] = "The model got every test photo right."
		return nil
	}
	conf := func(i int) float64 { return math.Max(float64(r.Probs[i]), 1-float64(r.Probs[i])) }
	sort.SliceStable(bad, func(a, b int) bool { return conf(bad[a]) > conf(bad[b]) })
	bad = bad[:min(len(bad), opts.Wrong)]
	label := func(l int) string {
		if l == 1 {
			return metrics.Cat
		}
		return metrics.Dog
	}
	for _, i := range bad {
		pred := 0
		if r.Labels[i] == 0 {
			pred = 1
		}
		v.WrongRows = append(v.WrongRows, wrongRow{Predicted: label(pred), Prob: fmt.Sprintf("%.3f", conf(i)), Truth: label(int(r.Labels[i]))})
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

func pct(f float64) string { return fmt.Sprintf("%.1f %%", 100*f) }

func aucText(m *metrics.Report) string {
	if len(m.ROC) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", m.AUC)
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
