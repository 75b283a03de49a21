package metrics_test

import (
	"fmt"

	"github.com/catdog-ml/catdog/metrics"
)

func ExampleCompute() {
	labels := []uint8{0, 0, 0, 1, 1, 1, 1} // 0 dog, 1 cat
	probs := []float64{0.1, 0.6, 0.4, 0.9, 0.3, 0.8, 0.5}
	r, err := metrics.Compute(labels, probs, metrics.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Print(r.Text(2))
	fmt.Printf("\nAUC %.3f, log loss %.3f, confusion %v\n", r.AUC, r.LogLoss, r.Confusion)
	// Output:
	//               precision    recall  f1-score   support
	//
	//          dog       0.67      0.67      0.67         3
	//          cat       0.75      0.75      0.75         4
	//
	//     accuracy                           0.71         7
	//    macro avg       0.71      0.71      0.71         7
	// weighted avg       0.71      0.71      0.71         7
	//
	// AUC 0.750, log loss 0.537, confusion [[2 1] [1 3]]
}

func ExampleComputeClasses() {
	classes := []string{"airplane", "automobile", "bird"}
	labels := []uint8{0, 1, 2, 2, 0, 1}
	probs := []float64{ // one row of probabilities per sample
		0.7, 0.2, 0.1,
		0.3, 0.4, 0.3,
		0.5, 0.1, 0.4,
		0.1, 0.2, 0.7,
		0.2, 0.3, 0.5,
		0.2, 0.7, 0.1,
	}
	r, err := metrics.ComputeClasses(labels, probs, classes, metrics.Options{TopK: []int{1, 2}})
	if err != nil {
		panic(err)
	}
	fmt.Print(r.Text(2), "\n", r.Summary(3))
	fmt.Printf("\nconfusion %v, mistakes %+v\n", r.Confusion, r.Mistakes)
	// Output:
	//               precision    recall  f1-score   support
	//
	//     airplane       0.50      0.50      0.50         2
	//   automobile       1.00      1.00      1.00         2
	//         bird       0.50      0.50      0.50         2
	//
	//     accuracy                           0.67         6
	//    macro avg       0.67      0.67      0.67         6
	// weighted avg       0.67      0.67      0.67         6
	//
	// accuracy        0.667  95 % Wilson interval 0.300 to 0.903 (4 of 6)
	// top-2 accuracy  0.833  95 % Wilson interval 0.436 to 0.970 (5 of 6)
	// ROC AUC         0.854  one-vs-rest, macro average
	// log loss        0.752
	//
	// confusion [[1 0 1] [0 2 0] [1 0 1]], mistakes [{Index:4 Label:0 Predicted:2 Prob:0.5} {Index:2 Label:2 Predicted:0 Prob:0.5}]
}
