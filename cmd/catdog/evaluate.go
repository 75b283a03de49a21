package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/evaluate"
	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/metrics"
)

func newEvaluateCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "evaluate --model FILE.onnx --data DIR",
		Short: "Score an exported model on a prepared dataset split",
		Long: `evaluate runs an exported catdog model (model.onnx) on onnxruntime over one split of a
prepared dataset (catdog prepare) and prints scikit-learn's classification report
(precision, recall, F1 and support for each class, accuracy, macro and weighted
averages), ROC AUC, log loss and the confusion matrix (rows true, columns predicted). For
three classes or more it adds the accuracy's 95 % interval and the top-3 and top-5
accuracies where there are more classes than k, and the ROC AUC is the one-vs-rest macro
average. The model's labels must be the dataset's
classes, in the same order.

The dataset must be prepared at the model's input size (catdog.input_size in its
metadata); the stored pixels are fed as they are, exactly as in training.

--json prints the full metrics report as JSON instead; --metrics FILE also writes it to
FILE (atomically), the same format as a run folder's metrics.json.

Example:
  catdog evaluate --model runs/vgg16-head-20260101-120000/model.onnx --data data --split test`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runEvaluate(a, cmd) },
	}
	cmd.Flags().String("model", "", "exported model file (model.onnx)")
	cmd.Flags().String("data", "", "prepared dataset folder (catdog prepare --out)")
	cmd.Flags().String("split", datasets.Test, "split to score: train, valid, test or all")
	cmd.Flags().String("ep", "auto", "onnxruntime execution provider: auto, cuda or cpu")
	modelLimitFlag(cmd)
	cmd.Flags().Int("batch", 32, "images per onnxruntime run")
	cmd.Flags().Float64("threshold", metrics.DefaultThreshold, "two classes: probability of label 1 (cat) from which an image is called so")
	cmd.Flags().Bool("json", false, "print the report as JSON")
	cmd.Flags().String("metrics", "", "also write the report as JSON to this file")
	a.bind(cmd)
	return cmd
}

func runEvaluate(a *app, cmd *cobra.Command) error {
	get := func(k string) string { return a.v.GetString("evaluate." + k) }
	if get("model") == "" || get("data") == "" {
		return fmt.Errorf("evaluate: --model and --data are required")
	}
	ds, err := datasets.Open(get("data"))
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	defer ds.Close()
	c, err := classifier.Load(get("model"), classifier.WithProvider(get("ep")), classifier.WithMaxModelBytes(a.modelLimit("evaluate")))
	if err != nil {
		return err
	}
	defer c.Close()
	if _, why := c.Provider(); why != "" {
		a.errf("catdog: %s\n", why)
	}
	if m := ds.Manifest(); m != nil && m.Filter != "" && m.Filter != c.Filter() {
		a.errf("catdog: note: the data was resized with %s, the model was trained on %s\n", m.Filter, c.Filter())
	}
	split := get("split")
	var bar progressBar
	var batches, total int
	start := time.Now()
	ctx := cmd.Context()
	labels, p32, err := evaluate.Split(ctx, c, ds, split, a.v.GetInt("evaluate.batch"), func(done, n int) {
		if bar == nil {
			bar = a.progress(n, "evaluate "+split, "batches")
		}
		batches, total = done, n
		_ = bar.Set(done)
	})
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("evaluate: stopped after %d of %d batches: %w", batches, total, context.Cause(ctx))
	}
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	probs := make([]float64, len(p32))
	for i, p := range p32 {
		probs[i] = float64(p)
	}
	secs := time.Since(start).Seconds()
	opts := metrics.Options{Threshold: a.v.GetFloat64("evaluate.threshold")}
	if len(ds.Classes()) > 2 {
		if cmd.Flags().Changed("threshold") {
			return fmt.Errorf("evaluate: --threshold is for two classes; a model of %d classes predicts the most probable", len(ds.Classes()))
		}
		opts.Threshold = 0
	}
	rep, err := metrics.ComputeClasses(labels, probs, ds.Classes(), opts)
	if err != nil {
		return fmt.Errorf("evaluate: split %s: %w", split, err)
	}
	if f := get("metrics"); f != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(f, append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("evaluate: writing %s: %w", f, err)
		}
	}
	if a.v.GetBool("evaluate.json") {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	w := bufio.NewWriter(a.out)
	fmt.Fprintf(w, "model %s on %s, split %s: %d images in %.1fs (%.0f images/s)\n\n",
		shownName(get("model")), shownName(get("data")), split, rep.N, secs, float64(rep.N)/secs)
	fmt.Fprint(w, rep.Text(4))
	if datasets.DogsVsCats(ds.Classes()) { // as the study has always printed it
		fmt.Fprintf(w, "\nROC AUC   %.4f\nlog loss  %.4f\n\nconfusion matrix (rows true, columns predicted)\n", rep.AUC, rep.LogLoss)
		fmt.Fprintf(w, "         dog    cat\n  dog %6d %6d\n  cat %6d %6d\n",
			rep.Confusion[0][0], rep.Confusion[0][1], rep.Confusion[1][0], rep.Confusion[1][1])
	} else {
		fmt.Fprintf(w, "\n%s\nconfusion matrix (rows true, columns predicted)\n", rep.Summary(4))
		writeConfusion(w, rep.Classes, rep.Confusion)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, warn := range rep.Warnings {
		a.errf("catdog: warning: %s\n", warn)
	}
	return nil
}

// writeConfusion prints a confusion matrix with its class names, rows true.
func writeConfusion(w io.Writer, classes []string, c [][]int) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, name := range classes {
		fmt.Fprintf(tw, "%s\t", shownName(name))
	}
	fmt.Fprintln(tw)
	for i, row := range c {
		fmt.Fprintf(tw, "%s\t", shownName(classes[i]))
		for _, n := range row {
			fmt.Fprintf(tw, "%d\t", n)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}
