package report_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/catdog-ml/catdog/report"
	"github.com/catdog-ml/catdog/runs"
)

// A program that trains its own way records a run with Save and gets the same reports as
// catdog's runs; Index compares every run folder.
func Example() {
	runsDir, err := os.MkdirTemp("", "runs")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(runsDir)
	r := &report.Run{
		Dir:  filepath.Join(runsDir, "tiny-20261124-150000"),
		Arch: "tiny", Kind: runs.Scratch, InputSize: 32,
		Layers: []runs.Layer{
			{Name: "gap", Kind: "gap", Spec: "gap", Output: []int{3}},
			{Name: "dense", Kind: "dense", Spec: "dense:1:sigmoid", Output: []int{1}, Params: 4},
		},
		History: runs.History{Epochs: []runs.Epoch{
			{Epoch: 1, TrainLoss: 0.69, TrainAcc: 0.52, ValidLoss: 0.68, ValidAcc: 0.55, Seconds: 2},
			{Epoch: 2, TrainLoss: 0.62, TrainAcc: 0.66, ValidLoss: 0.64, ValidAcc: 0.63, Seconds: 2},
		}},
		Probs:  []float32{0.2, 0.4, 0.7, 0.9, 0.6, 0.3},
		Labels: []uint8{0, 0, 1, 1, 0, 1},
	}
	if err := report.Save(r); err != nil {
		log.Fatal(err)
	}
	if err := report.Index(context.Background(), runsDir, report.IndexOptions{
		Skipped: []report.Skipped{{Name: "vgg16-head", Reason: "no ImageNet weights", Fix: "catdog backbones download vgg16"}},
	}); err != nil {
		log.Fatal(err)
	}
	loaded, err := report.Load(r.Dir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("test accuracy %.3f, AUC %.3f\n", loaded.Test.Accuracy, loaded.Test.AUC)
	for _, f := range []string{"index.html", "index.md", "tiny-20261124-150000/report.html", "tiny-20261124-150000/report.md"} {
		_, err := os.Stat(filepath.Join(runsDir, f))
		fmt.Println(f, err == nil)
	}
	// Output:
	// test accuracy 0.667, AUC 0.778
	// index.html true
	// index.md true
	// tiny-20261124-150000/report.html true
	// tiny-20261124-150000/report.md true
}
