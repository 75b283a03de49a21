// Package study runs catdog's whole study in one call: prepare the photos, train every
// from-scratch rung of the ladder (simple CNN, deeper ones, dropout, batch norm, data
// augmentation, a residual network), then the transfer rungs (a frozen backbone's features
// and a trained head) for every backbone whose weights can be had, a backbone's top block
// fine-tuned, a head on several backbones at once and flip averaging of the best, evaluate
// each exported model on onnxruntime, write a document per model and the page that compares
// them all.
//
// The work folder (Options.Dir, "catdog-study" by default) ends up holding:
//
//	data-<size>/           the prepared dataset(s) (catdog prepare)
//	data-<size>/features/  cached backbone features (catdog extract-features)
//	runs/<rung>-<time>/    one folder per trained model, with model.onnx and report.html
//	runs/index.html        the comparison page (also index.md)
//	study.json             what this run did, rung by rung
//
// Preparing and extracting are cached: running the study again reuses the dataset when its
// source, size, seed and subset are unchanged, and the features when their key is.
package study

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/evaluate"
	"github.com/catdog-ml/catdog/features"
	"github.com/catdog-ml/catdog/finetune"
	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/report"
	"github.com/catdog-ml/catdog/runs"
	"github.com/catdog-ml/catdog/transfer"
)

// Options configure Run.
type Options struct {
	// Data is the photos' source, as for catdog prepare (train.zip, a folder, PetImages,
	// a folder per class of any classes); empty downloads Microsoft's PetImages archive
	// (see datasets.Download).
	Data string
	// Classes, if not empty, orders or picks the class folders (datasets.Options.Classes).
	Classes []string
	// Dir is the work folder; empty means "catdog-study".
	Dir string
	// Profile says how big the study is (Quick or Full).
	Profile Profile
	// Seed drives the split, weight initialisation, shuffling and augmentation.
	Seed uint64
	// Seeds, when above 1, trains every from-scratch rung that many times, with the
	// training seeds Seed, Seed+1, ... (the split stays Seed's), and sums them up.
	Seeds int
	// Archs, if set, replaces the profile's from-scratch rungs (names of finetune.Arch).
	Archs []string
	// Backbones are the transfer rungs' backbones; nil means the profile's.
	Backbones []string
	// Backbone passes options to backbones.Load (CacheDir, HTTPClient, NoDownload).
	Backbone backbones.Options
	// BackboneFiles are local copies of backbones' weights, by backbone name: an ONNX
	// file for vgg16, a TensorFlow.js folder or model.json for the MobileNets.
	BackboneFiles map[string]string
	// Provider is onnxruntime's execution provider for features and evaluation: auto, cuda, cpu.
	Provider string
	// Download is used when Data is empty.
	Download datasets.Download

	// Notify receives one line per step for the user.
	Notify func(msg string)
	// Progress, if set, reports the progress of the current step.
	Progress func(step string, done, total int)
}

// Rung is the outcome of one model of the study.
type Rung struct {
	Name     string  `json:"name"`
	Kind     string  `json:"kind"` // "scratch" or "transfer"
	Dir      string  `json:"dir,omitempty"`
	Params   int     `json:"params,omitempty"`
	Epochs   int     `json:"epochs,omitempty"`
	Seconds  float64 `json:"train_seconds,omitempty"`
	Accuracy float64 `json:"test_accuracy,omitempty"` // on onnxruntime, exported model
	// TestPhotos is the size of the test split; AccuracyLow and AccuracyHigh bound the
	// test accuracy's 95 % (Wilson) interval.
	TestPhotos   int     `json:"test_photos,omitempty"`
	AccuracyLow  float64 `json:"test_accuracy_low,omitempty"`
	AccuracyHigh float64 `json:"test_accuracy_high,omitempty"`
	// ValidAccuracy is the best epoch's validation accuracy (what picks the model to flip).
	ValidAccuracy float64 `json:"valid_accuracy,omitempty"`
	// Seed is the training seed.
	Seed uint64 `json:"seed"`
	// MaxDiff is the largest difference between the exported model's probabilities on
	// onnxruntime and the training engine's on the test split.
	MaxDiff float64 `json:"max_diff_onnxruntime_vs_gorgonia,omitempty"`
	Skipped string  `json:"skipped,omitempty"`
	Fix     string  `json:"fix,omitempty"`

	data string // the dataset folder it was evaluated on
}

// SummaryFile is the name of the Summary that Run writes into the study folder.
const SummaryFile = "study.json"

// Summary is what Run did; it is also written to <Dir>/study.json (SummaryFile).
type Summary struct {
	Profile Profile `json:"profile"`
	// Seeds sums up the rungs trained with several seeds (Options.Seeds).
	Seeds   []SeedSummary `json:"seeds,omitempty"`
	Data    string        `json:"data"`
	Started time.Time     `json:"started"`
	Seconds float64       `json:"seconds"`
	Rungs   []Rung        `json:"rungs"`
	Index   string        `json:"index"` // the comparison page
}

// SeedSummary is one from-scratch rung trained with several seeds: the test accuracy of
// each, their mean and sample standard deviation.
type SeedSummary struct {
	Name       string    `json:"name"`
	Seeds      []uint64  `json:"seeds"`
	Accuracies []float64 `json:"test_accuracies"`
	Mean       float64   `json:"mean"`
	SD         float64   `json:"sd"`
}

// Run runs the whole study.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	s, err := newStudy(opts)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Profile: s.p, Data: opts.Data, Started: time.Now().UTC()}

	s.say("study %q: images %dx%d, %s, for the CNNs; %dx%d, %s, for the pretrained backbones; up to %d epochs",
		s.p.Name, s.p.Size, s.p.Size, perClassText(s.p.PerClass), s.p.TransferSize, s.p.TransferSize, perClassText(s.p.TransferPerClass), s.p.Epochs)
	scratchData, err := s.prepare(ctx, s.p.Size, s.p.PerClass)
	if err != nil {
		return nil, err
	}
	var skipped []report.Skipped
	skip := func(sk report.Skipped) {
		s.say("%s: not run: %s", sk.Name, sk.Reason)
		skipped = append(skipped, sk)
		sum.Rungs = append(sum.Rungs, Rung{Name: sk.Name, Kind: runs.Transfer, Skipped: sk.Reason, Fix: sk.Fix})
	}
	if m, err := datasets.ReadManifest(scratchData); err == nil {
		all := m.Seen + m.LeftOut
		transfer := all
		if s.p.TransferPerClass > 0 {
			transfer = min(all, len(m.Classes)*s.p.TransferPerClass)
		}
		s.plan = newPlan(s, m.Kept, transfer)
	}
	for _, name := range s.archs() {
		ss := SeedSummary{Name: name}
		for k := range max(s.opts.Seeds, 1) {
			seed := s.opts.Seed + uint64(k)
			r, err := s.scratch(ctx, scratchData, name, seed)
			if err != nil {
				return nil, err
			}
			sum.Rungs = append(sum.Rungs, r)
			ss.Seeds, ss.Accuracies = append(ss.Seeds, seed), append(ss.Accuracies, r.Accuracy)
		}
		if len(ss.Seeds) > 1 {
			ss.Mean, ss.SD = meanSD(ss.Accuracies)
			s.say("%s over %d seeds: test accuracy %.2f%% ± %.2f", name, len(ss.Seeds), 100*ss.Mean, 100*ss.SD)
			sum.Seeds = append(sum.Seeds, ss)
		}
	}

	// Transfer rungs: a head on each backbone's frozen features.
	feats := map[string]string{} // features folder by backbone
	data := map[string]string{}  // dataset folder by backbone
	for _, name := range s.backbones() {
		atHand := slices.Contains(s.p.AtHand, name) && s.opts.Backbones == nil
		spec, err := backbones.Lookup(name, s.opts.Backbone)
		if err != nil {
			return nil, fmt.Errorf("study: %w", err)
		}
		dir := scratchData
		if !spec.Random { // random weights show the pipeline, on the CNNs' photos
			if dir, err = s.prepare(ctx, s.p.TransferSize, s.p.TransferPerClass); err != nil {
				return nil, err
			}
		}
		r, fdir, err := s.transfer(ctx, dir, name, atHand)
		var missing *backbones.WeightsError
		if errors.As(err, &missing) {
			skip(skippedBackbone(name, missing, atHand))
			continue
		}
		if err != nil {
			return nil, err
		}
		feats[name], data[name] = fdir, dir
		sum.Rungs = append(sum.Rungs, r)
	}
	if s.opts.Backbones == nil {
		for _, ft := range s.p.FineTune {
			if _, ok := feats[ft.Backbone]; !ok {
				skip(report.Skipped{Name: ft.Name(), Reason: "backbone " + ft.Backbone + " did not run", Fix: "give its weights (see its own row)"})
				continue
			}
			r, err := s.fineTune(ctx, data[ft.Backbone], ft)
			if err != nil {
				return nil, err
			}
			sum.Rungs = append(sum.Rungs, r)
		}
		for _, join := range s.p.Joins {
			name := strings.Join(join, "+") + "-head"
			var dirs []string
			for _, b := range join {
				if d, ok := feats[b]; ok && data[b] == data[join[0]] {
					dirs = append(dirs, d)
				}
			}
			if len(dirs) != len(join) {
				skip(report.Skipped{Name: name, Reason: "not every backbone of the join ran on the same photos", Fix: "give their weights (see their own rows)"})
				continue
			}
			r, err := s.joined(ctx, data[join[0]], dirs)
			if err != nil {
				return nil, err
			}
			sum.Rungs = append(sum.Rungs, r)
		}
		if s.p.Flip {
			if r, ok, err := s.flip(ctx, sum.Rungs); err != nil {
				return nil, err
			} else if ok {
				sum.Rungs = append(sum.Rungs, r)
			}
		}
	}
	if err := report.WriteSkipped(s.runs, skipped); err != nil {
		return nil, fmt.Errorf("study: %w", err)
	}

	s.say("writing the comparison page")
	if err := report.Index(ctx, s.runs, report.IndexOptions{Skipped: skipped, Report: s.reportOpts()}); err != nil {
		return nil, fmt.Errorf("study: comparison page: %w", err)
	}
	sum.Index = filepath.Join(s.runs, report.IndexHTML)
	sum.Seconds = time.Since(sum.Started).Seconds()
	if err := atomicfile.WriteJSON(filepath.Join(s.dir, SummaryFile), sum); err != nil {
		return nil, fmt.Errorf("study: %w", err)
	}
	return sum, nil
}

// study is one Run's state.
type study struct {
	opts Options
	p    Profile
	dir  string
	runs string
	plan *plan // the rungs ahead, for "rung i of n" and the time left
}

// begin says that rung name starts: which of how many, and the time left.
func (s *study) begin(name string) {
	if s.plan != nil {
		s.say("%s", s.plan.next(name))
	}
}

func newStudy(opts Options) (*study, error) {
	p := opts.Profile
	if p.Name == "" {
		p = Quick()
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	dir := opts.Dir
	if dir == "" {
		dir = "catdog-study"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("study: %w", err)
	}
	return &study{opts: opts, p: p, dir: dir, runs: filepath.Join(dir, "runs")}, nil
}

func (s *study) say(format string, args ...any) {
	if s.opts.Notify != nil {
		s.opts.Notify(fmt.Sprintf(format, args...))
	}
}

func (s *study) progress(step string) func(done, total int) {
	if s.opts.Progress == nil {
		return nil
	}
	return func(done, total int) { s.opts.Progress(step, done, total) }
}

func (s *study) archs() []string {
	if s.opts.Archs != nil {
		return s.opts.Archs
	}
	if s.p.Archs != nil {
		return s.p.Archs
	}
	var names []string
	for _, a := range finetune.Architectures() {
		names = append(names, a.Name)
	}
	return names
}

// backbones returns the transfer rungs' backbones: Options.Backbones, else the profile's
// Backbones and AtHand.
func (s *study) backbones() []string {
	if s.opts.Backbones != nil {
		return s.opts.Backbones
	}
	return append(append([]string(nil), s.p.Backbones...), s.p.AtHand...)
}

// backboneOpts returns the options to load backbone name with.
func (s *study) backboneOpts(name string) backbones.Options {
	o := s.opts.Backbone
	o.Seed = s.opts.Seed
	o.Progress = s.progress("download " + name)
	o.File = s.opts.BackboneFiles[name]
	return o
}

func (s *study) reportOpts() report.Options {
	return report.Options{OpenPhotos: func(dir string) (report.Photos, error) { return datasets.Open(dir) }}
}

// prepare makes the dataset folder for one image size and number of photos per class (0:
// all), or reuses it when it was made from the same source with the same settings.
func (s *study) prepare(ctx context.Context, size, perClass int) (string, error) {
	name := fmt.Sprintf("data-%d", size)
	if perClass > 0 {
		name = fmt.Sprintf("data-%d-%d", size, perClass)
	}
	dir := filepath.Join(s.dir, name)
	if m, err := datasets.ReadManifest(dir); err == nil && s.sameData(m, size, perClass) {
		s.say("prepare %dx%d: reusing %s (%d images)", size, size, dir, m.Kept)
		return dir, nil
	}
	s.say("prepare %dx%d into %s", size, size, dir)
	m, err := datasets.Prepare(ctx, datasets.Options{
		Data:     s.opts.Data,
		Out:      dir,
		Size:     size,
		Seed:     s.opts.Seed,
		PerClass: perClass,
		Classes:  s.opts.Classes,
		Download: s.opts.Download,
		Warn:     func(msg string) { s.say("prepare %dx%d: warning: %s", size, size, msg) },
		Progress: s.progress(fmt.Sprintf("prepare %d", size)),
	})
	if err != nil {
		return "", fmt.Errorf("study: %w", err)
	}
	s.say("prepare %dx%d: %d images kept, %d skipped", size, size, m.Kept, len(m.Skipped))
	return dir, nil
}

// sameData reports whether manifest m is what preparing the study's source at size would give.
func (s *study) sameData(m *datasets.Manifest, size, perClass int) bool {
	if m.Size != size || m.Seed != s.opts.Seed || m.PerClass != perClass || s.opts.Data == "" {
		return false
	}
	if !slices.Equal(m.ClassesAsked, s.opts.Classes) && len(m.ClassesAsked)+len(s.opts.Classes) > 0 {
		return false // classes picked or ordered otherwise
	}
	abs, err := filepath.Abs(s.opts.Data)
	return err == nil && m.Source.Path == abs
}

func (s *study) trainConfig(name string, epochs int) finetune.Config {
	c := finetune.DefaultConfig()
	c.Name, c.RunsDir, c.Epochs, c.Seed = name, s.runs, epochs, s.opts.Seed
	c.Batch, c.Optimizer, c.LR, c.Patience = s.p.Batch, s.p.Optimizer, s.p.LR, s.p.Patience
	c.Progress = func(p finetune.Progress) {
		if s.opts.Progress != nil {
			s.opts.Progress(fmt.Sprintf("%s epoch %d", name, p.Epoch), p.Batch, p.Batches)
		}
	}
	c.OnEpoch = func(e runs.Epoch) {
		s.say("%s epoch %d: loss %.4f acc %.3f, valid loss %.4f acc %.3f (%.0fs)",
			name, e.Epoch, e.TrainLoss, e.TrainAcc, e.ValidLoss, e.ValidAcc, e.Seconds)
	}
	return c
}

// scratch trains one from-scratch rung.
func (s *study) scratch(ctx context.Context, data, name string, seed uint64) (Rung, error) {
	arch, err := finetune.Arch(name)
	if err != nil {
		return Rung{}, fmt.Errorf("study: %w", err)
	}
	if s.opts.Seeds > 1 {
		s.begin(fmt.Sprintf("%s, seed %d", name, seed))
	} else {
		s.begin(name)
	}
	s.say("train %s: %s", name, arch.Description)
	cfg := s.trainConfig(name, s.p.Epochs)
	cfg.Seed = seed
	if arch.Augment && s.p.Augment != "" {
		o, err := finetune.AugmentByName(s.p.Augment)
		if err != nil {
			return Rung{}, fmt.Errorf("study: %w", err)
		}
		cfg.Augment = &o
	}
	res, err := finetune.TrainCNN(ctx, data, arch, cfg)
	if err != nil {
		return Rung{}, fmt.Errorf("study: training %s: %w", name, err)
	}
	r, err := s.finish(ctx, data, name, runs.Scratch, res)
	r.Seed = seed
	return r, err
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

// extract computes (or finds in the cache) the features of backbone name on a dataset, and
// returns their folder, opened.
func (s *study) extract(ctx context.Context, data, name string, bopts backbones.Options, dtype, out string) (*features.Result, error) {
	s.say("extract-features %s on %s", name, data)
	fr, err := features.Extract(ctx, features.Options{
		Backbone:  name,
		Backbones: bopts,
		Data:      data,
		Out:       out,
		DType:     dtype,
		Provider:  s.opts.Provider,
		Progress:  s.progress("features " + name),
		Notify:    func(msg string) { s.say("extract-features %s: %s", name, msg) },
	})
	if err != nil {
		return nil, fmt.Errorf("study: features of %s: %w", name, err)
	}
	if fr.CacheHit {
		s.say("extract-features %s: cache hit (%s)", name, fr.Dir)
	}
	return fr, nil
}

// transfer extracts a backbone's features and trains a head on them. atHand means: only
// when the weights are in the cache or given, never downloaded.
func (s *study) transfer(ctx context.Context, data, name string, atHand bool) (Rung, string, error) {
	s.begin(name + "-head")
	bopts := s.backboneOpts(name)
	bopts.NoDownload = bopts.NoDownload || atHand
	fr, err := s.extract(ctx, data, name, bopts, "", "")
	if err != nil {
		return Rung{}, "", err
	}
	dir := fr.Dir
	head := name + "-head"
	s.say("finetune %s on %s", head, dir)
	cfg := s.trainConfig(head, s.p.HeadEpochs)
	if cfg.Backbone, err = transfer.Compose(fr.Info, fr.Backbone); err != nil { // as extracted: no second conversion
		return Rung{}, "", fmt.Errorf("study: %w", err)
	}
	res, err := finetune.TrainHead(ctx, dir, cfg)
	if err != nil {
		return Rung{}, "", fmt.Errorf("study: training %s: %w", head, err)
	}
	r, err := s.finish(ctx, data, head, runs.Transfer, res)
	return r, dir, err
}

// fineTune trains a backbone's top block further, with a head, from features taken below it.
func (s *study) fineTune(ctx context.Context, data string, ft FineTune) (Rung, error) {
	s.begin(ft.Name())
	bopts := s.backboneOpts(ft.Backbone)
	bopts.CutAt = ft.From
	fr, err := s.extract(ctx, data, ft.Backbone, bopts, "", "")
	if err != nil {
		return Rung{}, err
	}
	dir := fr.Dir
	bopts.CutAt = ""
	top, err := transfer.TopBlock(ctx, fr.Info, bopts)
	if err != nil {
		return Rung{}, fmt.Errorf("study: %w", err)
	}
	name := ft.Name()
	cfg := s.trainConfig(name, ft.Epochs)
	cfg.LR = ft.LR
	head, err := finetune.ParseLayers(ft.Head)
	if err == nil { // the profile's head is made for two classes: for the data's
		head, err = finetune.WithClasses(head, len(fr.Info.ClassNames()))
	}
	if err != nil {
		return Rung{}, fmt.Errorf("study: %s: %w", ft.Name(), err)
	}
	cfg.Head = finetune.SpecString(append(slices.Clone(top.Layers), head...))
	cfg.Weights, cfg.InitFrom = top.Weights, fmt.Sprintf("%s's pretrained layers from %s on", ft.Backbone, ft.From)
	s.say("finetune %s: %s's top block %s from its pretrained weights, then %s", name, ft.Backbone, finetune.SpecString(top.Layers), finetune.SpecString(head))
	if cfg.Backbone, err = transfer.Compose(fr.Info, fr.Backbone); err != nil {
		return Rung{}, fmt.Errorf("study: %w", err)
	}
	res, err := finetune.TrainHead(ctx, dir, cfg)
	if err != nil {
		return Rung{}, fmt.Errorf("study: training %s: %w", name, err)
	}
	return s.finish(ctx, data, name, runs.Transfer, res)
}

// joined trains a head on the joined features of several backbones (dirs: their features
// folders on data).
func (s *study) joined(ctx context.Context, data string, dirs []string) (Rung, error) {
	var bbs []*finetune.Backbone
	var names []string
	for _, d := range dirs {
		info, err := features.Open(d)
		if err != nil {
			return Rung{}, fmt.Errorf("study: %w", err)
		}
		bb, err := transfer.Backbone(ctx, info, s.backboneOpts(info.Backbone))
		if err != nil {
			return Rung{}, fmt.Errorf("study: %w", err)
		}
		bbs, names = append(bbs, bb), append(names, info.Backbone)
	}
	name := strings.Join(names, "+") + "-head"
	s.begin(name)
	s.say("finetune %s: one head on the features of %s side by side", name, strings.Join(names, " and "))
	cfg := s.trainConfig(name, s.p.HeadEpochs)
	cfg.JoinFeatures = dirs[1:]
	var err error
	if cfg.Backbone, err = finetune.JoinBackbones(bbs...); err != nil {
		return Rung{}, fmt.Errorf("study: %w", err)
	}
	res, err := finetune.TrainHead(ctx, dirs[0], cfg)
	if err != nil {
		return Rung{}, fmt.Errorf("study: training %s: %w", name, err)
	}
	return s.finish(ctx, data, name, runs.Transfer, res)
}

// finish evaluates a trained model's export on onnxruntime, records the result in its run
// folder and writes its document.
func (s *study) finish(ctx context.Context, data, name, kind string, res *finetune.Result) (Rung, error) {
	r := Rung{Name: name, Kind: kind, Dir: res.Dir, Params: res.Params, Epochs: len(res.History.Epochs), Seconds: res.TrainSeconds, data: data,
		Seed: s.opts.Seed}
	ev, err := evaluate.Test(ctx, res.ModelPath, data, s.opts.Provider, s.progress("evaluate "+name))
	if err != nil {
		return r, fmt.Errorf("study: evaluating %s: %w", name, err)
	}
	r.MaxDiff = maxDiff(ev.Probs, res.TestProbs)
	r.ValidAccuracy = res.History.BestValidAcc
	if err := ev.WriteRun(res.Dir); err != nil {
		return r, fmt.Errorf("study: %w", err)
	}
	check := runs.ExportCheck{Runtime: ev.Runtime, Engine: finetune.Engine(), Images: len(ev.Labels), MaxDiff: r.MaxDiff}
	check.SameClass = sameClass(ev.Probs, res.TestProbs, len(ev.Classes))
	if err := runs.WriteJSON(res.Dir, runs.ExportCheckFile, check); err != nil {
		return r, fmt.Errorf("study: %w", err)
	}
	r.setAccuracy(ev)
	s.say("%s: test accuracy %.2f%% [%.2f, %.2f] on onnxruntime (largest difference from Gorgonia %.1e), %d epochs, %.0fs",
		name, 100*r.Accuracy, 100*r.AccuracyLow, 100*r.AccuracyHigh, r.MaxDiff, r.Epochs, r.Seconds)
	if err := report.Write(res.Dir, s.reportOpts()); err != nil {
		return r, fmt.Errorf("study: document of %s: %w", name, err)
	}
	return r, nil
}

// setAccuracy records an evaluation's test accuracy and its 95 % interval.
func (r *Rung) setAccuracy(ev *evaluate.Result) {
	r.Accuracy, r.TestPhotos = ev.Report.Accuracy, ev.Report.N
	r.AccuracyLow, r.AccuracyHigh = ev.Report.AccuracyInterval()
}

// sameClass counts the images two sets of probabilities (as evaluate.Split returns them,
// for classes classes) predict the same class for: the side of 0.5 for two classes, the
// most probable one for more.
func sameClass(a, b []float32, classes int) int {
	if len(a) != len(b) {
		return 0
	}
	n := 0
	if classes <= 2 {
		for i := range a {
			if (a[i] >= 0.5) == (b[i] >= 0.5) {
				n++
			}
		}
		return n
	}
	argmax := func(row []float32) int {
		k := 0
		for j, p := range row {
			if p > row[k] {
				k = j
			}
		}
		return k
	}
	for i := 0; i+classes <= len(a); i += classes {
		if argmax(a[i:i+classes]) == argmax(b[i:i+classes]) {
			n++
		}
	}
	return n
}

func maxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return 1
	}
	var m float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		if d < 0 {
			d = -d
		}
		m = max(m, d)
	}
	return m
}

// skippedBackbone explains why a backbone's weights could not be had and what to do about
// it. atHand says the profile only uses weights already at hand.
func skippedBackbone(name string, err *backbones.WeightsError, atHand bool) report.Skipped {
	fix := fmt.Sprintf("give its weights with --backbone-file %s=PATH, or import it with catdog backbones import PATH --name %s", name, name)
	if name == backbones.VGG16 {
		fix = "get vgg16-12.onnx (ONNX model zoo, validated/vision/classification/vgg/model/vgg16-12.onnx in github.com/onnx/models; 553,437,752 bytes) and run again with --backbone-file vgg16=PATH, or run once with internet access: catdog downloads it into its cache"
	}
	reason := "weights not found: " + firstLine(err.Error())
	if atHand {
		reason = fmt.Sprintf("weights not at hand (%s is not in the cache, and this profile does not download it)", err.File)
		if name == backbones.VGG16 {
			fix = "give vgg16-12.onnx with --backbone-file vgg16=PATH (ONNX model zoo, validated/vision/classification/vgg/model/vgg16-12.onnx in github.com/onnx/models; 553,437,752 bytes), or use --profile full, which downloads it"
		}
	}
	return report.Skipped{Name: name + "-head", Reason: reason, Fix: fix}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func perClassText(n int) string {
	if n == 0 {
		return "every photo"
	}
	return fmt.Sprintf("%d photos per class", n)
}
