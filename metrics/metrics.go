// Package metrics scores a binary dog/cat classifier the way scikit-learn does.
//
// Labels are 0 for dog and 1 for cat; scores are the model's probability of cat. Compute
// turns them into a Report: accuracy, per-class precision, recall, F1 and support, their
// macro and weighted averages (laid out by Report.Text exactly like scikit-learn's
// classification_report), the confusion matrix, the ROC curve and its area, and the log
// loss. A Report is plain data and round-trips through encoding/json.
package metrics

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// DefaultThreshold is the probability of cat at and above which a photo is called a cat.
const DefaultThreshold = 0.5

// DefaultEps is the clipping applied to probabilities before the log loss: float64 machine
// epsilon, what scikit-learn's log_loss uses ("auto") for float64 input.
const DefaultEps = 2.220446049250313e-16

// The class names, for labels 0 and 1.
const (
	Dog = "dog"
	Cat = "cat"
)

// className names label l.
func className(l int) string {
	if l == 1 {
		return Cat
	}
	return Dog
}

// ErrEmpty is returned when there is nothing to score.
var ErrEmpty = errors.New("metrics: no samples to score")

// ClassStats holds one row of a classification report.
type ClassStats struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// ROCPoint is one point of a ROC curve: the false and true positive rates (cat is the
// positive class) when everything scoring at least Threshold is called a cat.
type ROCPoint struct {
	FPR       float64 `json:"fpr"`
	TPR       float64 `json:"tpr"`
	Threshold float64 `json:"threshold"`
}

// Report is the score of a set of predictions.
type Report struct {
	// N is the number of samples, Threshold the probability of cat from which a sample
	// is predicted cat.
	N         int     `json:"n"`
	Threshold float64 `json:"threshold"`
	Accuracy  float64 `json:"accuracy"`
	// Dog and Cat are the per-class rows (label 0 and 1).
	Dog         ClassStats `json:"dog"`
	Cat         ClassStats `json:"cat"`
	MacroAvg    ClassStats `json:"macro_avg"`
	WeightedAvg ClassStats `json:"weighted_avg"`
	// Confusion[t][p] counts samples of true label t predicted as p (rows true, columns
	// predicted, order dog, cat), like scikit-learn's confusion_matrix.
	Confusion [2][2]int `json:"confusion"`
	// AUC is the area under the ROC curve (ties count one half, like roc_auc_score).
	// It is undefined, and left 0 with ROC empty, when the labels hold one class only.
	// ROC is the curve without intermediate points (see ROC).
	AUC float64    `json:"auc"`
	ROC []ROCPoint `json:"roc,omitempty"`
	// LogLoss is the mean binary cross-entropy with probabilities clipped to [Eps, 1-Eps].
	LogLoss float64 `json:"log_loss"`
	// ClassificationReport is Text(2), kept for readers of the JSON file.
	ClassificationReport string `json:"classification_report"`
	// Warnings says what was undefined and set to 0, as scikit-learn warns.
	Warnings []string `json:"warnings,omitempty"`
}

// Options tune Compute. The zero value means the defaults.
type Options struct {
	// Threshold defaults to DefaultThreshold.
	Threshold float64
	// Eps defaults to DefaultEps.
	Eps float64
}

// Compute scores probabilities of cat against labels (0 dog, 1 cat).
func Compute(labels []uint8, probs []float64, opts Options) (*Report, error) {
	if len(labels) != len(probs) {
		return nil, fmt.Errorf("metrics: %d labels but %d probabilities", len(labels), len(probs))
	}
	if len(labels) == 0 {
		return nil, ErrEmpty
	}
	if opts.Threshold == 0 {
		opts.Threshold = DefaultThreshold
	}
	if opts.Eps == 0 {
		opts.Eps = DefaultEps
	}
	for i, l := range labels {
		if l > 1 {
			return nil, fmt.Errorf("metrics: label %d at index %d; want 0 (dog) or 1 (cat)", l, i)
		}
		if p := probs[i]; math.IsNaN(p) || p < 0 || p > 1 {
			return nil, fmt.Errorf("metrics: probability %v at index %d is not in [0, 1]", p, i)
		}
	}
	r := &Report{N: len(labels), Threshold: opts.Threshold}
	for i, l := range labels {
		pred := 0
		if probs[i] >= opts.Threshold {
			pred = 1
		}
		r.Confusion[l][pred]++
	}
	c := r.Confusion
	r.Accuracy = float64(c[0][0]+c[1][1]) / float64(r.N)
	r.Dog = r.classStats(0, c[0][0], c[1][0], c[0][1])
	r.Cat = r.classStats(1, c[1][1], c[0][1], c[1][0])
	r.MacroAvg = ClassStats{
		Precision: (r.Dog.Precision + r.Cat.Precision) / 2,
		Recall:    (r.Dog.Recall + r.Cat.Recall) / 2,
		F1:        (r.Dog.F1 + r.Cat.F1) / 2,
		Support:   r.N,
	}
	wd, wc := float64(r.Dog.Support)/float64(r.N), float64(r.Cat.Support)/float64(r.N)
	r.WeightedAvg = ClassStats{
		Precision: wd*r.Dog.Precision + wc*r.Cat.Precision,
		Recall:    wd*r.Dog.Recall + wc*r.Cat.Recall,
		F1:        wd*r.Dog.F1 + wc*r.Cat.F1,
		Support:   r.N,
	}
	if roc, err := ROC(labels, probs, true); err == nil {
		r.ROC = roc
		r.AUC = AUC(roc)
	} else {
		r.Warnings = append(r.Warnings, err.Error())
	}
	r.LogLoss = LogLoss(labels, probs, opts.Eps)
	r.ClassificationReport = r.Text(2)
	return r, nil
}

// classStats fills one class row from its true positives, false positives and false
// negatives, setting undefined ratios to 0 with a warning (scikit-learn's zero_division="warn").
func (r *Report) classStats(label, tp, fp, fn int) ClassStats {
	s := ClassStats{Support: tp + fn}
	name := className(label)
	if tp+fp > 0 {
		s.Precision = float64(tp) / float64(tp+fp)
	} else {
		r.Warnings = append(r.Warnings, fmt.Sprintf("precision of %s is ill-defined (no %s predicted) and set to 0", name, name))
	}
	if tp+fn > 0 {
		s.Recall = float64(tp) / float64(tp+fn)
	} else {
		r.Warnings = append(r.Warnings, fmt.Sprintf("recall of %s is ill-defined (no true %s) and set to 0", name, name))
	}
	if d := 2*tp + fp + fn; d > 0 {
		s.F1 = float64(2*tp) / float64(d)
	}
	return s
}

// Text lays the report out exactly like scikit-learn's classification_report with
// target_names ["dog", "cat"] and the given number of digits (2 if digits < 1).
func (r *Report) Text(digits int) string {
	if digits < 1 {
		digits = 2
	}
	const lastHeading = "weighted avg"
	width := max(len(lastHeading), digits, len(Dog), len(Cat))
	var b strings.Builder
	fmt.Fprintf(&b, "%*s ", width, "")
	for _, h := range []string{"precision", "recall", "f1-score", "support"} {
		fmt.Fprintf(&b, " %9s", h)
	}
	b.WriteString("\n\n")
	row := func(name string, s ClassStats) {
		fmt.Fprintf(&b, "%*s  %9.*f %9.*f %9.*f %9d\n", width, name,
			digits, s.Precision, digits, s.Recall, digits, s.F1, s.Support)
	}
	row(Dog, r.Dog)
	row(Cat, r.Cat)
	b.WriteString("\n")
	fmt.Fprintf(&b, "%*s  %9s %9s %9.*f %9d\n", width, "accuracy", "", "", digits, r.Accuracy, r.N)
	row("macro avg", r.MacroAvg)
	row(lastHeading, r.WeightedAvg)
	return b.String()
}

// ROC returns the ROC curve of probabilities of cat against labels, like scikit-learn's
// roc_curve: one point per distinct score, from the highest down, after a first point
// (0, 0) whose threshold is the highest score plus 1 (scikit-learn before 1.3; infinity
// since, which JSON cannot hold). Tied scores make one point, so the
// curve crosses a tie on a diagonal. With dropIntermediate, points in the middle of a
// straight run are left out (scikit-learn's default), which changes neither the shape nor
// the area. It fails unless both classes are present.
func ROC(labels []uint8, probs []float64, dropIntermediate bool) ([]ROCPoint, error) {
	if len(labels) != len(probs) {
		return nil, fmt.Errorf("metrics: %d labels but %d probabilities", len(labels), len(probs))
	}
	if len(labels) == 0 {
		return nil, ErrEmpty
	}
	idx := make([]int, len(probs))
	pos := 0
	for i := range idx {
		idx[i] = i
		if labels[i] == 1 {
			pos++
		}
	}
	neg := len(labels) - pos
	if pos == 0 || neg == 0 {
		return nil, fmt.Errorf("metrics: ROC AUC is not defined with one class only in the labels (%d dog, %d cat)", neg, pos)
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	// Cumulative false and true positives at each distinct score.
	var fps, tps []int
	var ths []float64
	tp, fp := 0, 0
	for k, i := range idx {
		if labels[i] == 1 {
			tp++
		} else {
			fp++
		}
		if k+1 < len(idx) && probs[idx[k+1]] == probs[i] {
			continue
		}
		fps, tps, ths = append(fps, fp), append(tps, tp), append(ths, probs[i])
	}
	pts := []ROCPoint{{Threshold: probs[idx[0]] + 1}}
	for k := range fps {
		if dropIntermediate && k > 0 && k < len(fps)-1 &&
			fps[k+1]-2*fps[k]+fps[k-1] == 0 && tps[k+1]-2*tps[k]+tps[k-1] == 0 {
			continue
		}
		pts = append(pts, ROCPoint{FPR: float64(fps[k]) / float64(neg), TPR: float64(tps[k]) / float64(pos), Threshold: ths[k]})
	}
	return pts, nil
}

// AUC is the area under a curve by the trapezoidal rule, points ordered by FPR.
func AUC(roc []ROCPoint) float64 {
	a := 0.0
	for i := 1; i < len(roc); i++ {
		a += (roc[i].FPR - roc[i-1].FPR) * (roc[i].TPR + roc[i-1].TPR) / 2
	}
	return a
}

// LogLoss is the mean binary cross-entropy of probabilities of cat against labels, each
// probability clipped to [eps, 1-eps] first (scikit-learn's log_loss). It returns NaN for
// empty input.
func LogLoss(labels []uint8, probs []float64, eps float64) float64 {
	if len(labels) == 0 || len(labels) != len(probs) {
		return math.NaN()
	}
	s := 0.0
	for i, l := range labels {
		p := min(max(probs[i], eps), 1-eps)
		if l == 1 {
			s -= math.Log(p)
		} else {
			s -= math.Log(1 - p)
		}
	}
	return s / float64(len(labels))
}

// Wilson returns the Wilson score 95 % confidence interval of a proportion: k successes in
// n trials (for instance the photos of a test split classified right). With n = 0 it
// returns (0, 1).
func Wilson(k, n int) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	const z = 1.959963984540054 // the normal quantile of 0.975
	p := float64(k) / float64(n)
	nf := float64(n)
	den := 1 + z*z/nf
	mid := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return max(0, mid-half), min(1, mid+half)
}
