package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/catdog-ml/catdog/bulk"
	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/fetch"
	"github.com/catdog-ml/catdog/internal/shard"
	"github.com/catdog-ml/catdog/metrics"
)

func newPredictCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "predict --model FILE.onnx (PATH... | --files-from LIST)",
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

Long lists: --files-from LIST reads one path per line from a file as a stream, 64 files at
a time, so memory does not grow with the list (--files-from - reads standard input whole
first); --out FILE writes the results
to FILE (atomically) instead of standard output.

Sharded, for several processes or machines (a Kubernetes Indexed Job; docs/scale-out.md):
--shard INDEX/COUNT, or --shards COUNT (or CATDOG_SHARDS) with INDEX from
JOB_COMPLETION_INDEX, classifies only that shard's contiguous run of the files and writes
it, with part.json last, to FILE.parts/INDEX-of-COUNT/ (--out FILE is required). A shard's
failed files are in its results (or its log) and do not fail it; a shard stopped mid-way
leaves no part.json and redoes its run; a finished one is a cache hit. When every shard is
done, --merge --out FILE joins the parts into FILE: the file one process would have
written, byte for byte, refusing a missing, incomplete, duplicated, changed or foreign
part (another list, model, output format or execution provider); it prints the whole
run's accuracy, and
exits 1 if any file failed.

Examples:
  catdog predict --model runs/vgg16-head-20260101-120000/model.onnx ~/Pictures/pets
  find /archive -name '*.jpg' | sort > list.txt
  catdog predict --model model.onnx --files-from list.txt --jsonl --out results.jsonl --shard 0/4   # ... 3/4
  catdog predict --merge --out results.jsonl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPredict(cmd.Context(), a, args)
		},
	}
	cmd.Flags().String("model", "", "exported model file (model.onnx)")
	cmd.Flags().Bool("json", false, "print one JSON array at the end instead of text lines")
	cmd.Flags().Bool("jsonl", false, "print one JSON object per line (JSON Lines) instead of text lines")
	cmd.Flags().String("ep", "auto", "onnxruntime execution provider: auto, cuda or cpu")
	threadsFlag(cmd)
	modelLimitFlag(cmd)
	cmd.Flags().Float32("threshold", 0.5, "for a model of two classes: probability of cat (label 1) from which an image is called a cat")
	cmd.Flags().Int("top", 3, "for a model of three classes or more: how many of the most probable classes each result shows")
	cmd.Flags().String("files-from", "", "classify the files listed in this file, one path per line, read as a stream (- for standard input, read whole first)")
	cmd.Flags().String("out", "", "write the results to this file (atomically) instead of standard output; a shard writes its part beside it, in FILE.parts/")
	cmd.Flags().String("shard", "", "classify only shard INDEX/COUNT (such as 0/4) of the files, into FILE.parts/ (needs --out)")
	cmd.Flags().Int("shards", 0, "shard count, the index from "+shard.IndexEnv+" (as Kubernetes sets it in an Indexed Job's pods)")
	cmd.Flags().Bool("merge", false, "join the shards' parts of --out FILE into FILE (checking their count when --shards or CATDOG_SHARDS gives it)")
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
func classifierOptions(a *app, cmd string) ([]classifier.Option, error) {
	threads, err := a.threads(cmd)
	if err != nil {
		return nil, err
	}
	opts := []classifier.Option{
		classifier.WithProvider(a.v.GetString(cmd + ".ep")),
		classifier.WithMaxModelBytes(a.modelLimit(cmd)),
		classifier.WithThreads(threads),
	}
	if a.v.IsSet(cmd + ".threshold") {
		opts = append(opts, classifier.WithThreshold(float32(a.v.GetFloat64(cmd+".threshold"))))
	}
	return opts, nil
}

// runPredict classifies the files of args (or of --files-from) and prints each group's
// results as it is done, to standard output or --out; sharded, it writes its shard's part;
// with --merge, it joins the parts. It stops between groups when ctx is cancelled, and at
// the first error writing results.
func runPredict(ctx context.Context, a *app, args []string) error {
	out, listFile := a.v.GetString("predict.out"), a.v.GetString("predict.files-from")
	shards := a.v.GetInt("predict.shards")
	if a.v.GetBool("predict.merge") {
		if out == "" || len(args) > 0 || listFile != "" || a.v.GetString("predict.shard") != "" {
			return fmt.Errorf("predict: --merge takes --out FILE (the shards' --out) and no files, --files-from or --shard")
		}
		return a.mergePredictions(ctx, out, shards)
	}
	model := a.v.GetString("predict.model")
	if model == "" {
		return fmt.Errorf("predict: --model is required")
	}
	switch {
	case len(args) > 0 && listFile != "":
		return fmt.Errorf("predict: give image files or folders, or --files-from LIST, not both")
	case len(args) == 0 && listFile == "":
		return fmt.Errorf("predict: give image files or folders to classify, or --files-from LIST")
	}
	sh, err := shard.Resolve(a.v.GetString("predict.shard"), shards, os.Getenv)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	asJSON, asJSONL := a.v.GetBool("predict.json"), a.v.GetBool("predict.jsonl")
	if asJSON && asJSONL {
		return fmt.Errorf("predict: --json and --jsonl do not go together")
	}
	if asJSON && (listFile != "" || sh != nil) {
		return fmt.Errorf("predict: --json holds every result until the end: with --files-from or --shard, use --jsonl (a JSON object per line, streamed)")
	}
	if sh != nil && out == "" {
		return fmt.Errorf("predict: a shard writes its part beside --out FILE: give --out")
	}
	var list *bulk.List
	switch {
	case listFile == "-":
		if sh != nil {
			return fmt.Errorf("predict: a shard reads its list twice (to count it, then its run): --files-from a file, not standard input")
		}
		paths, err := readPaths(os.Stdin)
		if err != nil {
			return fmt.Errorf("predict: %w", err)
		}
		list = bulk.ListOf(paths)
	case listFile != "":
		if list, err = bulk.OpenList(listFile); err != nil {
			return fmt.Errorf("predict: %w", err)
		}
	default:
		files, err := classifier.FindImages(args...)
		if err != nil {
			return fmt.Errorf("predict: %w", err)
		}
		list = bulk.ListOf(files)
	}
	if list.Len() == 0 {
		if listFile != "" {
			return fmt.Errorf("predict: no paths in %s", listFile)
		}
		return fmt.Errorf("predict: no image files in %v", args)
	}
	top := a.v.GetInt("predict.top")
	if top < 0 {
		return fmt.Errorf("predict: --top %d: want 0 or more", top)
	}
	modelSum, err := fetch.SHA256(model)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	format := "text"
	if asJSONL {
		format = "jsonl"
	} else if asJSON {
		format = "json"
	}
	settings := fmt.Sprintf("model %.16s, %s, top %d, ep %s", modelSum, format, top, a.v.GetString("predict.ep"))
	if a.v.IsSet("predict.threshold") {
		settings += fmt.Sprintf(", threshold %g", a.v.GetFloat64("predict.threshold"))
	}
	lo, hi := 0, list.Len()
	part := &bulk.Part{List: list.Checksum(), Files: list.Len(), From: lo, Count: hi, Chunk: predictChunk, Settings: settings}
	if sh != nil {
		// whole chunks of the list, as one process classifies them: the same batches
		lo, hi = bulk.ChunkRange(*sh, list.Len(), predictChunk)
		part.Shard, part.From, part.Count = *sh, lo, hi-lo
		if old, err := bulk.OpenPart(bulk.PartDir(out, *sh)); err == nil && old.Shard == *sh && old.List == part.List && old.Files == part.Files && old.Settings == part.Settings {
			fmt.Fprintf(a.errOut, "cache hit: %s already holds shard %s (%d files)\n", bulk.PartDir(out, *sh), sh, old.Count)
			return nil
		}
	}

	copts, err := classifierOptions(a, "predict")
	if err != nil {
		return err
	}
	c, err := classifier.Load(model, copts...)
	if err != nil {
		return err
	}
	defer c.Close()
	labels := c.Labels()
	multi := len(labels) > 2
	acc := newAccuracy(labels, top)
	provider, why := c.Provider()
	if why != "" {
		a.errf("catdog: %s\n", why)
	}
	part.Provider = provider

	// where the results go: standard output, the file --out (written atomically), or the
	// shard's part
	var dst io.Writer = a.out
	var commit func() error
	switch {
	case sh != nil:
		pw, err := bulk.CreatePart(out, *sh)
		if err != nil {
			return fmt.Errorf("predict: %w", err)
		}
		defer pw.Close()
		dst = pw
		commit = func() error {
			part.Tally, part.Labels, part.Top = acc.tally, labels, acc.top
			if err := pw.Commit(part); err != nil {
				return err
			}
			fmt.Fprintf(a.errOut, "shard %s: files %d to %d of %d written to %s; when every shard is done: catdog predict --merge --out %s\n", sh, lo, hi, list.Len(), pw.Dir(), out)
			return nil
		}
	case out != "":
		f, err := atomicfile.Create(out)
		if err != nil {
			return fmt.Errorf("predict: %w", err)
		}
		defer f.Abort()
		dst, commit = f, f.Commit
	}
	w := bufio.NewWriter(dst)
	lineOut := json.NewEncoder(w)
	var all []predictLine // with --json: every line, printed at the end
	done := 0
	// emit writes the results of paths, just classified.
	emit := func(paths []string, preds []classifier.Prediction, errs []error) error {
		for i, path := range paths {
			l := predictLine{Path: path}
			if errs[i] != nil {
				part.Failed++
				l.Error = errs[i].Error()
				if !asJSON && !asJSONL {
					a.errf("catdog: predict: %s\n", shownText(l.Error))
				}
			} else {
				p := preds[i]
				l.Prediction = &p
				acc.add(path, &p)
				if multi && top > 0 {
					l.Top = p.Top(top)
				}
				if !asJSON && !asJSONL {
					fmt.Fprintf(w, "%s  %.4f  ", shownText(p.Label), p.Probability)
					for k := 1; k < len(l.Top); k++ {
						fmt.Fprintf(w, "%s %.4f  ", shownText(l.Top[k].Label), l.Top[k].Probability)
					}
					fmt.Fprintf(w, "%s\n", shownName(path))
				}
			}
			switch {
			case asJSONL:
				if err := lineOut.Encode(l); err != nil {
					return err
				}
			case asJSON:
				all = append(all, l)
			}
		}
		done += len(paths)
		return w.Flush()
	}
	// stopped says how far predict went before ctx was cancelled, after printing the JSON
	// array of the files done with --json.
	stopped := func() error {
		if asJSON {
			if err := printJSON(w, all); err != nil {
				return err
			}
		}
		return fmt.Errorf("predict: stopped after %d of %d files: %w", done, hi-lo, context.Cause(ctx))
	}
	bar := a.progress(hi-lo, "predict", "images")
	chunk := make([]string, 0, predictChunk)
	run := func() error {
		p, e := c.PredictFiles(chunk, nil)
		if err := emit(chunk, p, e); err != nil {
			return err
		}
		_ = bar.Set(done)
		chunk = chunk[:0]
		return nil
	}
	for path, err := range list.Range(lo, hi) {
		if err != nil {
			return fmt.Errorf("predict: %w", err)
		}
		if ctx.Err() != nil {
			return stopped()
		}
		if chunk = append(chunk, path); len(chunk) == predictChunk {
			if err := run(); err != nil {
				return err
			}
		}
	}
	if len(chunk) > 0 {
		if ctx.Err() != nil {
			return stopped()
		}
		if err := run(); err != nil {
			return err
		}
	}
	_ = bar.Finish()
	if asJSON {
		if err := printJSON(w, all); err != nil {
			return err
		}
	}
	if commit != nil {
		if err := commit(); err != nil {
			return fmt.Errorf("predict: %w", err)
		}
	}
	acc.print(a.errOut)
	if part.Failed > 0 && sh == nil {
		return fmt.Errorf("predict: %d of %d files failed", part.Failed, hi-lo)
	}
	return nil
}

// mergePredictions joins the parts of a sharded predict into out (bulk.Merge) and prints
// the whole run's failures and accuracy.
func (a *app) mergePredictions(ctx context.Context, out string, shards int) error {
	sum, err := bulk.Merge(ctx, out, shards)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	fmt.Fprintf(a.errOut, "merged %d shards: %d files, results in %s (the parts stay in %s: remove them when done)\n", sum.Shard.Count, sum.Files, out, bulk.PartsDir(out))
	printTally(a.errOut, sum.Labels, sum.Tally, sum.Top)
	if sum.Failed > 0 {
		return fmt.Errorf("predict: %d of %d files failed (their errors are in the shards' logs, or in %s with --jsonl)", sum.Failed, sum.Files, out)
	}
	return nil
}

// readPaths reads one path per line from r, skipping empty lines.
func readPaths(r io.Reader) ([]string, error) {
	var paths []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if p := strings.TrimRight(sc.Text(), "\r"); p != "" {
			paths = append(paths, p)
		}
	}
	return paths, sc.Err()
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
	labels []string
	class  map[string]int // folder name -> class
	top    int            // k of the top-k accuracy; 0 for none
	tally  bulk.Tally
}

// newAccuracy takes as a file's class the name of its folder, when it is one of labels
// (for Dogs vs. Cats also cats/, Dogs/..., as catdog prepare reads them). The top-k
// accuracy is counted for models of three classes or more, k > 1.
func newAccuracy(labels []string, top int) *accuracy {
	class := make(map[string]int, len(labels))
	for i, l := range labels {
		class[l] = i
	}
	a := &accuracy{labels: labels, class: class, tally: bulk.Tally{PerN: make([]int, len(labels)), PerRight: make([]int, len(labels))}}
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
	return a
}

// add counts the prediction p of the file at path.
func (a *accuracy) add(path string, p *classifier.Prediction) {
	k, ok := a.class[filepath.Base(filepath.Dir(path))]
	if !ok {
		return
	}
	t := &a.tally
	t.N++
	t.PerN[k]++
	if p.Class == k {
		t.Right++
		t.PerRight[k]++
	}
	if a.top > 0 && slices.ContainsFunc(p.Top(a.top), func(c classifier.ClassProbability) bool { return c.Class == k }) {
		t.InTop++
	}
}

// print writes the accuracy to w (printTally).
func (a *accuracy) print(w io.Writer) { printTally(w, a.labels, a.tally, a.top) }

// printTally writes the accuracy, its 95 % Wilson interval, the top-k accuracy (k = top,
// when not 0) and each class's accuracy (labels, when given) to w, when any file had a class.
func printTally(w io.Writer, labels []string, t bulk.Tally, top int) {
	if t.N == 0 {
		return
	}
	lo, hi := metrics.Wilson(t.Right, t.N)
	fmt.Fprintf(w, "accuracy %.4f (%d of %d images in folders named by their class; 95 %% Wilson interval %.4f to %.4f)\n",
		float64(t.Right)/float64(t.N), t.Right, t.N, lo, hi)
	if top > 0 {
		lo, hi := metrics.Wilson(t.InTop, t.N)
		fmt.Fprintf(w, "top-%d accuracy %.4f (%d of %d; 95 %% Wilson interval %.4f to %.4f)\n",
			top, float64(t.InTop)/float64(t.N), t.InTop, t.N, lo, hi)
	}
	width := 0
	for k, l := range labels {
		if t.PerN[k] > 0 {
			width = max(width, utf8.RuneCountInString(shownText(l)))
		}
	}
	for k, l := range labels {
		if t.PerN[k] > 0 {
			fmt.Fprintf(w, "  %-*s  %.4f  (%d of %d)\n", width, shownText(l), float64(t.PerRight[k])/float64(t.PerN[k]), t.PerRight[k], t.PerN[k])
		}
	}
}
