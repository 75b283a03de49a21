package metrics

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Text lays the report out exactly like scikit-learn's classification_report with the
// class names as target_names and the given number of digits (2 if digits < 1): the name
// column as wide as the longest of the names (in characters, as Python counts them),
// "weighted avg" and digits.
func (r *Report) Text(digits int) string {
	if digits < 1 {
		digits = 2
	}
	const lastHeading = "weighted avg"
	width := max(len(lastHeading), digits)
	for i := range r.PerClass {
		width = max(width, utf8.RuneCountInString(r.className(i)))
	}
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
	for i, s := range r.PerClass {
		row(r.className(i), s)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "%*s  %9s %9s %9.*f %9d\n", width, "accuracy", "", "", digits, r.Accuracy, r.N)
	row("macro avg", r.MacroAvg)
	row(lastHeading, r.WeightedAvg)
	return b.String()
}

// Summary lists the scores a classification report leaves out, one a line with the given
// number of digits (2 if digits < 1): the accuracy with its 95 % Wilson interval, the
// top-k accuracies for k above 1 (three classes or more) with theirs, the ROC AUC (the
// macro average of the one-vs-rest areas for three classes or more, "n/a" when undefined)
// and the log loss. For example:
//
//	accuracy        0.8130  95 % Wilson interval 0.7875 to 0.8361 (813 of 1000)
//	top-3 accuracy  0.9610  95 % Wilson interval 0.9473 to 0.9713 (961 of 1000)
//	ROC AUC         0.9712  one-vs-rest, macro average
//	log loss        0.5121
func (r *Report) Summary(digits int) string {
	if digits < 1 {
		digits = 2
	}
	var b strings.Builder
	line := func(name string, v float64, note string) {
		fmt.Fprintf(&b, "%-15s %.*f", name, digits, v)
		if note != "" {
			b.WriteString("  " + note)
		}
		b.WriteString("\n")
	}
	interval := func(k int) string {
		lo, hi := Wilson(k, r.N)
		return fmt.Sprintf("95 %% Wilson interval %.*f to %.*f (%d of %d)", digits, lo, digits, hi, k, r.N)
	}
	line("accuracy", r.Accuracy, interval(r.Correct()))
	for _, t := range r.TopK {
		if t.K > 1 {
			line(fmt.Sprintf("top-%d accuracy", t.K), t.Accuracy, interval(t.Correct))
		}
	}
	switch {
	case !r.HasAUC():
		fmt.Fprintf(&b, "%-15s n/a (a class is missing from the labels)\n", "ROC AUC")
	case len(r.Classes) > 2:
		line("ROC AUC", r.AUC, "one-vs-rest, macro average")
	default:
		line("ROC AUC", r.AUC, "")
	}
	line("log loss", r.LogLoss, "")
	return b.String()
}
