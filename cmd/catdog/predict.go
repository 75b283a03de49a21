package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/catdog-ml/catdog/classifier"
)

func newPredictCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "predict --model FILE.onnx PATH...",
		Short: "Classify image files with an exported model",
		Long: `predict classifies image files as dog or cat with an exported catdog model (model.onnx)
on onnxruntime. Each PATH is an image file (any name: the content decides) or a folder,
searched recursively for .jpg, .jpeg, .png, .gif, .bmp and .webp files.

Images are resized exactly as catdog prepare resized the training data (size and filter
come from the model's metadata).

Output, one line per file, in the order given:
  cat  0.9731  photos/cat.1.jpg
label, probability of cat, path. A file that cannot be read or decoded gets an error line
on stderr and the others still run; the exit status is 1 if any file failed.

With --json the output is one JSON array, one object per file:
  [{"path":"a.jpg","label":"cat","class":1,"probability":0.97,"confidence":0.97},
   {"path":"b.jpg","error":"b.jpg: not a supported image ..."}]

Example:
  catdog predict --model runs/vgg16-head-20260101-120000/model.onnx ~/Pictures/pets`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPredict(a, args)
		},
	}
	cmd.Flags().String("model", "", "exported model file (model.onnx)")
	cmd.Flags().Bool("json", false, "print one JSON array instead of text lines")
	cmd.Flags().String("ep", "auto", "onnxruntime execution provider: auto, cuda or cpu")
	cmd.Flags().Float32("threshold", 0.5, "probability of cat from which an image is called a cat")
	a.bind(cmd)
	return cmd
}

type predictLine struct {
	Path string `json:"path"`
	*classifier.Prediction
	Error string `json:"error,omitempty"`
}

func runPredict(a *app, args []string) error {
	model := a.v.GetString("predict.model")
	if model == "" {
		return fmt.Errorf("predict: --model is required")
	}
	files, err := classifier.FindImages(args...)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	if len(files) == 0 {
		return fmt.Errorf("predict: no image files in %v", args)
	}
	c, err := classifier.Load(model,
		classifier.WithProvider(a.v.GetString("predict.ep")),
		classifier.WithThreshold(float32(a.v.GetFloat64("predict.threshold"))))
	if err != nil {
		return err
	}
	defer c.Close()
	if _, why := c.Provider(); why != "" {
		a.errf("catdog: %s\n", why)
	}
	bar := a.progress(len(files), "predict", "images")
	preds, errs := c.PredictFiles(files, func(done, _ int) { _ = bar.Set(done) })
	_ = bar.Finish()

	failed := 0
	lines := make([]predictLine, len(files))
	for i, f := range files {
		lines[i].Path = f
		if errs[i] != nil {
			failed++
			lines[i].Error = errs[i].Error()
			if !a.v.GetBool("predict.json") {
				a.errf("catdog: predict: %v\n", errs[i])
			}
			continue
		}
		lines[i].Prediction = &preds[i]
		if !a.v.GetBool("predict.json") {
			fmt.Fprintf(a.out, "%s  %.4f  %s\n", preds[i].Label, preds[i].Probability, f)
		}
	}
	if a.v.GetBool("predict.json") {
		enc := json.NewEncoder(a.out)
		if err := enc.Encode(lines); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("predict: %d of %d files failed", failed, len(files))
	}
	return nil
}
