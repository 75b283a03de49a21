// Package evaluate scores an exported model (model.onnx) on a prepared dataset with
// onnxruntime, through the classifier that a service would embed: the test accuracy every
// run reports is the exported model's, not the training engine's.
package evaluate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/metrics"
	"github.com/catdog-ml/catdog/runs"
)

// Split runs the classifier c over one split of a prepared dataset (catdog prepare), batch
// images at a time, and returns the true labels and the probabilities, in the split's order:
// for two classes the probability of label 1 (cat) per image, for more every class's, row
// by row (classifier.Probabilities). The stored pixels are fed as they are, so the dataset
// must be prepared at the model's input size; the model's labels must be the dataset's
// classes, in the same order. progress, if set, is called after each batch.
func Split(ctx context.Context, c *classifier.Classifier, ds *datasets.Dataset, split string, batch int, progress func(done, total int)) ([]uint8, []float32, error) {
	if ds.Size() != c.InputSize() {
		return nil, nil, fmt.Errorf("the dataset holds %dx%d images but the model takes %dx%d: prepare the data with --size %d",
			ds.Size(), ds.Size(), c.InputSize(), c.InputSize(), c.InputSize())
	}
	if !slices.Equal(c.Labels(), ds.Classes()) {
		return nil, nil, fmt.Errorf("the model's labels are %s, the dataset's classes %s: score a model on data of its own classes, in the same order",
			strings.Join(c.Labels(), ","), strings.Join(ds.Classes(), ","))
	}
	it := ds.Batches(split, datasets.BatchOptions{Size: batch})
	var (
		labels []uint8
		probs  []float32
		done   int
	)
	for it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		b := it.Batch()
		p, err := c.Probabilities(b.Images, b.Len())
		if err != nil {
			return nil, nil, fmt.Errorf("split %s: %w", split, err)
		}
		labels = append(labels, b.Labels...)
		probs = append(probs, p...)
		done++
		if progress != nil {
			progress(done, it.Len())
		}
	}
	if err := it.Err(); err != nil {
		return nil, nil, fmt.Errorf("split %s: %w", split, err)
	}
	return labels, probs, nil
}

// Result is an exported model scored on the test split of a prepared dataset.
type Result struct {
	Labels []uint8
	// Probs are the probabilities as Split returns them: one per image for two classes,
	// Classes per image for more.
	Probs   []float32
	Classes []string
	Report  *metrics.Report
	// Runtime names the engine that ran the model ("onnxruntime 1.30.0 (cpu)").
	Runtime string
}

// Test scores the model file on onnxruntime on the test split of the dataset folder.
func Test(ctx context.Context, model, data, provider string, progress func(done, total int)) (*Result, error) {
	c, err := classifier.Load(model, classifier.WithProvider(provider))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ds, err := datasets.Open(data)
	if err != nil {
		return nil, err
	}
	defer ds.Close()
	labels, probs, err := Split(ctx, c, ds, datasets.Test, 64, progress)
	if err != nil {
		return nil, err
	}
	p64 := make([]float64, len(probs))
	for i, p := range probs {
		p64[i] = float64(p)
	}
	rep, err := metrics.ComputeClasses(labels, p64, ds.Classes(), metrics.Options{})
	if err != nil {
		return nil, err
	}
	return &Result{Labels: labels, Probs: probs, Classes: ds.Classes(), Report: rep, Runtime: c.Runtime()}, nil
}

// WriteRun records the evaluation in a run folder: predictions.npy, labels.npy and
// metrics.json, replacing the training engine's own test predictions with the exported
// model's.
func (e *Result) WriteRun(dir string) error {
	if err := runs.WriteTest(dir, e.Labels, e.Probs); err != nil {
		return err
	}
	return runs.WriteJSON(dir, runs.MetricsFile, e.Report)
}
