package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

// threeClasses is a worked example of three classes, seven samples (rows of
// probabilities; the prediction is the most probable class):
//
//	sample  label  probabilities     predicted
//	0       0      0.7  0.2  0.1     0
//	1       1      0.3  0.4  0.3     1
//	2       2      0.5  0.1  0.4     0  wrong
//	3       2      0.1  0.2  0.7     2
//	4       0      0.2  0.3  0.5     2  wrong
//	5       1      0.2  0.3  0.5     2  wrong
//	6       2      0.1  0.1  0.8     2
var threeClasses = struct {
	classes []string
	labels  []uint8
	probs   []float64
}{
	[]string{"airplane", "automobile", "a rather long class name"},
	[]uint8{0, 1, 2, 2, 0, 1, 2},
	[]float64{0.7, 0.2, 0.1, 0.3, 0.4, 0.3, 0.5, 0.1, 0.4, 0.1, 0.2, 0.7, 0.2, 0.3, 0.5, 0.2, 0.3, 0.5, 0.1, 0.1, 0.8},
}

func TestComputeClasses(t *testing.T) {
	tests := []struct {
		name      string
		classes   []string
		labels    []uint8
		probs     []float64
		opts      Options
		accuracy  float64
		rows      []ClassStats
		macro, wt ClassStats
		confusion [][]int
		aucs      []float64 // one-vs-rest, NaN where undefined
		auc       float64   // NaN where undefined
		topK      []TopK
		logLoss   float64
		warnings  int
	}{
		{
			// Confusion (rows true): [1 0 1] [0 1 1] [1 0 2]; columns sum to 2, 1, 4.
			// airplane tp 1 fp 1 fn 1; automobile tp 1 fp 0 fn 1; the long one tp 2 fp 2 fn 1.
			name: "worked example", classes: threeClasses.classes, labels: threeClasses.labels, probs: threeClasses.probs,
			opts:     Options{TopK: []int{2, 1, 3, 2}},
			accuracy: 4.0 / 7,
			rows:     []ClassStats{{0.5, 0.5, 0.5, 2}, {1, 0.5, 2.0 / 3, 2}, {0.5, 2.0 / 3, 4.0 / 7, 3}},
			// Macro: the mean of the rows; weighted: by support 2, 2, 3 over 7.
			macro:     ClassStats{2.0 / 3, 5.0 / 9, 73.0 / 126, 7},
			wt:        ClassStats{9.0 / 14, 4.0 / 7, 85.0 / 147, 7},
			confusion: [][]int{{1, 0, 1}, {0, 1, 1}, {1, 0, 2}},
			// Pairs (positive, negative) ordered right, ties one half:
			// airplane: 0.7 beats all 5, 0.2 beats 0.1 twice and ties 0.2: 7.5 of 10;
			// automobile: 0.4 beats all 5, 0.3 beats 4 and ties 0.3: 9.5 of 10;
			// long: 0.4 beats 2 of 4, 0.7 and 0.8 all 4: 10 of 12.
			aucs: []float64{0.75, 0.95, 10.0 / 12},
			auc:  (0.75 + 0.95 + 10.0/12) / 3,
			// Top-2 misses only sample 4 (0.5 and 0.3 above its 0.2); k = 3 is all classes.
			topK:    []TopK{{K: 1, Correct: 4, Accuracy: 4.0 / 7}, {K: 2, Correct: 6, Accuracy: 6.0 / 7}},
			logLoss: -(math.Log(0.7) + math.Log(0.4) + math.Log(0.4) + math.Log(0.7) + math.Log(0.2) + math.Log(0.3) + math.Log(0.8)) / 7,
		},
		{
			// Ties among the probabilities: the prediction takes the lowest label (argmax),
			// top-k the highest (scikit-learn), so the top-1 accuracy is 4/5 where the
			// accuracy is 3/5 (sample 4, label 1, ties 0.4 with label 0). Top-2 misses
			// sample 3 (0.8, then label 1's 0.1 ranks above label 0's). scikit-learn 1.5.2
			// gives top_k_accuracy_score = 0.8 for k = 2 on these rows.
			name: "ties", classes: []string{"a", "b", "c"},
			labels:    []uint8{0, 1, 2, 0, 1},
			probs:     []float64{0.6, 0.3, 0.1, 0.2, 0.5, 0.3, 0.3, 0.3, 0.4, 0.1, 0.1, 0.8, 0.4, 0.4, 0.2},
			opts:      Options{TopK: []int{1, 2}},
			accuracy:  3.0 / 5,
			rows:      []ClassStats{{0.5, 0.5, 0.5, 2}, {1, 0.5, 2.0 / 3, 2}, {0.5, 1, 2.0 / 3, 1}},
			macro:     ClassStats{2.0 / 3, 2.0 / 3, 11.0 / 18, 5},
			wt:        ClassStats{0.7, 0.6, (1 + 4.0/3 + 2.0/3) / 5, 5},
			confusion: [][]int{{1, 0, 1}, {1, 1, 0}, {0, 0, 1}},
			// a: positives 0.6, 0.1 against 0.2 0.3 0.4: 3 + 0 of 6; b: 0.5, 0.4 against
			// 0.3 0.3 0.1: 3 + 3 of 6; c: 0.4 against 0.1 0.3 0.8 0.2: 3 of 4.
			aucs:    []float64{0.5, 1, 0.75},
			auc:     (0.5 + 1 + 0.75) / 3,
			topK:    []TopK{{K: 1, Correct: 4, Accuracy: 0.8}, {K: 2, Correct: 4, Accuracy: 0.8}},
			logLoss: -(math.Log(0.6) + math.Log(0.5) + math.Log(0.4) + math.Log(0.1) + math.Log(0.4)) / 5,
		},
		{
			// No c in the labels: its recall is 0/0, its one-vs-rest curve undefined, and so
			// the macro-average AUC (an error in scikit-learn); it is never predicted either.
			name: "missing class", classes: []string{"a", "b", "c"},
			labels:    []uint8{0, 1, 1},
			probs:     []float64{0.5, 0.25, 0.25, 0.25, 0.5, 0.25, 0.5, 0.25, 0.25},
			accuracy:  2.0 / 3,
			rows:      []ClassStats{{0.5, 1, 2.0 / 3, 1}, {1, 0.5, 2.0 / 3, 2}, {0, 0, 0, 0}},
			macro:     ClassStats{0.5, 0.5, 4.0 / 9, 3},
			wt:        ClassStats{2.5 / 3, 2.0 / 3, 2.0 / 3, 3},
			confusion: [][]int{{1, 0, 0}, {1, 1, 0}, {0, 0, 0}},
			// a: 0.5 against 0.25 and 0.5; b: 0.5 and 0.25 against 0.25: 1.5 of 2 each.
			aucs:     []float64{0.75, 0.75, math.NaN()},
			auc:      math.NaN(),
			topK:     []TopK{{K: 1, Correct: 2, Accuracy: 2.0 / 3}},
			logLoss:  -(math.Log(0.5) + math.Log(0.5) + math.Log(0.25)) / 3,
			warnings: 3, // precision and recall of c, the AUC
		},
		{
			// Two classes of any names: a probability of label 1 per sample, as Compute.
			name: "two classes", classes: []string{"no", "yes"},
			labels:    []uint8{0, 0, 1, 1},
			probs:     []float64{0.2, 0.6, 0.7, 0.4},
			accuracy:  0.5,
			rows:      []ClassStats{{0.5, 0.5, 0.5, 2}, {0.5, 0.5, 0.5, 2}},
			macro:     ClassStats{0.5, 0.5, 0.5, 4},
			wt:        ClassStats{0.5, 0.5, 0.5, 4},
			confusion: [][]int{{1, 1}, {1, 1}},
			auc:       0.75,
			logLoss:   -(math.Log(0.8) + math.Log(0.4) + math.Log(0.7) + math.Log(0.4)) / 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ComputeClasses(tt.labels, tt.probs, tt.classes, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !near(r.Accuracy, tt.accuracy) {
				t.Errorf("accuracy %v, want %v", r.Accuracy, tt.accuracy)
			}
			if len(r.PerClass) != len(tt.rows) {
				t.Fatalf("%d rows, want %d", len(r.PerClass), len(tt.rows))
			}
			for k, want := range tt.rows {
				if !nearStats(r.PerClass[k], want) {
					t.Errorf("%s: %+v, want %+v", tt.classes[k], r.PerClass[k], want)
				}
			}
			if !nearStats(r.MacroAvg, tt.macro) || !nearStats(r.WeightedAvg, tt.wt) {
				t.Errorf("averages %+v %+v, want %+v %+v", r.MacroAvg, r.WeightedAvg, tt.macro, tt.wt)
			}
			if !reflect.DeepEqual(r.Confusion, tt.confusion) {
				t.Errorf("confusion %v, want %v", r.Confusion, tt.confusion)
			}
			if math.IsNaN(tt.auc) {
				if r.HasAUC() || r.AUC != 0 {
					t.Errorf("AUC %v (HasAUC %v), want undefined", r.AUC, r.HasAUC())
				}
			} else if !r.HasAUC() || !near(r.AUC, tt.auc) {
				t.Errorf("AUC %v (HasAUC %v), want %v", r.AUC, r.HasAUC(), tt.auc)
			}
			if len(tt.aucs) != len(r.OneVsRest) {
				t.Fatalf("%d one-vs-rest curves, want %d", len(r.OneVsRest), len(tt.aucs))
			}
			for k, want := range tt.aucs {
				got := r.OneVsRest[k]
				if math.IsNaN(want) != (len(got.ROC) == 0) || (!math.IsNaN(want) && !near(got.AUC, want)) {
					t.Errorf("one-vs-rest AUC of %s: %v over %d points, want %v", tt.classes[k], got.AUC, len(got.ROC), want)
				}
			}
			if len(r.TopK) != len(tt.topK) {
				t.Fatalf("top-k %+v, want %+v", r.TopK, tt.topK)
			}
			for i, want := range tt.topK {
				got := r.TopK[i]
				lo, hi := Wilson(want.Correct, r.N)
				if got.K != want.K || got.Correct != want.Correct || !near(got.Accuracy, want.Accuracy) || got.Low != lo || got.High != hi {
					t.Errorf("top-k %+v, want %+v in [%v, %v]", got, want, lo, hi)
				}
			}
			if !near(r.LogLoss, tt.logLoss) {
				t.Errorf("log loss %v, want %v", r.LogLoss, tt.logLoss)
			}
			if len(r.Warnings) != tt.warnings {
				t.Errorf("warnings %q, want %d", r.Warnings, tt.warnings)
			}
			if r.ClassificationReport != r.Text(2) {
				t.Error("ClassificationReport is not Text(2)")
			}
		})
	}
}

// The expected text is scikit-learn's classification_report layout (its format strings,
// run by testdata/reference.py): the name column as wide as the longest name.
func TestTextClasses(t *testing.T) {
	r, err := ComputeClasses(threeClasses.labels, threeClasses.probs, threeClasses.classes, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := `                          precision    recall  f1-score   support

                airplane       0.50      0.50      0.50         2
              automobile       1.00      0.50      0.67         2
a rather long class name       0.50      0.67      0.57         3

                accuracy                           0.57         7
               macro avg       0.67      0.56      0.58         7
            weighted avg       0.64      0.57      0.58         7
`
	if got := r.Text(2); got != want {
		t.Errorf("Text(2) =\n%s\nwant\n%s", got, want)
	}
	// Widths count characters, not bytes: "crème brûlée" is 12 wide, as "weighted avg".
	r, err = ComputeClasses([]uint8{0, 1, 2}, []float64{1, 0, 0, 0, 1, 0, 0, 0, 1}, []string{"crème brûlée", "b", "c"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if first := strings.SplitN(r.Text(2), "\n", 2)[0]; first != "              precision    recall  f1-score   support" {
		t.Errorf("header %q: the name column is not 12 characters wide", first)
	}
}

func TestSummary(t *testing.T) {
	r, err := ComputeClasses(threeClasses.labels, threeClasses.probs, threeClasses.classes, Options{TopK: []int{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := Wilson(4, 7)
	lo2, hi2 := Wilson(6, 7)
	if math.Abs(lo-0.25046) > 5e-6 || math.Abs(hi-0.84178) > 5e-6 {
		t.Errorf("Wilson(4, 7) = [%v, %v]", lo, hi)
	}
	want := "accuracy        0.5714  95 % Wilson interval 0.2505 to 0.8418 (4 of 7)\n" +
		fmt.Sprintf("top-2 accuracy  0.8571  95 %% Wilson interval %.4f to %.4f (6 of 7)\n", lo2, hi2) +
		"ROC AUC         0.8444  one-vs-rest, macro average\n" +
		fmt.Sprintf("log loss        %.4f\n", r.LogLoss)
	if got := r.Summary(4); got != want {
		t.Errorf("Summary(4) =\n%s\nwant\n%s", got, want)
	}
	if l, h := r.AccuracyInterval(); l != lo || h != hi {
		t.Errorf("AccuracyInterval = [%v, %v], want [%v, %v]", l, h, lo, hi)
	}
	b, err := Compute([]uint8{1, 1}, []float64{0.9, 0.2}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Summary(2); !strings.Contains(got, "ROC AUC         n/a") || strings.Contains(got, "top-") {
		t.Errorf("one-class binary summary:\n%s", got)
	}
}

func TestMistakes(t *testing.T) {
	// Class a's mistakes: samples 1 (b at 0.6), 2 (c at 0.9), 4 (b at 0.6), 5 (c at 0.5);
	// most confident first, the lower index first among equals, two kept.
	labels := []uint8{0, 0, 0, 1, 0, 0, 2}
	probs := []float64{
		0.8, 0.1, 0.1,
		0.3, 0.6, 0.1,
		0.05, 0.05, 0.9,
		0.7, 0.2, 0.1,
		0.2, 0.6, 0.2,
		0.25, 0.25, 0.5,
		0.1, 0.1, 0.8,
	}
	r, err := ComputeClasses(labels, probs, []string{"a", "b", "c"}, Options{Mistakes: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := []Mistake{{2, 0, 2, 0.9}, {1, 0, 1, 0.6}, {3, 1, 0, 0.7}}
	if !reflect.DeepEqual(r.Mistakes, want) {
		t.Errorf("mistakes %+v, want %+v", r.Mistakes, want)
	}
	if r, _ := ComputeClasses(labels, probs, []string{"a", "b", "c"}, Options{Mistakes: -1}); r.Mistakes != nil {
		t.Errorf("Mistakes -1 kept %+v", r.Mistakes)
	}
	// Two classes: the wrong label's probability is p for a dog called cat, 1-p for a cat
	// called dog.
	r, err = Compute([]uint8{0, 0, 1, 1, 0}, []float64{0.7, 0.95, 0.1, 0.3, 0.2}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want = []Mistake{{1, 0, 1, 0.95}, {0, 0, 1, 0.7}, {2, 1, 0, 0.9}, {3, 1, 0, 0.7}}
	if len(r.Mistakes) != len(want) {
		t.Fatalf("mistakes %+v, want %+v", r.Mistakes, want)
	}
	for i, m := range r.Mistakes {
		if m.Index != want[i].Index || m.Label != want[i].Label || m.Predicted != want[i].Predicted || !near(m.Prob, want[i].Prob) {
			t.Errorf("mistake %d = %+v, want %+v", i, m, want[i])
		}
	}
}

func TestComputeClassesErrors(t *testing.T) {
	abc := []string{"a", "b", "c"}
	tests := []struct {
		name    string
		labels  []uint8
		probs   []float64
		classes []string
		want    string
	}{
		{"one class", []uint8{0}, []float64{1}, []string{"a"}, "1 classes; want 2 to 256"},
		{"no name", []uint8{0}, []float64{1, 0, 0}, []string{"a", "", "c"}, "class 1 has no name"},
		{"twice", []uint8{0}, []float64{1, 0, 0}, []string{"a", "b", "a"}, `class name "a" given twice`},
		{"length", []uint8{0, 1}, []float64{1, 0, 0}, abc, "3 probabilities for 2 labels of 3 classes; want 6"},
		{"label", []uint8{0, 3}, []float64{1, 0, 0, 0, 1, 0}, abc, "label 3 at index 1; want 0 to 2 (3 classes)"},
		{"binary label", []uint8{2}, []float64{0.5}, []string{"no", "yes"}, "want 0 (no) or 1 (yes)"},
		{"probability", []uint8{0}, []float64{1.5, -0.5, 0}, abc, "probability 1.5 of class 0 at index 0"},
		{"nan", []uint8{0}, []float64{math.NaN(), 0.5, 0.5}, abc, "probability NaN of class 0"},
		{"sum", []uint8{0, 1}, []float64{1, 0, 0, 0.5, 0.4, 0}, abc, "at index 1 sum to 0.9, not 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ComputeClasses(tt.labels, tt.probs, tt.classes, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to say %q", err, tt.want)
			}
		})
	}
	if _, err := ComputeClasses(nil, nil, abc, Options{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty input: %v, want ErrEmpty", err)
	}
	// A float32 softmax row sums to 1 within about 1e-7: accepted.
	if _, err := ComputeClasses([]uint8{0}, []float64{float64(float32(0.1)), float64(float32(0.2)), float64(float32(0.7)) + 2e-7}, abc, Options{}); err != nil {
		t.Error(err)
	}
}

// TestLegacyJSON reads metrics.json files written before reports had classes (by the
// code of the parent commit): the same numbers as scoring the same predictions now, and
// the same bytes written back.
func TestLegacyJSON(t *testing.T) {
	tests := []struct {
		file   string
		labels []uint8
		probs  []float64
	}{
		{"testdata/binary-v1.json", []uint8{0, 0, 0, 1, 1, 1, 1, 0, 1, 0}, []float64{0.1, 0.6, 0.4, 0.9, 0.3, 0.8, 0.5, 0.5, 0.5, 0.05}},
		{"testdata/binary-one-class-v1.json", []uint8{1, 1}, []float64{0.9, 0.2}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			var old Report
			if err := json.Unmarshal(data, &old); err != nil {
				t.Fatal(err)
			}
			now, err := Compute(tt.labels, tt.probs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			now.Mistakes = nil // new since
			if !reflect.DeepEqual(old, *now) {
				t.Errorf("old report read as\n%+v\nscored now\n%+v", old, *now)
			}
			back, err := json.MarshalIndent(now, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if string(back)+"\n" != string(data) {
				t.Errorf("written now:\n%s\nwritten then:\n%s", back, data)
			}
		})
	}
}

func TestJSONClasses(t *testing.T) {
	r, err := ComputeClasses(threeClasses.labels, threeClasses.probs, threeClasses.classes, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"classes", "per_class", "confusion", "one_vs_rest", "top_k", "mistakes", "auc", "log_loss"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("no %q in %s", k, b)
		}
	}
	for _, k := range []string{"dog", "cat", "roc", "threshold"} {
		if _, ok := keys[k]; ok {
			t.Errorf("%q in a report of three classes", k)
		}
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*r, back) {
		t.Errorf("round trip changed the report:\n%+v\n%+v", *r, back)
	}
	// Two classes not named dog and cat: "classes" and "per_class" too.
	r, err = ComputeClasses([]uint8{0, 1}, []float64{0.3, 0.8}, []string{"no", "yes"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(r)
	if !strings.Contains(string(b), `"classes":["no","yes"],"per_class":[`) || strings.Contains(string(b), `"dog"`) {
		t.Errorf("two-class JSON %s", b)
	}
	back = Report{}
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(*r, back) {
		t.Errorf("round trip: %v\n%+v\n%+v", err, *r, back)
	}
	for _, bad := range []string{
		`{"n": 1}`,
		`{"classes": ["a", "b", "c"], "per_class": [{}, {}], "confusion": [[1, 0, 0], [0, 0, 0], [0, 0, 0]]}`,
		`{"classes": ["a", "b", "c"], "per_class": [{}, {}, {}], "confusion": [[1, 0], [0, 0], [0, 0]]}`,
		`{"dog": {}, "cat": {}, "confusion": [[1, 0, 0]]}`,
	} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s read without error", bad)
		}
	}
}

func TestRenormalize(t *testing.T) {
	// Rows of float32 probabilities: 0.1+0.2+0.7 in float32 is 1.0000000298.
	p := []float64{float64(float32(0.1)), float64(float32(0.2)), float64(float32(0.7))}
	s := p[0] + p[1] + p[2]
	for _, tt := range []struct {
		renorm bool
		want   float64
	}{{false, -math.Log(p[2])}, {true, -math.Log(p[2] / s)}} {
		r, err := ComputeClasses([]uint8{2}, p, []string{"a", "b", "c"}, Options{Renormalize: tt.renorm})
		if err != nil {
			t.Fatal(err)
		}
		if r.LogLoss != tt.want {
			t.Errorf("Renormalize %v: log loss %v, want %v", tt.renorm, r.LogLoss, tt.want)
		}
	}
	if s == 1 {
		t.Error("the example does not show renormalisation")
	}
	// Two classes: clipped [1-p, p] over its sum.
	r, err := Compute([]uint8{0}, []float64{1}, Options{Renormalize: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := -math.Log(DefaultEps / (DefaultEps + (1 - DefaultEps))); r.LogLoss != want {
		t.Errorf("binary renormalised log loss %v, want %v", r.LogLoss, want)
	}
}
