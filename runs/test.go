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

// WriteTest writes a run's test predictions: PredictionsFile (float32 (N,), the probability
// of label 1 per test photo, in the split's order) and LabelsFile (uint8 (N,), the true
// labels), each atomically. It is the one writer of these files: the training engine's
// predictions are written here once, and replaced by the exported model's when the run is
// evaluated on onnxruntime.
func WriteTest(dir string, labels []uint8, probs []float32) error {
	if len(labels) != len(probs) {
		return fmt.Errorf("runs: %d labels and %d predictions", len(labels), len(probs))
	}
	if err := npy.WriteFile(filepath.Join(dir, PredictionsFile), []int{len(probs)}, probs); err != nil {
		return fmt.Errorf("runs: %w", err)
	}
	if err := npy.WriteFile(filepath.Join(dir, LabelsFile), []int{len(labels)}, labels); err != nil {
		return fmt.Errorf("runs: %w", err)
	}
	return nil
}

// ReadTest reads what WriteTest wrote; ok is false when the run has no predictions (it is
// still training, or has no test split).
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
	if len(shape) != 1 || len(lshape) != 1 || shape[0] != lshape[0] {
		return nil, nil, false, fmt.Errorf("run %s: predictions of shape %v and labels of shape %v; want two (N,) arrays", dir, shape, lshape)
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
