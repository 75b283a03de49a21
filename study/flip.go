package study

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/internal/atomicfile"
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
	for _, f := range []string{runs.ModelFile, runs.HistoryFile} {
		b, err := os.ReadFile(filepath.Join(best.Dir, f))
		if err != nil {
			return Rung{}, false, fmt.Errorf("study: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return Rung{}, false, fmt.Errorf("study: %w", err)
		}
	}
	var cfg map[string]any
	b, err := os.ReadFile(filepath.Join(best.Dir, runs.ConfigFile))
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil {
		return Rung{}, false, fmt.Errorf("study: %s of %s: %w", runs.ConfigFile, best.Dir, err)
	}
	cfg["arch"] = name
	cfg["description"] = fmt.Sprintf("%s (run %s) with test-time augmentation: the mean of its probabilities on each photo and on its mirror image", best.Name, filepath.Base(best.Dir))
	cfg["flip_average"] = true
	if err := atomicfile.WriteJSON(filepath.Join(dir, runs.ConfigFile), cfg); err != nil {
		return Rung{}, false, fmt.Errorf("study: %w", err)
	}
	m, err := onnx.Read(filepath.Join(best.Dir, runs.ONNXFile))
	if err != nil {
		return Rung{}, false, fmt.Errorf("study: %w", err)
	}
	f, err := onnx.FlipAverage(m, exported.InputName, exported.OutputName, 3)
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
	ev, err := Evaluate(ctx, path, best.data, s.opts.Provider, s.progress("evaluate "+name))
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
