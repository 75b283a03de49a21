package metrics

import (
	"encoding/json"
	"fmt"
	"slices"
)

// reportJSON is the layout of a Report in JSON. A dog/cat report (classes [dog cat])
// writes its rows as "dog" and "cat" and no "classes", the layout metrics.json files have
// always had; any other report writes "classes" and "per_class", a list in label order.
type reportJSON struct {
	N                    int          `json:"n"`
	Threshold            float64      `json:"threshold,omitempty"`
	Accuracy             float64      `json:"accuracy"`
	Classes              []string     `json:"classes,omitempty"`
	PerClass             []ClassStats `json:"per_class,omitempty"`
	Dog                  *ClassStats  `json:"dog,omitempty"`
	Cat                  *ClassStats  `json:"cat,omitempty"`
	MacroAvg             ClassStats   `json:"macro_avg"`
	WeightedAvg          ClassStats   `json:"weighted_avg"`
	Confusion            [][]int      `json:"confusion"`
	AUC                  float64      `json:"auc"`
	ROC                  []ROCPoint   `json:"roc,omitempty"`
	OneVsRest            []ClassROC   `json:"one_vs_rest,omitempty"`
	TopK                 []TopK       `json:"top_k,omitempty"`
	LogLoss              float64      `json:"log_loss"`
	Mistakes             []Mistake    `json:"mistakes,omitempty"`
	ClassificationReport string       `json:"classification_report"`
	Warnings             []string     `json:"warnings,omitempty"`
}

// dogCat says whether classes are those of a dog/cat report.
func dogCat(classes []string) bool { return slices.Equal(classes, []string{Dog, Cat}) }

// MarshalJSON writes the report as an object. A report of the classes dog and cat has
// the keys metrics.json files have always had: "n", "threshold", "accuracy", "dog",
// "cat", "macro_avg", "weighted_avg", "confusion" (2×2, rows true), "auc", "roc",
// "log_loss", "classification_report" and "warnings" when there are some, and now
// "mistakes" (before "classification_report"). Any other report has "classes" and
// "per_class" (one row per class, in label order) in place of "dog" and "cat", and, for
// three classes or more, "one_vs_rest" (each class's "auc" and "roc", in label order) and
// "top_k" in place of "threshold" and "roc". Empty lists are left out.
func (r Report) MarshalJSON() ([]byte, error) {
	w := reportJSON{
		N: r.N, Threshold: r.Threshold, Accuracy: r.Accuracy, MacroAvg: r.MacroAvg, WeightedAvg: r.WeightedAvg,
		Confusion: r.Confusion, AUC: r.AUC, ROC: r.ROC, OneVsRest: r.OneVsRest, TopK: r.TopK, LogLoss: r.LogLoss,
		Mistakes: r.Mistakes, ClassificationReport: r.ClassificationReport, Warnings: r.Warnings,
	}
	if (r.Classes == nil || dogCat(r.Classes)) && len(r.PerClass) == 2 {
		w.Dog, w.Cat = &r.PerClass[0], &r.PerClass[1]
	} else {
		w.Classes, w.PerClass = r.Classes, r.PerClass
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON writes, including the metrics.json of dog/cat
// reports written before reports had classes: without "classes" the classes are dog
// and cat and the rows those of "dog" and "cat". It checks that the rows and the
// confusion matrix have one entry per class.
func (r *Report) UnmarshalJSON(data []byte) error {
	var w reportJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*r = Report{
		N: w.N, Threshold: w.Threshold, Accuracy: w.Accuracy, Classes: w.Classes, PerClass: w.PerClass,
		MacroAvg: w.MacroAvg, WeightedAvg: w.WeightedAvg, Confusion: w.Confusion, AUC: w.AUC, ROC: w.ROC,
		OneVsRest: w.OneVsRest, TopK: w.TopK, LogLoss: w.LogLoss, Mistakes: w.Mistakes,
		ClassificationReport: w.ClassificationReport, Warnings: w.Warnings,
	}
	if w.Classes == nil {
		if w.Dog == nil || w.Cat == nil {
			return fmt.Errorf("metrics: report has neither \"classes\" nor the rows \"dog\" and \"cat\"")
		}
		r.Classes = []string{Dog, Cat}
		r.PerClass = []ClassStats{*w.Dog, *w.Cat}
	}
	c := len(r.Classes)
	if len(r.PerClass) != c {
		return fmt.Errorf("metrics: report has %d rows for %d classes", len(r.PerClass), c)
	}
	if len(r.Confusion) != c {
		return fmt.Errorf("metrics: report has a confusion matrix of %d rows for %d classes", len(r.Confusion), c)
	}
	for i, row := range r.Confusion {
		if len(row) != c {
			return fmt.Errorf("metrics: row %d of the confusion matrix has %d cells for %d classes", i, len(row), c)
		}
	}
	if len(r.OneVsRest) != 0 && len(r.OneVsRest) != c {
		return fmt.Errorf("metrics: report has %d one-vs-rest curves for %d classes", len(r.OneVsRest), c)
	}
	return nil
}
