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
