package study

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/catdog-ml/catdog/evaluate"
	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/report"
	"github.com/catdog-ml/catdog/runs"
)

// flip makes a rung of the transfer rung with the best validation accuracy, averaged over
// each photo and its mirror image (test-time augmentation): its model.onnx behind
// onnx.FlipAverage, in a run folder of its own holding a copy of the base run's record.
// It reports false when no transfer rung ran.
func (s *study) flip(ctx context.Context, rungs []Rung) (Rung, bool, error) {
	var best *Rung
	for i := range rungs {
		r := &rungs[i]
		if r.Kind == runs.Transfer && r.Skipped == "" && r.Dir != "" && (best == nil || r.ValidAccuracy > best.ValidAccuracy) {
			best = r
		}
	}
	if best == nil {
		return Rung{}, false, nil
	}
	name := best.Name + "-flip"
	s.begin(name)
	s.say("%s: %s (the best validation accuracy, %.2f%%) averaged over each photo and its mirror image", name, best.Name, 100*best.ValidAccuracy)
	dir, err := runs.NewDir(s.runs, name)
	if err != nil {
		return Rung{}, false, fmt.Errorf("study: %w", err)
	}
	// The record of the base run: how it was trained is how this one was.
	var model runs.Model
	var hist runs.History
	for _, f := range []struct {
		name string
		v    any
	}{{runs.ModelFile, &model}, {runs.HistoryFile, &hist}} {
		ok, err := runs.ReadOptional(best.Dir, f.name, f.v)
		if err == nil && !ok {
			err = fmt.Errorf("%s has no %s", best.Dir, f.name)
		}
		if err == nil {
			err = runs.WriteJSON(dir, f.name, f.v)
		}
		if err != nil {
			return Rung{}, false, fmt.Errorf("study: %w", err)
		}
	}
	cfg, _, err := runs.ReadConfig(best.Dir)
	if err != nil {
		return Rung{}, false, fmt.Errorf("study: %w", err)
	}
	cfg.Arch = name
	cfg.Description = fmt.Sprintf("%s (run %s) with test-time augmentation: the mean of its probabilities on each photo and on its mirror image", best.Name, filepath.Base(best.Dir))
	cfg.FlipAverage = true
	if err := runs.WriteJSON(dir, runs.ConfigFile, cfg); err != nil {
		return Rung{}, false, fmt.Errorf("study: %w", err)
	}
	m, err := onnx.Read(filepath.Join(best.Dir, runs.ONNXFile))
	if err != nil {
		return Rung{}, false, fmt.Errorf("study: %w", err)
	}
	out := exported.OutputName
	if len(cfg.Classes) > 2 {
		out = exported.ProbabilitiesName
	}
	f, err := onnx.FlipAverage(m, exported.InputName, out, 3)
	if err != nil {
		return Rung{}, false, fmt.Errorf("study: %s: %w", name, err)
	}
	f.SetMetadata(exported.MetaFlipAverage, "true")
	path := filepath.Join(dir, runs.ONNXFile)
	if err := f.Write(path); err != nil {
		return Rung{}, false, fmt.Errorf("study: %w", err)
	}
	r := Rung{Name: name, Kind: runs.Transfer, Dir: dir, Params: best.Params, Epochs: best.Epochs, Seconds: best.Seconds,
		ValidAccuracy: best.ValidAccuracy, MaxDiff: best.MaxDiff, data: best.data}
	ev, err := evaluate.Test(ctx, path, best.data, s.opts.Provider, s.progress("evaluate "+name))
	if err != nil {
		return r, false, fmt.Errorf("study: evaluating %s: %w", name, err)
	}
	if err := ev.WriteRun(dir); err != nil {
		return r, false, fmt.Errorf("study: %w", err)
	}
	r.setAccuracy(ev)
	s.say("%s: test accuracy %.2f%% [%.2f, %.2f] on onnxruntime (%s: %.2f%%)", name, 100*r.Accuracy, 100*r.AccuracyLow, 100*r.AccuracyHigh, best.Name, 100*best.Accuracy)
	if err := report.Write(dir, s.reportOpts()); err != nil {
		return r, false, fmt.Errorf("study: document of %s: %w", name, err)
	}
	return r, true, nil
}
