package metrics_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"reflect"
	"strconv"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/metrics"
)

// refCase is one input of testdata/reference.py.
type refCase struct {
	Classes   []string  `json:"classes"`
	Labels    []int     `json:"labels"`
	Probs     []float64 `json:"probs"`
	Threshold float64   `json:"threshold"`
	TopK      []int     `json:"topk"`
	Mistakes  int       `json:"mistakes"`
}

// refResult is what testdata/reference.py computes for a case.
type refResult struct {
	Confusion             [][]int
	Precision, Recall, F1 []float64
	Support               []int
	Macro, Weighted       []float64
	Accuracy              float64
	Text2, Text4          string
	AUCs                  []*float64
	AUC                   *float64
	TopK                  map[string][2]float64
	LogLoss               float64 `json:"log_loss"`
	LogLossRenorm         float64 `json:"log_loss_renorm"`
	Mistakes              [][4]float64
}

// randomCase draws n samples of the classes: probabilities from softmax (float64, or
// rounded to float32 as a model gives them), or small whole counts over their sum (many
// ties), or uniform rows; labels from every class or from all but one.
func randomCase(rng *rand.Rand, classes []string, n int) refCase {
	c := len(classes)
	tc := refCase{Classes: classes, Threshold: 0.5, TopK: []int{1, 2, 3, 5}, Mistakes: 3}
	kind := rng.IntN(4)
	skip := -1
	if rng.IntN(4) == 0 {
		skip = rng.IntN(c)
	}
	for range n {
		l := rng.IntN(c)
		for l == skip {
			l = rng.IntN(c)
		}
		tc.Labels = append(tc.Labels, l)
		if c == 2 {
			p := rng.Float64()
			switch kind {
			case 1:
				p = float64(float32(p))
			case 2:
				p = float64(rng.IntN(5)) / 4
			case 3:
				p = 0.5
			}
			tc.Probs = append(tc.Probs, p)
			continue
		}
		row := make([]float64, c)
		sum := 0.0
		for j := range row {
			switch kind {
			case 0, 1:
				row[j] = math.Exp(2 * rng.NormFloat64())
				if j == l {
					row[j] *= 3 // a model better than chance
				}
			case 2:
				row[j] = float64(rng.IntN(4))
			default:
				row[j] = 1
			}
			sum += row[j]
		}
		if sum == 0 {
			row[l], sum = 1, 1
		}
		for j := range row {
			row[j] /= sum
			if kind == 1 {
				row[j] = float64(float32(row[j]))
			}
		}
		tc.Probs = append(tc.Probs, row...)
	}
	return tc
}

// TestReference checks Compute and ComputeClasses against testdata/reference.py, numpy
// computing each score as scikit-learn does, on random cases of 2 to 12 classes with long
// and non-ASCII names, ties, float32 probabilities and missing classes.
func TestReference(t *testing.T) {
	py := fixtures.Python(t, "numpy")
	rng := rand.New(rand.NewPCG(19, 5))
	names := []string{"dog", "cat", "a rather long class name", "bird", "café crème", "frog", "horse", "ship", "truck", "deer", "x", "automobile"}
	var cases []refCase
	for _, c := range []int{2, 3, 4, 5, 7, 8, 10, 12} {
		for range 12 {
			cases = append(cases, randomCase(rng, names[:c], 1+rng.IntN(150)))
		}
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "testdata/reference.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("reference.py: %v\n%s", err, stderr.String())
	}
	var want []refResult
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d-classes-%d", len(tc.Classes), i), func(t *testing.T) {
			labels := make([]uint8, len(tc.Labels))
			for j, l := range tc.Labels {
				labels[j] = uint8(l)
			}
			for _, renorm := range []bool{false, true} {
				r, err := metrics.ComputeClasses(labels, tc.Probs, tc.Classes, metrics.Options{TopK: tc.TopK, Mistakes: tc.Mistakes, Renormalize: renorm})
				if err != nil {
					t.Fatal(err)
				}
				compareReference(t, r, want[i], renorm)
			}
		})
	}
}

func compareReference(t *testing.T, r *metrics.Report, w refResult, renorm bool) {
	t.Helper()
	const tol = 1e-12
	close := func(what string, got, want float64) {
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	if !reflect.DeepEqual(r.Confusion, w.Confusion) {
		t.Errorf("confusion %v, want %v", r.Confusion, w.Confusion)
	}
	for k, s := range r.PerClass {
		close(fmt.Sprintf("precision of %d", k), s.Precision, w.Precision[k])
		close(fmt.Sprintf("recall of %d", k), s.Recall, w.Recall[k])
		close(fmt.Sprintf("F1 of %d", k), s.F1, w.F1[k])
		if s.Support != w.Support[k] {
			t.Errorf("support of %d = %d, want %d", k, s.Support, w.Support[k])
		}
	}
	for j, avg := range []metrics.ClassStats{r.MacroAvg, r.WeightedAvg} {
		want := [][]float64{w.Macro, w.Weighted}[j]
		close("average precision", avg.Precision, want[0])
		close("average recall", avg.Recall, want[1])
		close("average F1", avg.F1, want[2])
	}
	close("accuracy", r.Accuracy, w.Accuracy)
	if got := r.Text(2); got != w.Text2 {
		t.Errorf("Text(2) =\n%s\nwant\n%s", got, w.Text2)
	}
	if got := r.Text(4); got != w.Text4 {
		t.Errorf("Text(4) =\n%s\nwant\n%s", got, w.Text4)
	}
	if (w.AUC != nil) != r.HasAUC() {
		t.Errorf("HasAUC %v, reference AUC %v", r.HasAUC(), w.AUC)
	} else if w.AUC != nil {
		close("AUC", r.AUC, *w.AUC)
	}
	if len(r.Classes) > 2 {
		for k, a := range w.AUCs {
			roc := r.OneVsRest[k]
			if (a != nil) != (len(roc.ROC) > 0) {
				t.Errorf("one-vs-rest curve of %d: %d points, reference AUC %v", k, len(roc.ROC), a)
			} else if a != nil {
				close(fmt.Sprintf("AUC of %d", k), roc.AUC, *a)
			}
		}
	}
	if len(r.TopK) != len(w.TopK) {
		t.Errorf("top-k %+v, want %v", r.TopK, w.TopK)
	}
	for _, tk := range r.TopK {
		want, ok := w.TopK[strconv.Itoa(tk.K)]
		if !ok || tk.Correct != int(want[0]) {
			t.Errorf("top-%d: %d right, want %v", tk.K, tk.Correct, want)
		}
		close(fmt.Sprintf("top-%d accuracy", tk.K), tk.Accuracy, want[1])
	}
	if renorm {
		close("log loss, renormalised", r.LogLoss, w.LogLossRenorm)
	} else {
		close("log loss", r.LogLoss, w.LogLoss)
	}
	if len(r.Mistakes) != len(w.Mistakes) {
		t.Fatalf("%d mistakes %+v, want %v", len(r.Mistakes), r.Mistakes, w.Mistakes)
	}
	for j, m := range r.Mistakes {
		want := w.Mistakes[j]
		if m.Index != int(want[0]) || m.Label != int(want[1]) || m.Predicted != int(want[2]) || m.Prob != want[3] {
			t.Errorf("mistake %d = %+v, want %v", j, m, want)
		}
	}
}
