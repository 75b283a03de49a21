package report

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/plot"
	"github.com/catdog-ml/catdog/runs"
)

// Skipped is a model of the study that has no run, and why.
type Skipped struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
	// Fix says what the user can do about it.
	Fix string `json:"fix"`
}

// IndexOptions tune Index.
type IndexOptions struct {
	// Skipped lists the models the study did not run.
	Skipped []Skipped
	// Report tunes the documents Index writes for runs that have none.
	Report Options
	// Rewrite writes every run's report again, not only the missing or outdated ones.
	Rewrite bool
	// Progress, when set, is told how many runs are done.
	Progress func(done, total int)
}

// Index files written into the runs folder.
const (
	IndexMarkdown = "index.md"
	IndexHTML     = "index.html"
	// SkippedFile, when present in the runs folder, lists the models not run (a JSON
	// array of Skipped) for Index calls that pass none: the study writes it.
	SkippedFile = "skipped.json"
)

// WriteSkipped writes the models not run into runsDir/skipped.json, for later Index calls.
func WriteSkipped(runsDir string, skipped []Skipped) error {
	if skipped == nil {
		skipped = []Skipped{}
	}
	return atomicfile.WriteJSON(filepath.Join(runsDir, SkippedFile), skipped)
}

// Index writes runs/index.md and runs/index.html comparing every run folder directly
// under runsDir (a folder holding config.json), first writing the reports of runs that
// lack one or whose records are newer than it. A run folder that cannot be read is
// listed with the error.
func Index(ctx context.Context, runsDir string, opts IndexOptions) error {
	entries, err := os.ReadDir(runsDir)
	if err != nil {
		return fmt.Errorf("report: reading the runs folder: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(runsDir, e.Name(), runs.ConfigFile)); err == nil {
			dirs = append(dirs, e.Name())
		}
	}
	if opts.Report.Now.IsZero() {
		opts.Report.Now = time.Now()
	}
	if opts.Skipped == nil {
		if _, err := runs.ReadOptional(runsDir, SkippedFile, &opts.Skipped); err != nil {
			return err
		}
	}
	v := &indexView{Generated: opts.Report.Now.UTC().Format("2006-01-02 15:04 UTC"), Skipped: opts.Skipped}
	var list []*Run
	for i, d := range dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := Load(filepath.Join(runsDir, d))
		if err == nil && (opts.Rewrite || stale(r.Dir)) {
			err = WriteRun(r, opts.Report)
		}
		if err != nil {
			v.Broken = append(v.Broken, Skipped{Name: d, Reason: err.Error(), Fix: "fix or remove the folder " + filepath.Join(runsDir, d)})
		} else {
			list = append(list, r)
		}
		if opts.Progress != nil {
			opts.Progress(i+1, len(dirs))
		}
	}
	list, v.Replaced = latestRuns(list)
	sort.SliceStable(list, func(a, b int) bool { return accuracy(list[a]) > accuracy(list[b]) })
	labels := legendNames(list)
	groups := byClasses(list)
	list = groups[0]
	v.describe(list, groups[1:])
	v.Rows, v.WithinNoise = rankRows(list, labels, v.TopKHead)
	for _, g := range groups[1:] {
		rows, _ := rankRows(g, labels, "")
		names := g[0].ClassNames()
		v.Others = append(v.Others, otherGroup{Classes: fmt.Sprintf("%d classes: %s", len(names), strings.Join(names, ", ")), Runs: len(g), Rows: rows})
	}
	v.Seeds = seedRows(list)
	if err := v.charts(list, labels); err != nil {
		return err
	}
	for _, f := range []*figure{v.Scores, v.ValidAcc, v.ValidLoss, v.ROC} {
		if f != nil {
			if err := atomicfile.WriteFile(filepath.Join(runsDir, f.File), f.PNG, 0o644); err != nil {
				return fmt.Errorf("report: %w", err)
			}
		}
	}
	return writeDocs(runsDir, IndexMarkdown, IndexHTML, "index", v)
}

// byClasses splits runs by their classes, keeping their order in each group: first the
// classes of the most runs (of the first run among equals), then the others in the order
// of their first run. It returns one group, maybe empty, at least.
func byClasses(list []*Run) [][]*Run {
	index := map[string]int{}
	var groups [][]*Run
	for _, r := range list {
		k := strings.Join(r.ClassNames(), "\x00")
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], r)
	}
	if len(groups) == 0 {
		return [][]*Run{nil}
	}
	most := 0
	for i, g := range groups {
		if len(g) > len(groups[most]) {
			most = i
		}
	}
	main := groups[most]
	return append([][]*Run{main}, slices.Delete(groups, most, most+1)...)
}

// describe sets what the page says about the classes of the runs it compares (list) and
// of those it lists apart (others).
func (v *indexView) describe(list []*Run, others [][]*Run) {
	v.Title, v.DogCat, v.AUCHead = "Dogs vs. Cats: every model", true, "ROC AUC"
	v.ScoresNote = "our bars with their 95 % intervals, the published result for the nearest architecture as a triangle, chance as the dashed line."
	if len(list) == 0 {
		return
	}
	classes := list[0].ClassNames()
	if !dogCat(classes) {
		v.Title, v.DogCat = fmt.Sprintf("%d classes: every model", len(classes)), false
		v.Classes = strings.Join(classes, ", ")
		v.ScoresNote = "our bars with their 95 % intervals; the dashed line marks chance (50 %)."
	}
	v.Multi = len(classes) > 2
	if v.Multi {
		v.ScoresNote = fmt.Sprintf("our bars with their 95 %% intervals; the dashed line marks chance (one in %d).", len(classes))
		v.AUCHead = "macro ROC AUC"
		for _, r := range list {
			if r.Test != nil && len(r.Test.TopK) > 0 {
				k := r.Test.TopK[len(r.Test.TopK)-1].K
				if k > 1 {
					v.TopKHead = fmt.Sprintf("top-%d accuracy", k)
				}
				break
			}
		}
	}
	if len(others) > 0 {
		n := 0
		for _, g := range others {
			n += len(g)
		}
		verb := "are"
		if n == 1 {
			verb = "is"
		}
		v.Mixed = fmt.Sprintf("These runs do not all have the same classes. The leaderboard, the charts and the seeds compare only the %d run%s of %d classes (%s); the %d run%s of other classes %s listed apart below, by their classes: accuracies over other classes are not comparable.",
			len(list), plural(len(list)), len(classes), strings.Join(classes, ", "), n, plural(n), verb)
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// rankRows writes the leaderboard's rows of runs ranked best first: each with its
// interval, and whether it is within noise of the first (counted in within). topK, if
// set ("top-5 accuracy"), fills each row's TopK with that accuracy.
func rankRows(list []*Run, labels map[*Run]string, topK string) (rows []indexRow, within int) {
	var bestLo float64
	if len(list) > 0 {
		bestLo, _, _ = list[0].Interval()
	}
	for i, r := range list {
		row := leaderRow(r, filepath.Base(r.Dir), labels[r], i == 0 && r.Test != nil)
		if lo, hi, ok := r.Interval(); ok {
			row.Interval = intervalText(lo, hi)
			switch {
			case i == 0:
				row.Noise = "best"
			case hi >= bestLo:
				row.Noise = "within noise"
				within++
			}
		}
		if topK != "" {
			row.TopK = "—"
			if r.Test != nil {
				for _, t := range r.Test.TopK {
					if fmt.Sprintf("top-%d accuracy", t.K) == topK {
						row.TopK = pct(t.Accuracy)
					}
				}
			}
		}
		rows = append(rows, row)
	}
	return rows, within
}

// stale reports whether a run's report is missing or older than one of its records (a
// run that was still training when its report was written).
func stale(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, runs.HTMLFile))
	if err != nil {
		return true
	}
	for _, f := range []string{runs.ConfigFile, runs.ModelFile, runs.HistoryFile, runs.PredictionsFile, runs.LabelsFile} {
		if fs, err := os.Stat(filepath.Join(dir, f)); err == nil && fs.ModTime().After(st.ModTime()) {
			return true
		}
	}
	return false
}

func missing(p string) bool {
	_, err := os.Stat(p)
	return errors.Is(err, fs.ErrNotExist)
}

// accuracy sorts runs: unscored runs last.
func accuracy(r *Run) float64 {
	if r.Test == nil {
		return -1
	}
	return r.Test.Accuracy
}

// legendNames names runs by architecture, or by run name where an architecture ran twice.
func legendNames(list []*Run) map[*Run]string {
	n := map[string]int{}
	for _, r := range list {
		n[r.Arch]++
	}
	names := map[*Run]string{}
	for _, r := range list {
		names[r] = r.Arch
		if n[r.Arch] > 1 || r.Arch == "" {
			names[r] = r.Name
		}
	}
	return names
}

type indexView struct {
	Generated string
	// Title heads the page; DogCat says the runs compared are of Dogs vs. Cats (the
	// published results apply), Multi that they have three classes or more, Classes
	// names them when they are not dog and cat. AUCHead heads the AUC column, TopKHead
	// the top-k column of three classes or more ("top-5 accuracy"; none if empty).
	Title    string
	DogCat   bool
	Multi    bool
	Classes  string
	AUCHead  string
	TopKHead string
	// ScoresNote explains the test accuracy chart.
	ScoresNote string
	// Mixed, when set, says that runs of other classes are listed apart, in Others.
	Mixed  string
	Others []otherGroup
	Rows   []indexRow
	// WithinNoise counts the rows within noise of the best; Replaced the older runs of a
	// model and seed that a newer run replaces; Seeds the models run with several seeds.
	WithinNoise int
	Replaced    int
	Seeds       []seedRow
	Skipped     []Skipped
	Broken      []Skipped
	Scores      *figure
	ValidAcc    *figure
	ValidLoss   *figure
	ROC         *figure
}

type indexRow struct {
	Name, Label, Link, MDLink, Kind, Params, Epochs           string
	Accuracy, F1, AUC, LogLoss, Time, Reference, ReferenceSrc string
	// Interval is the test accuracy's 95 % interval; Noise says "best", "within noise"
	// (its interval overlaps the best's), or nothing (below the best beyond noise).
	Interval, Noise string
	Best            bool
	// TopK is the top-k accuracy of the page's TopKHead.
	TopK string
}

// otherGroup is the runs of one set of classes that the leaderboard does not compare.
type otherGroup struct {
	Classes string
	Runs    int
	Rows    []indexRow
}

// seedRow sums up one model run with several seeds.
type seedRow struct {
	Model, PerSeed, Mean string
	Seeds                int
}

// latestRuns keeps, of the runs of one model (architecture) with one seed on one dataset,
// the newest: running the study again replaces its rows instead of adding a second one.
// It returns the runs kept and how many it left out.
func latestRuns(list []*Run) ([]*Run, int) {
	type key struct {
		arch, data, features string
		seed                 uint64
		seeded               bool
	}
	newest := map[key]*Run{}
	var order []key
	for _, r := range list {
		seed, ok := r.Seed()
		k := key{r.Arch, r.Data, r.Features, seed, ok}
		if !ok || r.Arch == "" { // nothing says it repeats another run
			k.arch = r.Dir
		}
		old, seen := newest[k]
		if !seen {
			order = append(order, k)
		}
		if !seen || r.Created.After(old.Created) {
			newest[k] = r
		}
	}
	kept := make([]*Run, 0, len(order))
	for _, k := range order {
		kept = append(kept, newest[k])
	}
	return kept, len(list) - len(kept)
}

// seedRows sums up the models that ran with several seeds: test accuracy per seed, mean
// and sample standard deviation.
func seedRows(list []*Run) []seedRow {
	by := map[string][]*Run{}
	var order []string
	for _, r := range list {
		if _, ok := r.Seed(); !ok || r.Test == nil {
			continue
		}
		if by[r.Arch] == nil {
			order = append(order, r.Arch)
		}
		by[r.Arch] = append(by[r.Arch], r)
	}
	var rows []seedRow
	for _, arch := range order {
		rs := by[arch]
		if len(rs) < 2 {
			continue
		}
		sort.Slice(rs, func(a, b int) bool {
			sa, _ := rs[a].Seed()
			sb, _ := rs[b].Seed()
			return sa < sb
		})
		var per []string
		var accs []float64
		for _, r := range rs {
			s, _ := r.Seed()
			per = append(per, fmt.Sprintf("%d: %.1f", s, 100*r.Test.Accuracy))
			accs = append(accs, r.Test.Accuracy)
		}
		mean, sd := meanSD(accs)
		rows = append(rows, seedRow{Model: arch, Seeds: len(rs), PerSeed: strings.Join(per, ", "),
			Mean: fmt.Sprintf("%.1f ± %.1f %%", 100*mean, 100*sd)})
	}
	sort.SliceStable(rows, func(a, b int) bool { return rows[a].Mean > rows[b].Mean })
	return rows
}

// meanSD returns the mean and the sample standard deviation of xs.
func meanSD(xs []float64) (mean, sd float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	if len(xs) < 2 {
		return mean, 0
	}
	for _, x := range xs {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(xs)-1))
}

func leaderRow(r *Run, dir, label string, best bool) indexRow {
	t, f, _ := r.Params()
	row := indexRow{
		Name: r.Name, Label: label, Link: path.Join(dir, runs.HTMLFile), MDLink: mdPath(path.Join(dir, runs.MarkdownFile)),
		Kind: r.Kind, Params: paramsShort(t, f), Epochs: fmt.Sprint(len(r.History.Epochs)),
		Time: duration(r.History.Seconds()), Accuracy: "—", F1: "—", AUC: "—", LogLoss: "—", Reference: "—", Best: best,
	}
	if r.Kind == runs.Transfer && r.Backbone != "" {
		row.Kind = fmt.Sprintf("transfer (%s, %s)", r.Backbone, orDash(r.Weights))
	}
	if m := r.Test; m != nil {
		row.Accuracy = pct(m.Accuracy)
		row.F1 = fmt.Sprintf("%.3f", m.MacroAvg.F1)
		row.AUC = aucText(m)
		row.LogLoss = fmt.Sprintf("%.3f", m.LogLoss)
	}
	if ref, ok := ReferenceFor(r); ok {
		row.Reference = pct(ref.Accuracy)
		row.ReferenceSrc = ref.Model
	}
	return row
}

// paramsShort writes a parameter count as "3.2M" or "3.2M + 14.7M frozen".
func paramsShort(trainable, frozen int) string {
	s := short(trainable)
	if frozen > 0 {
		s += " + " + short(frozen) + " frozen"
	}
	return s
}

func short(n int) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	}
	return count(n)
}

func (v *indexView) charts(list []*Run, labels map[*Run]string) error {
	if len(list) == 0 {
		return nil
	}
	classes := list[0].ClassNames()
	var acc, loss []plot.Series
	var rocs []plot.ROCCurve
	var scores []plot.Score
	lo := 1.0
	for _, r := range list {
		if r.Test != nil {
			s := plot.Score{Name: labels[r], Value: r.Test.Accuracy}
			s.Low, s.High, _ = r.Interval()
			if ref, ok := ReferenceFor(r); ok {
				s.Reference = ref.Accuracy
			}
			scores = append(scores, s)
		}
		ep := r.History.Epochs
		if len(ep) > 0 {
			x, a, l := make([]float64, len(ep)), make([]float64, len(ep)), make([]float64, len(ep))
			for i, e := range ep {
				x[i], a[i], l[i] = float64(e.Epoch), e.ValidAcc, e.ValidLoss
				lo = min(lo, e.ValidAcc)
			}
			acc = append(acc, plot.Series{Name: labels[r], X: x, Y: a})
			loss = append(loss, plot.Series{Name: labels[r], X: x, Y: l})
		}
		if r.Test != nil && len(r.Test.ROC) > 1 && len(classes) == 2 {
			c := plot.ROCCurve{Name: labels[r], AUC: r.Test.AUC}
			for _, p := range r.Test.ROC {
				c.FPR = append(c.FPR, p.FPR)
				c.TPR = append(c.TPR, p.TPR)
			}
			rocs = append(rocs, c)
		}
	}
	if len(scores) > 0 {
		png, err := plot.Scores("Test accuracy", "published (theirs)", 1/float64(len(classes)), scores)
		if err != nil {
			return fmt.Errorf("report: index scores: %w", err)
		}
		v.Scores = &figure{File: "index_accuracy.png", Title: "Test accuracy of every run", PNG: png}
	}
	if len(acc) > 0 {
		png, err := plot.Curves("Validation accuracy per epoch, every run", "epoch", "accuracy",
			plot.CurveOptions{YMin: min(0.5, float64(int(lo*10))/10), YMax: 1, LegendOutside: true}, acc...)
		if err != nil {
			return fmt.Errorf("report: index curves: %w", err)
		}
		v.ValidAcc = &figure{File: "index_valid_accuracy.png", Title: "Validation accuracy per epoch", PNG: png}
		png, err = plot.Curves("Validation loss per epoch, every run", "epoch", lossName(classes),
			plot.CurveOptions{LegendOutside: true}, loss...)
		if err != nil {
			return fmt.Errorf("report: index curves: %w", err)
		}
		v.ValidLoss = &figure{File: "index_valid_loss.png", Title: "Validation loss per epoch", PNG: png}
	}
	if len(rocs) > 0 {
		png, err := plot.ROC(fmt.Sprintf("ROC curves, test split (positive class: %s)", classes[1]), rocs...)
		if err != nil {
			return fmt.Errorf("report: index ROC: %w", err)
		}
		v.ROC = &figure{File: "index_roc.png", Title: "ROC curves on the test split", PNG: png}
	}
	return nil
}
