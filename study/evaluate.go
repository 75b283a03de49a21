package study

import (
	"context"
	"fmt"

	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/datasets"
)

// EvaluateSplit runs the classifier c over one split of a prepared dataset (catdog prepare), batch
// images at a time, and returns the true labels and the probabilities of cat, in the split's
// order. The stored pixels are fed as they are, so the dataset must be prepared at the
// model's input size. progress, if set, is called after each batch.
func EvaluateSplit(ctx context.Context, c *classifier.Classifier, ds *datasets.Dataset, split string, batch int, progress func(done, total int)) ([]uint8, []float32, error) {
	if ds.Size() != c.InputSize() {
		return nil, nil, fmt.Errorf("the dataset holds %dx%d images but the model takes %dx%d: prepare the data with --size %d",
			ds.Size(), ds.Size(), c.InputSize(), c.InputSize(), c.InputSize())
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
