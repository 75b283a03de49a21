package main

import (
	"bufio"
	"context"
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
label, probability of cat, path, printed as each group of 64 is done. A path holding
control characters is printed quoted ("a\x1b[2J.jpg"). A file that is missing or cannot
be decoded gets an error line on stderr and the others still run; the exit status is 1 if
any file failed, or if the results could not be written (a full disk).

SIGINT or SIGTERM stops it after the group in progress, the lines of the groups done
printed, with exit status 130 or 143.

With --jsonl, one JSON object per line, also as each group is done (for streaming, head,
jq):
  {"path":"a.jpg","label":"cat","class":1,"probability":0.97,"confidence":0.97}
  {"path":"b.jpg","error":"b.jpg: not a supported image ..."}
With --json, the same objects as one indented JSON array, printed at the end.

Example:
  catdog predict --model runs/vgg16-head-20260101-120000/model.onnx ~/Pictures/pets`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPredict(cmd.Context(), a, args)
		},
	}
	cmd.Flags().String("model", "", "exported model file (model.onnx)")
	cmd.Flags().Bool("json", false, "print one JSON array at the end instead of text lines")
	cmd.Flags().Bool("jsonl", false, "print one JSON object per line (JSON Lines) instead of text lines")
	cmd.Flags().String("ep", "auto", "onnxruntime execution provider: auto, cuda or cpu")
	modelLimitFlag(cmd)
	cmd.Flags().Float32("threshold", 0.5, "probability of cat from which an image is called a cat")
	a.bind(cmd)
	return cmd
}

// predictChunk is how many files predict classifies before printing their lines.
const predictChunk = 64

type predictLine struct {
	Path string `json:"path"`
	*classifier.Prediction
	Error string `json:"error,omitempty"`
}

// runPredict classifies the files of args and prints each group's results as it is done.
// It stops between groups when ctx is cancelled, and at the first error writing results.
func runPredict(ctx context.Context, a *app, args []string) error {
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
		classifier.WithMaxModelBytes(a.modelLimit("predict")),
		classifier.WithThreshold(float32(a.v.GetFloat64("predict.threshold"))))
	if err != nil {
		return err
	}
	defer c.Close()
	if _, why := c.Provider(); why != "" {
		a.errf("catdog: %s\n", why)
	}
	asJSON, asJSONL := a.v.GetBool("predict.json"), a.v.GetBool("predict.jsonl")
	if asJSON && asJSONL {
		return fmt.Errorf("predict: --json and --jsonl do not go together")
	}
	lines := make([]predictLine, len(files))
	failed, printed := 0, 0
	var preds []classifier.Prediction
	var errs []error
	out := bufio.NewWriter(a.out)
	lineOut := json.NewEncoder(out)
	// emit writes the results of files[printed:done], which PredictFiles has finished.
	emit := func(done int) error {
		for ; printed < done; printed++ {
			i := printed
			l := &lines[i]
			l.Path = files[i]
			if errs[i] != nil {
				failed++
				l.Error = errs[i].Error()
				if !asJSON && !asJSONL {
					a.errf("catdog: predict: %s\n", shownText(l.Error))
				}
			} else {
				l.Prediction = &preds[i]
				if !asJSON && !asJSONL {
					fmt.Fprintf(out, "%s  %.4f  %s\n", preds[i].Label, preds[i].Probability, shownName(files[i]))
				}
			}
			if asJSONL {
				if err := lineOut.Encode(l); err != nil {
					return err
				}
			}
		}
		return out.Flush()
	}
	// stopped says how far predict went before ctx was cancelled, after printing the JSON
	// array of the files done with --json.
	stopped := func() error {
		if asJSON {
			if err := printJSON(out, lines[:printed]); err != nil {
				return err
			}
		}
		return fmt.Errorf("predict: stopped after %d of %d files: %w", printed, len(files), context.Cause(ctx))
	}
	bar := a.progress(len(files), "predict", "images")
	preds, errs = make([]classifier.Prediction, len(files)), make([]error, len(files))
	for start := 0; start < len(files); start += predictChunk {
		if ctx.Err() != nil {
			return stopped()
		}
		end := min(start+predictChunk, len(files))
		p, e := c.PredictFiles(files[start:end], nil)
		copy(preds[start:], p)
		copy(errs[start:], e)
		_ = bar.Set(end)
		if err := emit(end); err != nil {
			return err
		}
	}
	_ = bar.Finish()
	if asJSON {
		if err := printJSON(out, lines); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("predict: %d of %d files failed", failed, len(files))
	}
	return nil
}

// printJSON writes lines as one indented JSON array and flushes out.
func printJSON(out *bufio.Writer, lines []predictLine) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(lines); err != nil {
		return err
	}
	return out.Flush()
}
