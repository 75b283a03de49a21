package metrics

import (
	"fmt"
	"math"
	"sort"
)

// ROC returns the ROC curve of probabilities of cat against labels, like scikit-learn's
// roc_curve: one point per distinct score, from the highest down, after a first point
// (0, 0) whose threshold is the highest score plus 1 (scikit-learn before 1.3; infinity
// since, which JSON cannot hold). Tied scores make one point, so the
// curve crosses a tie on a diagonal. With dropIntermediate, points in the middle of a
// straight run are left out (scikit-learn's default), which changes neither the shape nor
// the area. It fails unless both classes are present.
func ROC(labels []uint8, probs []float64, dropIntermediate bool) ([]ROCPoint, error) {
	return rocCurve(labels, probs, dropIntermediate, []string{Dog, Cat})
}

// rocCurve is ROC for labels 0 and 1 named by names.
func rocCurve(labels []uint8, probs []float64, dropIntermediate bool, names []string) ([]ROCPoint, error) {
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
		return nil, fmt.Errorf("metrics: ROC AUC is not defined with one class only in the labels (%d %s, %d %s)", neg, names[0], pos, names[1])
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

// Rates splits a ROC curve into its false and true positive rates (for a chart).
func Rates(roc []ROCPoint) (fpr, tpr []float64) {
	fpr, tpr = make([]float64, len(roc)), make([]float64, len(roc))
	for i, p := range roc {
		fpr[i], tpr[i] = p.FPR, p.TPR
	}
	return fpr, tpr
}

// LogLoss is the mean binary cross-entropy of probabilities of cat against labels, each
// probability clipped to [eps, 1-eps] first (scikit-learn's log_loss). It returns NaN for
// empty input.
func LogLoss(labels []uint8, probs []float64, eps float64) float64 {
	if len(labels) == 0 || len(labels) != len(probs) {
		return math.NaN()
	}
	return logLoss(labels, probs, 2, eps, false)
}

// logLoss is the mean cross-entropy of the true labels: scikit-learn's log_loss with
// labels 0 to c-1. Probabilities are clipped to [eps, 1-eps]; with renormalize each row
// of clipped probabilities is then divided by its sum (scikit-learn 1.2 to 1.4). With two
// classes probs holds the probability of label 1, else rows of c.
func logLoss(labels []uint8, probs []float64, c int, eps float64, renormalize bool) float64 {
	clip := func(p float64) float64 { return min(max(p, eps), 1-eps) }
	if c == 2 {
		// The additions two-class reports have always made: the same numbers to the bit.
		s := 0.0
		for i, l := range labels {
			p := clip(probs[i])
			switch {
			case renormalize:
				q0 := clip(1 - probs[i])
				q := p
				if l == 0 {
					q = q0
				}
				s -= math.Log(q / (q0 + p))
			case l == 1:
				s -= math.Log(p)
			default:
				s -= math.Log(1 - p)
			}
		}
		return s / float64(len(labels))
	}
	// Three classes or more: numpy's order of additions, for its result to the bit.
	losses := make([]float64, len(labels))
	clipped := make([]float64, c)
	for i, l := range labels {
		row := probs[i*c : (i+1)*c]
		q := clip(row[l])
		if renormalize {
			for j, p := range row {
				clipped[j] = clip(p)
			}
			q /= pairwiseSum(clipped)
		}
		losses[i] = -math.Log(q)
	}
	return pairwiseSum(losses) / float64(len(labels))
}
