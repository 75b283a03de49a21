package runs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/npy"
)

// WriteTest writes a run's test predictions: PredictionsFile and LabelsFile (uint8 (N,),
// the true labels), each atomically. probs holds, in the split's order, one probability per
// test photo, of label 1, for two classes (written (N,)), or C >= 3 per photo, row after
// row (N·C values, written (N, C)). It is the one writer of these files: the training
// engine's predictions are written here once, and replaced by the exported model's when the
// run is evaluated on onnxruntime.
func WriteTest(dir string, labels []uint8, probs []float32) error {
	shape := []int{len(probs)}
	if n := len(labels); len(probs) != n {
		if n == 0 || len(probs)%n != 0 || len(probs)/n < 3 {
			return fmt.Errorf("runs: %d labels and %d predictions: want one per label (two classes) or three or more (one per class)", n, len(probs))
		}
		shape = []int{n, len(probs) / n}
	}
	if err := npy.WriteFile(filepath.Join(dir, PredictionsFile), shape, probs); err != nil {
		return fmt.Errorf("runs: %w", err)
	}
	if err := npy.WriteFile(filepath.Join(dir, LabelsFile), []int{len(labels)}, labels); err != nil {
		return fmt.Errorf("runs: %w", err)
	}
	return nil
}

// ReadTest reads what WriteTest wrote: probs holds one value per label (two classes) or C
// per label, row after row (C = len(probs)/len(labels) classes); ok is false when the run
// has no predictions (it is still training, or has no test split).
func ReadTest(dir string) (labels []uint8, probs []float32, ok bool, err error) {
	p := filepath.Join(dir, PredictionsFile)
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, false, nil
	}
	probs, shape, err := npy.ReadFile[float32](p)
	if err != nil {
		return nil, nil, false, fmt.Errorf("run %s: %w", dir, err)
	}
	labels, lshape, err := npy.ReadFile[uint8](filepath.Join(dir, LabelsFile))
	if err != nil {
		return nil, nil, false, fmt.Errorf("run %s: %w", dir, err)
	}
	if len(lshape) != 1 || len(shape) < 1 || len(shape) > 2 || shape[0] != lshape[0] || len(shape) == 2 && shape[1] < 3 {
		return nil, nil, false, fmt.Errorf("run %s: predictions of shape %v and labels of shape %v; want (N,) or (N, C >= 3) predictions and (N,) labels", dir, shape, lshape)
	}
	return labels, probs, true, nil
}

// WriteJSON writes v, the Go value of the run folder's JSON file name (ConfigFile,
// ModelFile, HistoryFile, ResultFile, MetricsFile or ExportCheckFile), into dir atomically.
func WriteJSON(dir, name string, v any) error {
	switch name {
	case ConfigFile, ModelFile, HistoryFile, ResultFile, MetricsFile, ExportCheckFile:
	default:
		return fmt.Errorf("runs: %s is not a JSON file of a run folder", name)
	}
	return atomicfile.WriteJSON(filepath.Join(dir, name), v)
}
