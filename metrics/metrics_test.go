package metrics

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func nearStats(a, b ClassStats) bool {
	return near(a.Precision, b.Precision) && near(a.Recall, b.Recall) && near(a.F1, b.F1) && a.Support == b.Support
}

func TestCompute(t *testing.T) {
	tests := []struct {
		name      string
		labels    []uint8
		probs     []float64
		accuracy  float64
		dog, cat  ClassStats
		macro, wt ClassStats
		confusion [][]int
		auc       float64
		logLoss   float64
		warnings  int
	}{
		{
			// 3 dogs, 4 cats; predicted dog dog cat | cat dog cat cat.
			name:      "mixed",
			labels:    []uint8{0, 0, 0, 1, 1, 1, 1},
			probs:     []float64{0.1, 0.6, 0.4, 0.9, 0.3, 0.8, 0.5},
			accuracy:  5.0 / 7,
			dog:       ClassStats{2.0 / 3, 2.0 / 3, 2.0 / 3, 3},
			cat:       ClassStats{0.75, 0.75, 0.75, 4},
			macro:     ClassStats{(2.0/3 + 0.75) / 2, (2.0/3 + 0.75) / 2, (2.0/3 + 0.75) / 2, 7},
			wt:        ClassStats{5.0 / 7, 5.0 / 7, 5.0 / 7, 7},
			confusion: [][]int{{2, 1}, {1, 3}},
			auc:       9.0 / 12, // cat scores beat 3+1+3+2 of the 12 (cat, dog) pairs
			logLoss:   0.5368715604508413,
		},
		{
			// No photo predicted dog: dog precision is 0/0, set to 0 with a warning.
			name:      "no dog predicted",
			labels:    []uint8{0, 1, 1},
			probs:     []float64{0.7, 0.8, 0.9},
			accuracy:  2.0 / 3,
			dog:       ClassStats{0, 0, 0, 1},
			cat:       ClassStats{2.0 / 3, 1, 0.8, 2},
			macro:     ClassStats{1.0 / 3, 0.5, 0.4, 3},
			wt:        ClassStats{4.0 / 9, 2.0 / 3, 1.6 / 3, 3},
			confusion: [][]int{{0, 1}, {0, 2}},
			auc:       1,
			logLoss:   0.5108256237659906,
			warnings:  1,
		},
		{
			// A tie between a cat and a dog counts one half.
			name:      "ties",
			labels:    []uint8{0, 1, 0, 1},
			probs:     []float64{0.5, 0.5, 0.2, 0.8},
			accuracy:  0.75,
			dog:       ClassStats{1, 0.5, 2.0 / 3, 2},
			cat:       ClassStats{2.0 / 3, 1, 0.8, 2},
			macro:     ClassStats{5.0 / 6, 0.75, (2.0/3 + 0.8) / 2, 4},
			wt:        ClassStats{5.0 / 6, 0.75, (2.0/3 + 0.8) / 2, 4},
			confusion: [][]int{{1, 1}, {0, 2}},
			auc:       3.5 / 4,
			logLoss:   -(math.Log(0.5) + math.Log(0.5) + math.Log(0.8) + math.Log(0.8)) / 4,
		},
		{
			// Confidently wrong at 0 and 1: the log loss is clipped, not infinite.
			name:      "clipped",
			labels:    []uint8{1, 0},
			probs:     []float64{0, 1},
			accuracy:  0,
			dog:       ClassStats{0, 0, 0, 1},
			cat:       ClassStats{0, 0, 0, 1},
			macro:     ClassStats{0, 0, 0, 2},
			wt:        ClassStats{0, 0, 0, 2},
			confusion: [][]int{{0, 1}, {1, 0}},
			auc:       0,
			logLoss:   36.04365338911715,
		},
		{
			// Only cats: AUC is undefined, recall of dog is 0/0.
			name:      "one class",
			labels:    []uint8{1, 1},
			probs:     []float64{0.9, 0.2},
			accuracy:  0.5,
			dog:       ClassStats{0, 0, 0, 0},
			cat:       ClassStats{1, 0.5, 2.0 / 3, 2},
			macro:     ClassStats{0.5, 0.25, 1.0 / 3, 2},
			wt:        ClassStats{1, 0.5, 2.0 / 3, 2},
			confusion: [][]int{{0, 0}, {1, 1}},
			auc:       0,
			logLoss:   -(math.Log(0.9) + math.Log(0.2)) / 2,
			warnings:  2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Compute(tt.labels, tt.probs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !near(r.Accuracy, tt.accuracy) {
				t.Errorf("accuracy %v, want %v", r.Accuracy, tt.accuracy)
			}
			for _, c := range []struct {
				name      string
				got, want ClassStats
			}{{"dog", r.PerClass[0], tt.dog}, {"cat", r.PerClass[1], tt.cat}, {"macro", r.MacroAvg, tt.macro}, {"weighted", r.WeightedAvg, tt.wt}} {
				if !nearStats(c.got, c.want) {
					t.Errorf("%s: %+v, want %+v", c.name, c.got, c.want)
				}
			}
			if !reflect.DeepEqual(r.Confusion, tt.confusion) {
				t.Errorf("confusion %v, want %v", r.Confusion, tt.confusion)
			}
			if !near(r.AUC, tt.auc) {
				t.Errorf("AUC %v, want %v", r.AUC, tt.auc)
			}
			if !near(r.LogLoss, tt.logLoss) {
				t.Errorf("log loss %v, want %v", r.LogLoss, tt.logLoss)
			}
			if len(r.Warnings) != tt.warnings {
				t.Errorf("warnings %q, want %d", r.Warnings, tt.warnings)
			}
		})
	}
}

// The expected texts were laid out by hand following scikit-learn's
// classification_report(y_true, y_pred, target_names=["dog", "cat"], digits=...).
func TestText(t *testing.T) {
	tests := []struct {
		labels []uint8
		probs  []float64
		digits int
		want   string
	}{
		{[]uint8{0, 0, 0, 1, 1, 1, 1}, []float64{0.1, 0.6, 0.4, 0.9, 0.3, 0.8, 0.5}, 2, `              precision    recall  f1-score   support

         dog       0.67      0.67      0.67         3
         cat       0.75      0.75      0.75         4

    accuracy                           0.71         7
   macro avg       0.71      0.71      0.71         7
weighted avg       0.71      0.71      0.71         7
`},
		{[]uint8{0, 1, 1}, []float64{0.7, 0.8, 0.9}, 4, `              precision    recall  f1-score   support

         dog     0.0000    0.0000    0.0000         1
         cat     0.6667    1.0000    0.8000         2

    accuracy                         0.6667         3
   macro avg     0.3333    0.5000    0.4000         3
weighted avg     0.4444    0.6667    0.5333         3
`},
		{[]uint8{0, 1, 0, 1}, []float64{0.5, 0.5, 0.2, 0.8}, 0, `              precision    recall  f1-score   support

         dog       1.00      0.50      0.67         2
         cat       0.67      1.00      0.80         2

    accuracy                           0.75         4
   macro avg       0.83      0.75      0.73         4
weighted avg       0.83      0.75      0.73         4
`},
	}
	for _, tt := range tests {
		r, err := Compute(tt.labels, tt.probs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Text(tt.digits); got != tt.want {
			t.Errorf("Text(%d) =\n%s\nwant\n%s", tt.digits, got, tt.want)
		}
	}
}

func TestROC(t *testing.T) {
	labels := []uint8{0, 0, 0, 1, 1, 1, 1}
	probs := []float64{0.1, 0.6, 0.4, 0.9, 0.3, 0.8, 0.5}
	got, err := ROC(labels, probs, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []ROCPoint{
		{0, 0, 1.9}, {0, 0.25, 0.9}, {0, 0.5, 0.8}, {1.0 / 3, 0.5, 0.6},
		{1.0 / 3, 0.75, 0.5}, {2.0 / 3, 0.75, 0.4}, {2.0 / 3, 1, 0.3}, {1, 1, 0.1},
	}
	if len(got) != len(want) {
		t.Fatalf("%d points, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if !near(got[i].FPR, want[i].FPR) || !near(got[i].TPR, want[i].TPR) || !near(got[i].Threshold, want[i].Threshold) {
			t.Errorf("point %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestROCDropIntermediate checks the points scikit-learn's roc_curve keeps by default
// (drop_intermediate=True): the ends and every point where the curve turns.
func TestROCDropIntermediate(t *testing.T) {
	labels := []uint8{1, 1, 1, 0, 1, 0, 0, 1}
	probs := []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2}
	// All points (fp, tp): (0,1) (0,2) (0,3) (1,3) (1,4) (2,4) (3,4) (3,5).
	// Kept: the ends and the corners: (0,1) (0,3) (1,3) (1,4) (3,4) (3,5).
	got, err := ROC(labels, probs, true)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]float64{{0, 0}, {0, 0.2}, {0, 0.6}, {1.0 / 3, 0.6}, {1.0 / 3, 0.8}, {1, 0.8}, {1, 1}}
	if len(got) != len(want) {
		t.Fatalf("%d points %v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if !near(got[i].FPR, w[0]) || !near(got[i].TPR, w[1]) {
			t.Errorf("point %d = %+v, want %v", i, got[i], w)
		}
	}
	full, _ := ROC(labels, probs, false)
	if a, b := AUC(got), AUC(full); !near(a, b) || !near(a, 11.0/15) {
		t.Errorf("AUC %v dropped, %v full, want 11/15", a, b)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name   string
		labels []uint8
		probs  []float64
		want   string
	}{
		{"empty", nil, nil, "no samples"},
		{"length", []uint8{0, 1}, []float64{0.2}, "2 labels but 1 probabilities"},
		{"label", []uint8{0, 2}, []float64{0.2, 0.3}, "label 2 at index 1"},
		{"probability", []uint8{0, 1}, []float64{0.2, 1.5}, "probability 1.5 at index 1"},
		{"nan", []uint8{0, 1}, []float64{math.NaN(), 0.5}, "probability NaN at index 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compute(tt.labels, tt.probs, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to say %q", err, tt.want)
			}
		})
	}
	if _, err := Compute(nil, nil, Options{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty input: %v, want ErrEmpty", err)
	}
}

func TestThreshold(t *testing.T) {
	r, err := Compute([]uint8{0, 1}, []float64{0.3, 0.6}, Options{Threshold: 0.7})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Confusion, [][]int{{1, 0}, {1, 0}}) {
		t.Errorf("confusion at threshold 0.7 = %v", r.Confusion)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r, err := Compute([]uint8{0, 0, 1, 1, 1}, []float64{0.2, 0.7, 0.9, 0.4, 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*r, back) {
		t.Errorf("round trip changed the report:\n%+v\n%+v", *r, back)
	}
}

func TestWilson(t *testing.T) {
	tests := []struct {
		k, n   int
		lo, hi float64
	}{
		// Reference values: the bounds of {p : |k/n - p| <= z·sqrt(p(1-p)/n)} (the score
		// test Wilson inverts), found by bisection in Python.
		{2347, 2400, 0.9712289, 0.9830770},
		{50, 100, 0.4038315, 0.5961685},
		{0, 10, 0, 0.2775328},
		{10, 10, 0.7224672, 1},
		{0, 0, 0, 1},
	}
	for _, tt := range tests {
		lo, hi := Wilson(tt.k, tt.n)
		if math.Abs(lo-tt.lo) > 1e-6 || math.Abs(hi-tt.hi) > 1e-6 {
			t.Errorf("Wilson(%d, %d) = [%.7f, %.7f], want [%.7f, %.7f]", tt.k, tt.n, lo, hi, tt.lo, tt.hi)
		}
	}
}
