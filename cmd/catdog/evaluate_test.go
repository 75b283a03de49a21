package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/metrics"
)

// prepareSmall prepares a dataset of n shared photos (half cats, half dogs) at size x size.
func prepareSmall(t testing.TB, n, size int) string {
	t.Helper()
	src := fixtures.Photos(t, n)
	out := filepath.Join(t.TempDir(), "data")
	if _, err := datasets.Prepare(context.Background(), datasets.Options{Data: src, Out: out, Size: size, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEvaluateCommand(t *testing.T) {
	fixtures.RequireORT(t)
	data := prepareSmall(t, 60, 32)
	model := fixtures.BrightnessModel(t, 32)
	mfile := filepath.Join(t.TempDir(), "metrics.json")
	out, _, err := runCatdog(t, "evaluate", "-q", "--ep", "cpu", "--json", "--model", model, "--data", data, "--metrics", mfile)
	if err != nil {
		t.Fatal(err)
	}
	var got metrics.Report
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	fileData, err := os.ReadFile(mfile)
	if err != nil || strings.TrimSpace(string(fileData)) != strings.TrimSpace(out) {
		t.Errorf("metrics file differs from the printed JSON (%v)", err)
	}

	// The same scores computed in Go from the stored pixels.
	ds, err := datasets.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	var labels []uint8
	var probs []float64
	it := ds.Batches(datasets.Test, datasets.BatchOptions{Size: 7})
	for it.Next() {
		b := it.Batch()
		per := 32 * 32 * 3
		for i := 0; i < b.Len(); i++ {
			var s float64
			for _, v := range b.Images[i*per : (i+1)*per] {
				s += float64(v)
			}
			probs = append(probs, 1/(1+math.Exp(-(s/float64(per)-128)/32)))
		}
		labels = append(labels, b.Labels...)
	}
	want, err := metrics.Compute(labels, probs, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got.N != len(ds.Split(datasets.Test)) || got.N != want.N || !reflect.DeepEqual(got.Confusion, want.Confusion) ||
		math.Abs(got.AUC-want.AUC) > 1e-6 || math.Abs(got.LogLoss-want.LogLoss) > 1e-5 || got.Accuracy != want.Accuracy {
		t.Errorf("evaluate = n %d conf %v auc %v loss %v acc %v; want n %d conf %v auc %v loss %v acc %v",
			got.N, got.Confusion, got.AUC, got.LogLoss, got.Accuracy, want.N, want.Confusion, want.AUC, want.LogLoss, want.Accuracy)
	}

	// Text output has the report layout.
	out, _, err = runCatdog(t, "evaluate", "-q", "--ep", "cpu", "--model", model, "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"precision", "recall", "f1-score", "support", "macro avg", "weighted avg", "ROC AUC", "log loss", "confusion matrix"} {
		if !strings.Contains(out, s) {
			t.Errorf("text output lacks %q:\n%s", s, out)
		}
	}

	// A model of another size is refused with advice.
	_, _, err = runCatdog(t, "evaluate", "-q", "--ep", "cpu", "--model", fixtures.BrightnessModel(t, 48), "--data", data)
	if err == nil || !strings.Contains(err.Error(), "--size 48") {
		t.Errorf("size mismatch: err = %v", err)
	}
}
