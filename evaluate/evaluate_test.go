package evaluate

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/runs"
)

// TestTest scores a stand-in model on the test split of real photos: the probabilities are
// the classifier's on the stored pixels, the report counts them, and WriteRun records them
// where runs.ReadTest finds them. A dataset of another size is refused with the fix.
func TestTest(t *testing.T) {
	fixtures.RequireORT(t)
	data := filepath.Join(t.TempDir(), "data")
	if _, err := datasets.Prepare(context.Background(), datasets.Options{Data: fixtures.Photos(t, 40), Out: data, Size: 32, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	model := fixtures.BrightnessModel(t, 32)
	res, err := Test(context.Background(), model, data, "cpu", nil)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := datasets.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	c, err := classifier.Load(model, classifier.WithProvider("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	test := ds.Split(datasets.Test)
	if len(res.Probs) != len(test) || res.Report.N != len(test) {
		t.Fatalf("%d probabilities, report of %d, for %d test photos", len(res.Probs), res.Report.N, len(test))
	}
	px := make([]uint8, 32*32*3)
	for i, row := range test {
		img, err := ds.Image(int(row), px)
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Probabilities(img, 1)
		if err != nil {
			t.Fatal(err)
		}
		if p[0] != res.Probs[i] || ds.Labels()[row] != res.Labels[i] {
			t.Errorf("test photo %d: %v (label %d), evaluated %v (label %d)", i, p[0], ds.Labels()[row], res.Probs[i], res.Labels[i])
		}
	}
	dir := t.TempDir()
	if err := res.WriteRun(dir); err != nil {
		t.Fatal(err)
	}
	labels, probs, ok, err := runs.ReadTest(dir)
	if err != nil || !ok || !slices.Equal(labels, res.Labels) || !slices.Equal(probs, res.Probs) {
		t.Errorf("WriteRun then ReadTest: %v %v", ok, err)
	}
	if _, err := Test(context.Background(), fixtures.BrightnessModel(t, 48), data, "cpu", nil); err == nil || !strings.Contains(err.Error(), "--size 48") {
		t.Errorf("a model of another size: %v", err)
	}
}
