// Package metrics scores a classifier of two or more classes the way scikit-learn does.
//
// Labels are class indices (0 to C-1, at most 256 classes). With two classes a model gives
// one score per sample, its probability of label 1 (cat, for dogs vs. cats), and a
// threshold decides; with three or more it gives a row of C probabilities per sample
// (softmax, row-major) and the most probable class is the prediction. Compute scores the
// two classes dog and cat; ComputeClasses scores any classes. Either returns a Report:
// accuracy, per-class precision, recall, F1 and support, their macro and weighted averages
// (laid out by Report.Text exactly like scikit-learn's classification_report), the
// confusion matrix, the ROC curve and its area (one-vs-rest, per class and
// macro-averaged, for three classes or more), top-k accuracy, the log loss and the most
// confident mistakes. A Report is plain data and round-trips through encoding/json; the
// JSON of a dog/cat report keeps the layout it always had (see Report.MarshalJSON).
package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// DefaultThreshold is the probability of label 1 (cat) at and above which a sample of a
// two-class problem is predicted label 1.
const DefaultThreshold = 0.5

// DefaultEps is the clipping applied to probabilities before the log loss: float64 machine
// epsilon, what scikit-learn's log_loss uses (eps="auto" before 1.5, always since) for
// float64 input.
const DefaultEps = 2.220446049250313e-16

// DefaultMistakes is how many of the most confident mistakes a report keeps per true class.
const DefaultMistakes = 5

// MaxClasses is the most classes a report scores: labels are uint8.
const MaxClasses = 256

// The class names of labels 0 and 1 of a dog/cat problem, what Compute scores.
const (
	Dog = "dog"
	Cat = "cat"
)

// DefaultTopK returns the k of the top-k accuracies a report of three classes or more
// holds when Options.TopK is nil: 1, 3 and 5, those below the number of classes (a k of
// C or more scores every sample right, as scikit-learn warns).
func DefaultTopK() []int { return []int{1, 3, 5} }

// ErrEmpty is returned when there is nothing to score.
var ErrEmpty = errors.New("metrics: no samples to score")

// ClassStats holds one row of a classification report.
type ClassStats struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// ROCPoint is one point of a ROC curve: the false and true positive rates when every
// sample scoring at least Threshold is called positive.
type ROCPoint struct {
	FPR       float64 `json:"fpr"`
	TPR       float64 `json:"tpr"`
	Threshold float64 `json:"threshold"`
}

// ClassROC is the one-vs-rest ROC curve of one class (that class positive, every other
// negative, scored by its column of probabilities) and its area. ROC is empty and AUC 0
// when the curve is undefined: the class is absent from the labels, or every label is it.
type ClassROC struct {
	AUC float64    `json:"auc"`
	ROC []ROCPoint `json:"roc,omitempty"`
}

// TopK is a top-k accuracy, as scikit-learn's top_k_accuracy_score: the share of samples
// whose true class is among the k most probable. Among tied probabilities the class of
// higher index ranks first, as in scikit-learn. Low and High bound its 95 % Wilson
// interval (Wilson(Correct, n)).
type TopK struct {
	K        int     `json:"k"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"`
	Low      float64 `json:"low"`
	High     float64 `json:"high"`
}

// Mistake is a sample predicted wrong: its index in the scored samples, its true label,
// the label predicted and the probability given to that wrong label.
type Mistake struct {
	Index     int     `json:"index"`
	Label     int     `json:"label"`
	Predicted int     `json:"predicted"`
	Prob      float64 `json:"prob"`
}

// Report is the score of a set of predictions.
//
// Its class-indexed fields (Classes, PerClass, the rows and columns of Confusion,
// OneVsRest) are in label order. Two kinds of reports share it:
//   - two classes: the model scores the probability of label 1, and a sample is predicted
//     label 1 from Threshold up. AUC and ROC are those of label 1 against label 0
//     (scikit-learn's roc_auc_score and roc_curve); OneVsRest and TopK are empty.
//   - three classes or more: the prediction is the most probable class (the first, of
//     the lowest label, among equal probabilities, like numpy's argmax) and Threshold is 0.
//     OneVsRest holds each class's ROC curve against the rest, AUC their macro average
//     (roc_auc_score(multi_class="ovr", average="macro")), and ROC is empty.
type Report struct {
	// N is the number of samples.
	N int
	// Threshold is the probability of label 1 from which a sample of a two-class problem
	// is predicted label 1; 0 for three classes or more.
	Threshold float64
	Accuracy  float64
	// Classes names the labels: label i is Classes[i].
	Classes []string
	// PerClass holds a classification report's row of each class.
	PerClass    []ClassStats
	MacroAvg    ClassStats
	WeightedAvg ClassStats
	// Confusion[t][p] counts samples of true label t predicted as p (rows true, columns
	// predicted), like scikit-learn's confusion_matrix: C×C.
	Confusion [][]int
	// AUC is the area under the ROC curve (ties count one half, like roc_auc_score), or
	// the macro average of the one-vs-rest areas. It is undefined, and left 0, when a
	// class is missing from the labels (HasAUC says so and Warnings why).
	AUC float64
	// ROC is the curve of a two-class report without intermediate points (see ROC).
	ROC []ROCPoint
	// OneVsRest is each class's curve and area, for three classes or more.
	OneVsRest []ClassROC
	// TopK holds the top-k accuracies of a report of three classes or more, k ascending.
	TopK []TopK
	// LogLoss is the mean cross-entropy of the true labels with probabilities clipped to
	// [Eps, 1-Eps] (scikit-learn's log_loss; see Options.Renormalize).
	LogLoss float64
	// Mistakes are the samples predicted wrong with the most confidence: for each true
	// class in label order, up to Options.Mistakes of them, the highest probability of
	// the wrong label first (then the lowest index).
	Mistakes []Mistake
	// ClassificationReport is Text(2), kept for readers of the JSON file.
	ClassificationReport string
	// Warnings says what was undefined and set to 0, as scikit-learn warns.
	Warnings []string
}

// Options tune Compute and ComputeClasses. The zero value means the defaults.
type Options struct {
	// Threshold is the probability of label 1 from which a two-class sample is predicted
	// label 1; it defaults to DefaultThreshold. Three classes or more ignore it.
	Threshold float64
	// Eps defaults to DefaultEps.
	Eps float64
	// Renormalize divides each row of clipped probabilities by its sum before the log
	// loss, as scikit-learn's log_loss did from 1.2 to 1.4 (eps="auto"); by default the
	// log loss is that of scikit-learn 1.5 and later, which clips only. For rows that sum
	// to 1 the two differ by rounding; for float32 softmax rows, by about 1e-7.
	Renormalize bool
	// TopK lists the k of the top-k accuracies of three classes or more; nil means
	// DefaultTopK. Every k from the number of classes up is left out.
	TopK []int
	// Mistakes is how many mistakes to keep per true class: 0 means DefaultMistakes, a
	// negative number none.
	Mistakes int
}

// Compute scores probabilities of cat against labels (0 dog, 1 cat): ComputeClasses with
// the classes dog and cat.
func Compute(labels []uint8, probs []float64, opts Options) (*Report, error) {
	return ComputeClasses(labels, probs, []string{Dog, Cat}, opts)
}

// ComputeClasses scores predictions of the classes named by classes (label i is
// classes[i]; two to MaxClasses distinct, non-empty names) against labels. With two
// classes probs holds one probability of label 1 per sample, with C >= 3 a row of C
// probabilities per sample (row-major, len(labels)×C), each row summing to 1 within
// the tolerance of scikit-learn's roc_auc_score (numpy's allclose: 1e-5 relative,
// 1e-8 absolute). Convert float32 model outputs to float64 first: the clipping before
// the log loss is float64's (scikit-learn's for float64 input).
func ComputeClasses(labels []uint8, probs []float64, classes []string, opts Options) (*Report, error) {
	if err := checkClasses(classes); err != nil {
		return nil, err
	}
	c, n := len(classes), len(labels)
	if c == 2 && n != len(probs) {
		return nil, fmt.Errorf("metrics: %d labels but %d probabilities", n, len(probs))
	}
	if c > 2 && len(probs) != n*c {
		return nil, fmt.Errorf("metrics: %d probabilities for %d labels of %d classes; want %d (a row of %d per label)", len(probs), n, c, n*c, c)
	}
	if n == 0 {
		return nil, ErrEmpty
	}
	if opts.Threshold == 0 {
		opts.Threshold = DefaultThreshold
	}
	if opts.Eps == 0 {
		opts.Eps = DefaultEps
	}
	if opts.Mistakes == 0 {
		opts.Mistakes = DefaultMistakes
	}
	if err := checkInput(labels, probs, classes); err != nil {
		return nil, err
	}
	r := &Report{N: n, Classes: slices.Clone(classes), Confusion: make([][]int, c)}
	for t := range r.Confusion {
		r.Confusion[t] = make([]int, c)
	}
	preds := make([]int, n)
	for i, l := range labels {
		preds[i] = predict(probs, i, c, opts.Threshold)
		r.Confusion[l][preds[i]]++
	}
	if c == 2 {
		r.Threshold = opts.Threshold
	}
	r.Accuracy = float64(r.Correct()) / float64(n)
	r.classRows()
	if c == 2 {
		if roc, err := rocCurve(labels, probs, true, classes); err == nil {
			r.ROC = roc
			r.AUC = AUC(roc)
		} else {
			r.Warnings = append(r.Warnings, err.Error())
		}
	} else {
		r.oneVsRest(labels, probs)
		r.TopK = topK(labels, probs, c, opts.TopK)
	}
	r.LogLoss = logLoss(labels, probs, c, opts.Eps, opts.Renormalize)
	r.Mistakes = mistakes(labels, probs, preds, c, opts.Mistakes)
	r.ClassificationReport = r.Text(2)
	return r, nil
}

// checkClasses checks the class names of a report.
func checkClasses(classes []string) error {
	if len(classes) < 2 || len(classes) > MaxClasses {
		return fmt.Errorf("metrics: %d classes; want 2 to %d", len(classes), MaxClasses)
	}
	seen := make(map[string]bool, len(classes))
	for i, name := range classes {
		if name == "" {
			return fmt.Errorf("metrics: class %d has no name", i)
		}
		if seen[name] {
			return fmt.Errorf("metrics: class name %q given twice", name)
		}
		seen[name] = true
	}
	return nil
}

// checkInput checks labels against the number of classes, and probabilities.
func checkInput(labels []uint8, probs []float64, classes []string) error {
	c := len(classes)
	for i, l := range labels {
		if int(l) >= c {
			if c == 2 {
				return fmt.Errorf("metrics: label %d at index %d; want 0 (%s) or 1 (%s)", l, i, classes[0], classes[1])
			}
			return fmt.Errorf("metrics: label %d at index %d; want 0 to %d (%d classes)", l, i, c-1, c)
		}
	}
	if c == 2 {
		for i, p := range probs {
			if math.IsNaN(p) || p < 0 || p > 1 {
				return fmt.Errorf("metrics: probability %v at index %d is not in [0, 1]", p, i)
			}
		}
		return nil
	}
	for i := range labels {
		row, s := probs[i*c:(i+1)*c], 0.0
		for j, p := range row {
			if math.IsNaN(p) || p < 0 || p > 1 {
				return fmt.Errorf("metrics: probability %v of class %d at index %d is not in [0, 1]", p, j, i)
			}
			s += p
		}
		if math.Abs(s-1) > 1e-8+1e-5*s {
			return fmt.Errorf("metrics: the probabilities at index %d sum to %v, not 1: want a row of probabilities per sample (softmax)", i, s)
		}
	}
	return nil
}

// predict is the predicted label of sample i: label 1 from the threshold up with two
// classes, else the most probable (the lowest label among equals).
func predict(probs []float64, i, c int, threshold float64) int {
	if c == 2 {
		if probs[i] >= threshold {
			return 1
		}
		return 0
	}
	row, best := probs[i*c:(i+1)*c], 0
	for j, p := range row {
		if p > row[best] {
			best = j
		}
	}
	return best
}

// prob is the probability sample i has of label j.
func prob(probs []float64, i, j, c int) float64 {
	if c == 2 {
		if j == 1 {
			return probs[i]
		}
		return 1 - probs[i]
	}
	return probs[i*c+j]
}

// Correct is the number of samples predicted right: the diagonal of the confusion matrix.
func (r *Report) Correct() int {
	k := 0
	for i, row := range r.Confusion {
		if i < len(row) {
			k += row[i]
		}
	}
	return k
}

// AccuracyInterval is the 95 % Wilson interval of the accuracy.
func (r *Report) AccuracyInterval() (lo, hi float64) { return Wilson(r.Correct(), r.N) }

// HasAUC says whether AUC is defined: every class is in the labels (and, with two
// classes, the curve is there).
func (r *Report) HasAUC() bool {
	if len(r.Classes) <= 2 {
		return len(r.ROC) > 0
	}
	if len(r.OneVsRest) != len(r.Classes) {
		return false
	}
	for _, c := range r.OneVsRest {
		if len(c.ROC) == 0 {
			return false
		}
	}
	return true
}

// className is the name of label l.
func (r *Report) className(l int) string {
	if l < len(r.Classes) {
		return r.Classes[l]
	}
	if len(r.Classes) == 0 && l < 2 {
		return []string{Dog, Cat}[l]
	}
	return fmt.Sprint(l)
}

// classRows fills PerClass and the averages from the confusion matrix.
func (r *Report) classRows() {
	c := len(r.Confusion)
	r.PerClass = make([]ClassStats, c)
	for k := range c {
		tp, fp, fn := r.Confusion[k][k], 0, 0
		for j := range c {
			if j != k {
				fp += r.Confusion[j][k]
				fn += r.Confusion[k][j]
			}
		}
		r.PerClass[k] = r.classStats(k, tp, fp, fn)
	}
	var macro, wt ClassStats
	macro.Support, wt.Support = r.N, r.N
	if c == 2 {
		// The formulas two-class reports have always used (their numbers stay the same to
		// the bit); scikit-learn's, below, may differ in the last bit.
		for _, s := range r.PerClass {
			macro.Precision += s.Precision
			macro.Recall += s.Recall
			macro.F1 += s.F1
			w := float64(s.Support) / float64(r.N)
			wt.Precision += w * s.Precision
			wt.Recall += w * s.Recall
			wt.F1 += w * s.F1
		}
		macro.Precision /= 2
		macro.Recall /= 2
		macro.F1 /= 2
		r.MacroAvg, r.WeightedAvg = macro, wt
		return
	}
	// numpy's average, as precision_recall_fscore_support takes it: the mean, and the sum
	// of the rows weighted by their support over the sum of the supports.
	col := func(f func(ClassStats) float64, weighted bool) float64 {
		v := make([]float64, c)
		for k, s := range r.PerClass {
			v[k] = f(s)
			if weighted {
				v[k] *= float64(s.Support)
			}
		}
		if weighted {
			return pairwiseSum(v) / float64(r.N)
		}
		return pairwiseSum(v) / float64(c)
	}
	precision := func(s ClassStats) float64 { return s.Precision }
	recall := func(s ClassStats) float64 { return s.Recall }
	f1 := func(s ClassStats) float64 { return s.F1 }
	macro.Precision, macro.Recall, macro.F1 = col(precision, false), col(recall, false), col(f1, false)
	wt.Precision, wt.Recall, wt.F1 = col(precision, true), col(recall, true), col(f1, true)
	r.MacroAvg, r.WeightedAvg = macro, wt
}

// pairwiseSum adds v up in numpy's order (pairwise_sum: in turn below 8 values, in 8
// partial sums up to 128, halves beyond), so that averages match numpy's to the bit.
func pairwiseSum(v []float64) float64 {
	n := len(v)
	switch {
	case n < 8:
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], v[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range r {
				r[j] += v[i+j]
			}
		}
		s := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += v[i]
		}
		return s
	default:
		h := n / 2
		h -= h % 8
		return pairwiseSum(v[:h]) + pairwiseSum(v[h:])
	}
}

// classStats fills one class row from its true positives, false positives and false
// negatives, setting undefined ratios to 0 with a warning (scikit-learn's zero_division="warn").
func (r *Report) classStats(label, tp, fp, fn int) ClassStats {
	s := ClassStats{Support: tp + fn}
	name := r.className(label)
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

// oneVsRest fills OneVsRest and the macro-average AUC of three classes or more.
func (r *Report) oneVsRest(labels []uint8, probs []float64) {
	c := len(r.Classes)
	bin := make([]uint8, len(labels))
	col := make([]float64, len(labels))
	r.OneVsRest = make([]ClassROC, c)
	var missing []string
	sum := 0.0
	for k := range c {
		for i, l := range labels {
			bin[i] = 0
			if int(l) == k {
				bin[i] = 1
			}
			col[i] = probs[i*c+k]
		}
		roc, err := rocCurve(bin, col, true, []string{"other", r.Classes[k]})
		if err != nil {
			missing = append(missing, r.Classes[k])
			continue
		}
		r.OneVsRest[k] = ClassROC{AUC: AUC(roc), ROC: roc}
		sum += r.OneVsRest[k].AUC
	}
	if len(missing) > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("metrics: ROC AUC is not defined for %s (absent from the labels, or all of them), so neither is its macro average", quoteList(missing)))
		return
	}
	r.AUC = sum / float64(c)
}

// quoteList joins names for a message: "a", "a and b", "a, b and c".
func quoteList(names []string) string {
	s := ""
	for i, n := range names {
		switch {
		case i == 0:
		case i == len(names)-1:
			s += " and "
		default:
			s += ", "
		}
		s += n
	}
	return s
}

// topK is scikit-learn's top_k_accuracy_score for each k below c (nil ks: DefaultTopK),
// ascending. Sample i's true class t is among the k best when fewer than k classes rank
// above it: those of higher probability, and those of equal probability and higher
// index (numpy's stable argsort, reversed).
func topK(labels []uint8, probs []float64, c int, ks []int) []TopK {
	if ks == nil {
		ks = DefaultTopK()
	}
	ks = slices.Clone(ks)
	slices.Sort(ks)
	ks = slices.Compact(ks)
	above := make([]int, len(labels))
	for i, l := range labels {
		t := int(l)
		row := probs[i*c : (i+1)*c]
		for j, p := range row {
			if p > row[t] || (p == row[t] && j > t) {
				above[i]++
			}
		}
	}
	var out []TopK
	for _, k := range ks {
		if k < 1 || k >= c {
			continue
		}
		right := 0
		for _, a := range above {
			if a < k {
				right++
			}
		}
		lo, hi := Wilson(right, len(labels))
		out = append(out, TopK{K: k, Correct: right, Accuracy: float64(right) / float64(len(labels)), Low: lo, High: hi})
	}
	return out
}

// mistakes picks up to per wrong predictions of each true class, the most probable
// wrong label first.
func mistakes(labels []uint8, probs []float64, preds []int, c, per int) []Mistake {
	if per <= 0 {
		return nil
	}
	byClass := make([][]Mistake, c)
	for i, l := range labels {
		if p := preds[i]; p != int(l) {
			byClass[l] = append(byClass[l], Mistake{Index: i, Label: int(l), Predicted: p, Prob: prob(probs, i, p, c)})
		}
	}
	var out []Mistake
	for _, ms := range byClass {
		sort.SliceStable(ms, func(a, b int) bool { return ms[a].Prob > ms[b].Prob })
		out = append(out, ms[:min(per, len(ms))]...)
	}
	return out
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
