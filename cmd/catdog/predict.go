package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/metrics"
)

func newPredictCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "predict --model FILE.onnx PATH...",
		Short: "Classify image files with an exported model",
		Long: `predict classifies image files with an exported catdog model (model.onnx) on
onnxruntime: as dog or cat, or whatever the model's classes are. Each PATH is an image
file (any name: the content decides) or a folder, searched recursively for .jpg, .jpeg,
.png, .gif, .bmp and .webp files.

Images are resized exactly as catdog prepare resized the training data (size and filter
come from the model's metadata).

Output, one line per file, in the order given, printed as each group of 64 is done. For a
model of two classes:
  cat  0.9731  photos/cat.1.jpg
label, probability of cat (of label 1), path. For a model of three classes or more, the
label and its probability, then the next most probable classes (--top in all) and theirs,
then the path:
  ship  0.9100  truck 0.0512  horse 0.0201  cifar-10/test/ship/0001.png
A path holding control characters is printed quoted ("a\x1b[2J.jpg"). A file that is
missing or cannot be decoded gets an error line on stderr and the others still run; the
exit status is 1 if any file failed, or if the results could not be written (a full disk).

Accuracy: a file in a folder named as one of the model's classes (cifar-10/test/ship/...,
photos/cat/...) is taken to be of that class. When there are such files, predict prints on
stderr, after the results, the accuracy over them with its 95 % Wilson interval, the top-k
accuracy (k = --top, for three classes or more), and the accuracy of each class:
  accuracy 0.9120 (1824 of 2000 images in folders named by their class; 95 % Wilson interval 0.8988 to 0.9236)

SIGINT or SIGTERM stops it after the group in progress, the lines of the groups done
printed, with exit status 130 or 143.

With --jsonl, one JSON object per line, also as each group is done (for streaming, head,
jq):
  {"path":"a.jpg","label":"cat","class":1,"probability":0.97,"confidence":0.97}
  {"path":"b.jpg","error":"b.jpg: not a supported image ..."}
For a model of three classes or more, "probability" is that of the label given, and "top"
lists the --top most probable classes:
  {"path":"s.png","label":"ship","class":8,"probability":0.91,"confidence":0.91,"top":[{"label":"ship","class":8,"probability":0.91},...]}
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
	cmd.Flags().Float32("threshold", 0.5, "for a model of two classes: probability of cat (label 1) from which an image is called a cat")
	cmd.Flags().Int("top", 3, "for a model of three classes or more: how many of the most probable classes each result shows")
	a.bind(cmd)
	return cmd
}

// predictChunk is how many files predict classifies before printing their lines.
const predictChunk = 64

type predictLine struct {
	Path string `json:"path"`
	*classifier.Prediction
	Top   []classifier.ClassProbability `json:"top,omitempty"` // models of three classes or more
	Error string                        `json:"error,omitempty"`
}

// classifierOptions are the options of classifier.Load from the settings of command cmd
// (predict, serve): a threshold only where one is set, since a model of three classes or
// more refuses it.
func classifierOptions(a *app, cmd string) []classifier.Option {
	opts := []classifier.Option{
		classifier.WithProvider(a.v.GetString(cmd + ".ep")),
		classifier.WithMaxModelBytes(a.modelLimit(cmd)),
	}
	if a.v.IsSet(cmd + ".threshold") {
		opts = append(opts, classifier.WithThreshold(float32(a.v.GetFloat64(cmd+".threshold"))))
	}
	return opts
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
	top := a.v.GetInt("predict.top")
	if top < 0 {
		return fmt.Errorf("predict: --top %d: want 0 or more", top)
	}
	c, err := classifier.Load(model, classifierOptions(a, "predict")...)
	if err != nil {
		return err
	}
	defer c.Close()
	labels := c.Labels()
	multi := len(labels) > 2
	acc := newAccuracy(labels, files, top)
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
				p := &preds[i]
				l.Prediction = p
				acc.add(i, p)
				if multi && top > 0 {
					l.Top = p.Top(top)
				}
				if !asJSON && !asJSONL {
					fmt.Fprintf(out, "%s  %.4f  ", shownText(p.Label), p.Probability)
					for k := 1; k < len(l.Top); k++ {
						fmt.Fprintf(out, "%s %.4f  ", shownText(l.Top[k].Label), l.Top[k].Probability)
					}
					fmt.Fprintf(out, "%s\n", shownName(files[i]))
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
	acc.print(a.errOut)
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

// accuracy counts the predictions of the files whose folder names their class.
type accuracy struct {
	labels   []string
	truth    []int // per file: the class its folder names, or -1
	top      int   // k of the top-k accuracy; 0 for none
	n, right int   // files classified that have a class, and those given it
	inTop    int   // those whose class is among the top k
	perN     []int // per class: files classified, and those given it
	perRight []int
}

// newAccuracy finds the class of each file: the name of its folder, when it is one of
// labels (for Dogs vs. Cats also cats/, Dogs/..., as catdog prepare reads them). The top-k accuracy is counted for models of three classes or more, k > 1.
func newAccuracy(labels, files []string, top int) *accuracy {
	class := make(map[string]int, len(labels))
	for i, l := range labels {
		class[l] = i
	}
	a := &accuracy{labels: labels, truth: make([]int, len(files)), perN: make([]int, len(labels)), perRight: make([]int, len(labels))}
	if len(labels) > 2 && top > 1 && top < len(labels) {
		a.top = top
	}
	if datasets.DogsVsCats(labels) { // the folders prepare reads as Dogs vs. Cats: Cats/, PetImages/Dog/...
		for _, n := range []string{"cat", "cats", "Cat", "Cats", "CAT", "CATS"} {
			class[n] = datasets.Cat
		}
		for _, n := range []string{"dog", "dogs", "Dog", "Dogs", "DOG", "DOGS"} {
			class[n] = datasets.Dog
		}
	}
	for i, f := range files {
		a.truth[i] = -1
		if k, ok := class[filepath.Base(filepath.Dir(f))]; ok {
			a.truth[i] = k
		}
	}
	return a
}

// add counts the prediction p of file i.
func (a *accuracy) add(i int, p *classifier.Prediction) {
	k := a.truth[i]
	if k < 0 {
		return
	}
	a.n++
	a.perN[k]++
	if p.Class == k {
		a.right++
		a.perRight[k]++
	}
	if a.top > 0 && slices.ContainsFunc(p.Top(a.top), func(c classifier.ClassProbability) bool { return c.Class == k }) {
		a.inTop++
	}
}

// print writes the accuracy, its 95 % Wilson interval, the top-k accuracy and each class's
// accuracy to w, when any file had a class.
func (a *accuracy) print(w io.Writer) {
	if a.n == 0 {
		return
	}
	lo, hi := metrics.Wilson(a.right, a.n)
	fmt.Fprintf(w, "accuracy %.4f (%d of %d images in folders named by their class; 95 %% Wilson interval %.4f to %.4f)\n",
		float64(a.right)/float64(a.n), a.right, a.n, lo, hi)
	if a.top > 0 {
		lo, hi := metrics.Wilson(a.inTop, a.n)
		fmt.Fprintf(w, "top-%d accuracy %.4f (%d of %d; 95 %% Wilson interval %.4f to %.4f)\n",
			a.top, float64(a.inTop)/float64(a.n), a.inTop, a.n, lo, hi)
	}
	width := 0
	for k, l := range a.labels {
		if a.perN[k] > 0 {
			width = max(width, utf8.RuneCountInString(shownText(l)))
		}
	}
	for k, l := range a.labels {
		if a.perN[k] > 0 {
			fmt.Fprintf(w, "  %-*s  %.4f  (%d of %d)\n", width, shownText(l), float64(a.perRight[k])/float64(a.perN[k]), a.perRight[k], a.perN[k])
		}
	}
}
