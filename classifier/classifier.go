// Package classifier embeds a catdog model (model.onnx, as exported by catdog finetune or
// catdog train) in a Go program and classifies images with onnxruntime.
//
// The exported model takes input "image", float32 NCHW (N, 3, S, S) holding plain RGB values
// 0..255. A model of two classes returns "prob_cat", float32 (N, 1), the probability of
// label 1 (cat for Dogs vs. Cats); a model of three classes or more returns
// "probabilities", float32 (N, C), each row the probabilities of the classes in label
// order. All other preprocessing lives inside the graph. The model's metadata names the
// input size S ("catdog.input_size"), the resize filter used when the training data was
// prepared ("catdog.resize_filter") and the class names in label order ("catdog.labels",
// see exported.EncodeLabels; "dog,cat" when a two-class model has none). The classifier
// resizes each image with catdog's internal/imgutil, the code that prepared the training
// data, so a served model sees exactly the pixels it was trained on.
//
// A two-class model calls an image label 1 when its probability reaches the threshold
// (WithThreshold, 0.5 by default); a model of more classes gives the most probable class.
//
// A Classifier is safe for concurrent use: it holds one onnxruntime session, whose Run
// onnxruntime allows from several goroutines at once, each call with its own buffers.
// Close waits for calls in flight, then frees the session; later calls return ErrClosed.
//
// The onnxruntime shared library is found as internal/ort describes: $ONNXRUNTIME_LIB, else
// .deps/onnxruntime/libonnxruntime.so* (installed by scripts/setup.sh) in the working
// directory, one of its parents, or beside the executable.
package classifier

import (
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/internal/imgutil"
	"github.com/catdog-ml/catdog/internal/ort"
	"github.com/catdog-ml/catdog/internal/userfile"
)

const (
	defaultBatch       = 32
	maxFileBytes int64 = imgutil.MaxFileBytes
)

// ErrClosed is returned by calls on a closed Classifier.
var ErrClosed = errors.New("classifier: closed")

// ErrImage is wrapped by the error of an input that is not a usable image: not an image in
// a supported format, truncated, empty, or too large (then ErrTooLarge is wrapped too).
// A service answers these with a client error; other errors are its own.
var ErrImage = errors.New("not a usable image")

// ErrTooLarge is wrapped by the error of an image whose file or declared size is over the
// limits (256 MiB of file, 50 megapixels).
var ErrTooLarge = imgutil.ErrTooLarge

// Prediction is the answer for one image. Its JSON is what catdog has always written for
// a two-class model, {"label","class","probability","confidence"}, whatever the classes;
// the probabilities of every class are for Go (Probabilities, Top): catdog serve and
// catdog predict add a "top" list of their own.
type Prediction struct {
	Label string `json:"label"` // the name of Class, from the model's labels ("dog" or "cat")
	Class int    `json:"class"` // the class given, 0-based in label order (0 = dog, 1 = cat)
	// Probability is, for a model of two classes, the probability of label 1 (of cat) as it
	// has always been, whichever label is given; for a model of three classes or more, the
	// probability of Class, as Confidence.
	Probability float32 `json:"probability"`
	// Confidence is the probability of the label given: max(p, 1-p) for two classes at the
	// default threshold.
	Confidence float32 `json:"confidence"`
	// Probabilities holds the probability of every class in label order, as many as the
	// model's Labels: for two classes, [1-Probability, Probability]. Predictions of one
	// batch may share its backing array: copy it before changing it.
	Probabilities []float32 `json:"-"`

	labels []string // the classifier's, shared; read only
}

// ClassProbability is one class of a Prediction and its probability.
type ClassProbability struct {
	Label       string  `json:"label"`
	Class       int     `json:"class"`
	Probability float32 `json:"probability"`
}

// Top returns the k most probable classes, most probable first (ties in label order); all
// of them when k <= 0 or k is more than the classes. For a two-class model at a threshold
// other than 0.5 the first may not be the Label, which the threshold decides. A Prediction
// made by hand, without Probabilities, gives its own class alone.
func (p Prediction) Top(k int) []ClassProbability {
	if len(p.Probabilities) == 0 {
		return []ClassProbability{{Label: p.Label, Class: p.Class, Probability: p.Confidence}}
	}
	order := make([]int, len(p.Probabilities))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		pa, pb := p.Probabilities[a], p.Probabilities[b]
		switch {
		case pa > pb:
			return -1
		case pa < pb:
			return 1
		}
		return 0
	})
	if k > 0 && k < len(order) {
		order = order[:k]
	}
	top := make([]ClassProbability, len(order))
	for i, c := range order {
		top[i] = ClassProbability{Class: c, Probability: p.Probabilities[c]}
		if c < len(p.labels) {
			top[i].Label = p.labels[c]
		}
	}
	return top
}

// Option configures Load.
type Option func(*config)

type config struct {
	provider     string
	threads      int
	threshold    float32
	thresholdSet bool // WithThreshold was given: refused for models of more than two classes
	maxBytes     int64
}

// WithProvider picks the onnxruntime execution provider: "auto" (default: CUDA when
// available, else CPU), "cuda" or "cpu".
func WithProvider(ep string) Option { return func(c *config) { c.provider = ep } }

// WithThreads sets onnxruntime's intra-op thread count (default: every core).
func WithThreads(n int) Option { return func(c *config) { c.threads = n } }

// WithThreshold sets, for a model of two classes, the probability of label 1 (cat) from
// which an image is given label 1 (default 0.5). Load refuses it for a model of three
// classes or more, which gives the most probable class.
func WithThreshold(t float32) Option {
	return func(c *config) { c.threshold, c.thresholdSet = t, true }
}

// WithMaxModelBytes bounds the size of the model file Load reads (default 4 GiB,
// userfile.DefaultModelBytes); a larger file is refused before it is read.
func WithMaxModelBytes(n int64) Option { return func(c *config) { c.maxBytes = n } }

// Classifier classifies images with an exported catdog model.
type Classifier struct {
	env      *ort.Env
	sess     *ort.Session
	size     int
	filter   imgutil.Filter
	labels   []string // the class names in label order: two, or as many as the output's width
	multi    bool     // the output is exported.ProbabilitiesName, (N, len(labels))
	output   string   // the output's name
	thresh   float32
	meta     map[string]string
	provider string
	fallback string

	mu     sync.RWMutex // read-held by predictions, write-held by Close
	closed bool
}

// Load opens the exported model at path, a regular file (a FIFO or a device is refused at
// once) within the size WithMaxModelBytes allows.
func Load(path string, opts ...Option) (*Classifier, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	data, err := userfile.ReadFile(path, userfile.ModelLimit(cfg.maxBytes))
	if err != nil {
		return nil, fmt.Errorf("classifier: %w", err)
	}
	c, err := LoadBytes(data, opts...)
	if err != nil {
		return nil, fmt.Errorf("classifier: %s: %w", path, err)
	}
	return c, nil
}

// LoadBytes opens an exported model held in memory (the bytes of model.onnx).
func LoadBytes(model []byte, opts ...Option) (*Classifier, error) {
	cfg := config{provider: ort.ProviderAuto, threshold: 0.5}
	for _, o := range opts {
		o(&cfg)
	}
	if _, err := ort.ParseProvider(cfg.provider); err != nil {
		return nil, err
	}
	if !(cfg.threshold > 0 && cfg.threshold < 1) {
		return nil, fmt.Errorf("threshold %v: want a value between 0 and 1", cfg.threshold)
	}
	env, err := ort.Open()
	if err != nil {
		return nil, err
	}
	c, err := newClassifier(env, model, cfg)
	if err != nil {
		env.Close()
		return nil, err
	}
	return c, nil
}

func newClassifier(env *ort.Env, model []byte, cfg config) (*Classifier, error) {
	ins, outs, err := env.Describe(model)
	if err != nil {
		return nil, fmt.Errorf("not a usable ONNX model: %w", err)
	}
	if len(ins) != 1 || ins[0].Name != exported.InputName {
		return nil, fmt.Errorf("model inputs %v: want one input %q (float32 N x 3 x S x S, RGB 0..255)", ioNames(ins), exported.InputName)
	}
	bin, multi := findIO(outs, exported.OutputName), findIO(outs, exported.ProbabilitiesName)
	var out ort.IO
	switch {
	case bin != nil && multi != nil:
		return nil, fmt.Errorf("model outputs %v: want %q (two classes) or %q (three or more), not both", ioNames(outs), exported.OutputName, exported.ProbabilitiesName)
	case bin != nil:
		out = *bin
	case multi != nil:
		out = *multi
		if cfg.thresholdSet {
			return nil, fmt.Errorf("a threshold applies to a model of two classes (output %q); this one gives the most probable of its classes (output %q)", exported.OutputName, exported.ProbabilitiesName)
		}
	default:
		return nil, fmt.Errorf("model outputs %v: want an output %q (two classes) or %q (three or more)", ioNames(outs), exported.OutputName, exported.ProbabilitiesName)
	}
	sess, err := env.NewSession(model, ort.SessionOptions{
		Provider: cfg.provider, Threads: cfg.threads,
		Inputs: []string{exported.InputName}, Outputs: []string{out.Name},
	})
	if err != nil {
		return nil, err
	}
	c := &Classifier{env: env, sess: sess, thresh: cfg.threshold, multi: multi != nil, output: out.Name,
		provider: sess.Provider, fallback: sess.Fallback}
	if err := c.readMetadata(ins[0], out); err != nil {
		sess.Close()
		return nil, err
	}
	return c, nil
}

func (c *Classifier) readMetadata(in, out ort.IO) error {
	md, err := c.sess.Metadata()
	if err != nil {
		return err
	}
	c.meta = md
	shapeSize := 0
	if len(in.Shape) == 4 && in.Shape[2] > 0 && in.Shape[2] == in.Shape[3] {
		shapeSize = int(in.Shape[2])
	}
	if len(in.Shape) == 4 && in.Shape[1] > 0 && in.Shape[1] != 3 {
		return fmt.Errorf("input %q has shape %v: want N x 3 x S x S", exported.InputName, in.Shape)
	}
	switch s := md[exported.MetaInputSize]; {
	case s != "":
		n, err := strconv.Atoi(s)
		if err != nil || n < imgutil.MinSize || n > imgutil.MaxSize {
			return fmt.Errorf("metadata %s=%q: want a side length in pixels", exported.MetaInputSize, s)
		}
		if shapeSize != 0 && shapeSize != n {
			return fmt.Errorf("metadata %s=%d disagrees with the input shape %v", exported.MetaInputSize, n, in.Shape)
		}
		c.size = n
	case shapeSize != 0:
		c.size = shapeSize
	default:
		return fmt.Errorf("model has no %s metadata and no fixed input size", exported.MetaInputSize)
	}
	c.filter, err = imgutil.ParseFilter(md[exported.MetaResizeFilter])
	if err != nil {
		return fmt.Errorf("metadata %s: %w", exported.MetaResizeFilter, err)
	}
	c.labels, err = readLabels(md[exported.MetaLabels], c.multi)
	if err != nil {
		return err
	}
	if c.multi {
		return checkOutputShape(out, len(c.labels))
	}
	return nil
}

// readLabels reads the class names of metadata MetaLabels, v: two for a two-class model
// (dog,cat when v is empty), three or more for a model of output ProbabilitiesName. Names
// joined by commas are trimmed of spaces, as catdog has always read them.
func readLabels(v string, multi bool) ([]string, error) {
	if !multi && v == "" {
		return []string{"dog", "cat"}, nil
	}
	if v == "" {
		return nil, fmt.Errorf("model has no %s metadata: a model of output %q must name its classes", exported.MetaLabels, exported.ProbabilitiesName)
	}
	plain := v
	if !strings.HasPrefix(strings.TrimSpace(v), "[") {
		parts := strings.Split(v, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		plain = strings.Join(parts, ",")
	}
	labels, err := exported.DecodeLabels(plain)
	if !multi {
		if err != nil {
			return nil, fmt.Errorf("metadata %s: want two labels for output %q: %w", exported.MetaLabels, exported.OutputName, err)
		}
		if len(labels) != 2 {
			return nil, fmt.Errorf("metadata %s=%q: want two labels for output %q, e.g. dog,cat", exported.MetaLabels, v, exported.OutputName)
		}
		return labels, nil
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("metadata %s: %w", exported.MetaLabels, err)
	case len(labels) < 3:
		return nil, fmt.Errorf("metadata %s=%q: output %q wants three classes or more (two classes export %q)", exported.MetaLabels, v, exported.ProbabilitiesName, exported.OutputName)
	case len(labels) > maxClasses:
		return nil, fmt.Errorf("metadata %s: %d classes, more than %d", exported.MetaLabels, len(labels), maxClasses)
	}
	return labels, nil
}

// maxClasses is the most classes a model may have: labels are uint8.
const maxClasses = 256

// checkOutputShape checks the declared shape of a model's output of probabilities, where
// it is known, against the number of classes its labels name: (N, classes). An unknown
// width is checked on every run.
func checkOutputShape(out ort.IO, classes int) error {
	switch {
	case len(out.Shape) == 0:
		return nil
	case len(out.Shape) != 2:
		return fmt.Errorf("output %q has shape %v: want (N, %d)", out.Name, out.Shape, classes)
	case out.Shape[1] > 0 && out.Shape[1] != int64(classes):
		return fmt.Errorf("output %q has shape %v, but metadata %s names %d classes", out.Name, out.Shape, exported.MetaLabels, classes)
	}
	return nil
}

func ioNames(xs []ort.IO) []string {
	var s []string
	for _, x := range xs {
		s = append(s, x.Name)
	}
	return s
}

func findIO(xs []ort.IO, name string) *ort.IO {
	for i := range xs {
		if xs[i].Name == name {
			return &xs[i]
		}
	}
	return nil
}

// InputSize is the side length S, in pixels, images are resized to.
func (c *Classifier) InputSize() int { return c.size }

// Filter is the resize filter used (from the model's metadata).
func (c *Classifier) Filter() string { return c.filter.String() }

// Labels returns the class names in label order, a fresh copy: two for a two-class model
// (dog, cat), else as many as its output's width.
func (c *Classifier) Labels() []string { return slices.Clone(c.labels) }

// Metadata returns a copy of the model's metadata_props.
func (c *Classifier) Metadata() map[string]string {
	m := make(map[string]string, len(c.meta))
	for k, v := range c.meta {
		m[k] = v
	}
	return m
}

// Runtime names the inference engine: "onnxruntime 1.30.0 (cpu)".
func (c *Classifier) Runtime() string {
	return fmt.Sprintf("onnxruntime %s (%s)", c.env.Version(), c.provider)
}

// Provider returns the execution provider in use ("cpu" or "cuda") and, when "auto" fell
// back to the CPU, why.
func (c *Classifier) Provider() (provider, fallback string) { return c.provider, c.fallback }

// Predict classifies one image.
func (c *Classifier) Predict(img image.Image) (Prediction, error) {
	ps, err := c.PredictBatch([]image.Image{img})
	if err != nil {
		return Prediction{}, err
	}
	return ps[0], nil
}

// PredictBatch classifies images in one onnxruntime run.
func (c *Classifier) PredictBatch(imgs []image.Image) ([]Prediction, error) {
	if len(imgs) == 0 {
		return nil, nil
	}
	px := make([]uint8, len(imgs)*c.pixels())
	for i, img := range imgs {
		if img == nil {
			return nil, fmt.Errorf("image %d is nil", i)
		}
		if err := imgutil.ResizeImage(img, c.size, c.filter, px[i*c.pixels():(i+1)*c.pixels()]); err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
	}
	return c.predictPixels(px, len(imgs))
}

// PredictReader decodes an image (JPEG, PNG, GIF, BMP or WebP, recognised by content) and
// classifies it. JPEG images are resized on their YCbCr planes exactly as catdog prepare does.
func (c *Classifier) PredictReader(r io.Reader) (Prediction, error) {
	px := make([]uint8, c.pixels())
	if err := c.decode(r, px); err != nil {
		return Prediction{}, err
	}
	ps, err := c.predictPixels(px, 1)
	if err != nil {
		return Prediction{}, err
	}
	return ps[0], nil
}

// PredictFile classifies the image in the file at path, a regular file: a FIFO, a device or
// a folder is refused at once (userfile.Open), never waited on.
func (c *Classifier) PredictFile(path string) (Prediction, error) {
	px := make([]uint8, c.pixels())
	if err := c.decodeFile(path, px); err != nil {
		return Prediction{}, err
	}
	ps, err := c.predictPixels(px, 1)
	if err != nil {
		return Prediction{}, fmt.Errorf("%s: %w", path, err)
	}
	return ps[0], nil
}

// PredictFiles classifies many files: it decodes them in parallel and runs the model in
// batches. A file that cannot be read or decoded gets its error in errs[i] and does not stop
// the others; when a whole batch fails to run, each of its files gets that error.
func (c *Classifier) PredictFiles(paths []string, progress func(done, total int)) (preds []Prediction, errs []error) {
	preds = make([]Prediction, len(paths))
	errs = make([]error, len(paths))
	n := c.pixels()
	workers := runtime.NumCPU()
	done := 0
	for start := 0; start < len(paths); start += defaultBatch {
		end := min(start+defaultBatch, len(paths))
		px := make([]uint8, (end-start)*n)
		var wg sync.WaitGroup
		next := make(chan int)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					errs[i] = c.decodeFile(paths[i], px[(i-start)*n:(i-start+1)*n])
				}
			}()
		}
		for i := start; i < end; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		// Run only the images that decoded, packed together.
		var ok []int
		for i := start; i < end; i++ {
			if errs[i] == nil {
				if k := len(ok); k != i-start {
					copy(px[k*n:(k+1)*n], px[(i-start)*n:(i-start+1)*n])
				}
				ok = append(ok, i)
			}
		}
		if len(ok) > 0 {
			ps, err := c.predictPixels(px[:len(ok)*n], len(ok))
			for k, i := range ok {
				if err != nil {
					errs[i] = err
				} else {
					preds[i] = ps[k]
				}
			}
		}
		done += end - start
		if progress != nil {
			progress(done, len(paths))
		}
	}
	return preds, errs
}

// decodeFile reads the regular file at path, its size checked before it is read, and
// decodes it into dst.
func (c *Classifier) decodeFile(path string, dst []uint8) error {
	data, err := userfile.ReadFile(path, maxFileBytes)
	var tl *userfile.TooLargeError
	if errors.As(err, &tl) {
		return fmt.Errorf("%w: %w: %w", ErrImage, imgutil.ErrTooLarge, err)
	}
	if err != nil {
		return err
	}
	if err := c.decodeBytes(data, dst); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func (c *Classifier) decode(r io.Reader, dst []uint8) error {
	data, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > maxFileBytes {
		return fmt.Errorf("%w: %w: file over %d MiB", ErrImage, imgutil.ErrTooLarge, maxFileBytes>>20)
	}
	return c.decodeBytes(data, dst)
}

func (c *Classifier) decodeBytes(data []byte, dst []uint8) error {
	var z imgutil.Resizer
	if _, err := z.DecodeResize(data, c.size, c.filter, dst); err != nil {
		return fmt.Errorf("%w: %w", ErrImage, err)
	}
	return nil
}

// Decode reads an image (as PredictReader does) and returns it resized for the model:
// InputSize x InputSize x 3 RGB bytes, the input of PredictPixels. A service decodes
// requests in parallel with Decode and runs the model on batches of them.
func (c *Classifier) Decode(r io.Reader) ([]uint8, error) {
	px := make([]uint8, c.pixels())
	if err := c.decode(r, px); err != nil {
		return nil, err
	}
	return px, nil
}

// PredictPixels classifies n images already resized to InputSize, given as RGB uint8 in
// NHWC order (n x S x S x 3 bytes), the layout of a prepared dataset's photos.
func (c *Classifier) PredictPixels(nhwc []uint8, n int) ([]Prediction, error) {
	if n < 0 || len(nhwc) != n*c.pixels() {
		return nil, fmt.Errorf("PredictPixels: %d bytes for %d images of %dx%dx3", len(nhwc), n, c.size, c.size)
	}
	return c.predictPixels(nhwc, n)
}

// Probabilities returns the model's output for n images given as in PredictPixels: for a
// model of two classes, n probabilities of label 1 (of cat); for a model of C classes, n x C
// values, row i the probabilities of image i's classes in label order.
func (c *Classifier) Probabilities(nhwc []uint8, n int) ([]float32, error) {
	if n < 0 || len(nhwc) != n*c.pixels() {
		return nil, fmt.Errorf("Probabilities: %d bytes for %d images of %dx%dx3", len(nhwc), n, c.size, c.size)
	}
	return c.run(nhwc, n)
}

// PredictNCHW classifies n images given as the exported model's own input: float32 in NCHW
// order (n x 3 x S x S, S = InputSize), RGB values 0..255, already resized.
func (c *Classifier) PredictNCHW(nchw []float32, n int) ([]Prediction, error) {
	if n < 0 || len(nchw) != n*c.pixels() {
		return nil, fmt.Errorf("PredictNCHW: %d values for %d images of 3x%dx%d", len(nchw), n, c.size, c.size)
	}
	probs, err := c.runFloat(nchw, n)
	if err != nil {
		return nil, err
	}
	return c.predictions(probs, n), nil
}

func (c *Classifier) pixels() int { return c.size * c.size * 3 }

func (c *Classifier) predictPixels(nhwc []uint8, n int) ([]Prediction, error) {
	probs, err := c.run(nhwc, n)
	if err != nil {
		return nil, err
	}
	return c.predictions(probs, n), nil
}

// predictions turns the model's output for n images into predictions.
func (c *Classifier) predictions(probs []float32, n int) []Prediction {
	out := make([]Prediction, n)
	if !c.multi {
		for i, p := range probs {
			out[i] = c.prediction(p)
		}
		return out
	}
	k := len(c.labels)
	for i := range out {
		row := probs[i*k : (i+1)*k : (i+1)*k]
		best := 0
		for j, p := range row {
			if p > row[best] {
				best = j
			}
		}
		out[i] = Prediction{Label: c.labels[best], Class: best, Probability: row[best], Confidence: row[best],
			Probabilities: row, labels: c.labels}
	}
	return out
}

func (c *Classifier) prediction(p float32) Prediction {
	pr := Prediction{Probability: p, Class: 0, Label: c.labels[0], Confidence: 1 - p,
		Probabilities: []float32{1 - p, p}, labels: c.labels}
	if p >= c.thresh {
		pr.Class, pr.Label, pr.Confidence = 1, c.labels[1], p
	}
	return pr
}

// run converts NHWC uint8 to NCHW float32 0..255 and runs the model.
func (c *Classifier) run(nhwc []uint8, n int) ([]float32, error) {
	if n == 0 {
		return nil, nil
	}
	hw := c.size * c.size
	x := make([]float32, n*3*hw)
	imgutil.ToFloat32(x, nhwc[:n*3*hw], hw, imgutil.Scaled(1))
	return c.runFloat(x, n)
}

// runFloat runs the model on n images in its own input layout, float32 NCHW 0..255.
func (c *Classifier) runFloat(x []float32, n int) ([]float32, error) {
	if n == 0 {
		return nil, nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return nil, ErrClosed
	}
	out, shape, err := c.sess.RunFloat32(x, int64(n), 3, int64(c.size), int64(c.size))
	if err != nil {
		return nil, err
	}
	if err := c.checkOutput(out, shape, n); err != nil {
		return nil, err
	}
	return out, nil
}

// sumTolerance is how far from 1 a row of probabilities may sum.
const sumTolerance = 1e-3

// checkOutput checks that the output of a run on n images is n rows of probabilities: one
// in [0, 1] each for two classes; for more, one per label each, summing to 1.
func (c *Classifier) checkOutput(out []float32, shape []int64, n int) error {
	if !c.multi && len(out) != n {
		return fmt.Errorf("model output %q has shape %v for %d images: want (%d, 1)", c.output, shape, n, n)
	}
	width := 1
	if c.multi {
		width = len(c.labels)
		if len(shape) == 2 && shape[0] == int64(n) && shape[1] != int64(width) {
			return fmt.Errorf("model output %q has shape %v for %d images, but metadata %s names %d classes", c.output, shape, n, exported.MetaLabels, width)
		}
		if len(out) != n*width || len(shape) != 2 {
			return fmt.Errorf("model output %q has shape %v for %d images: want (%d, %d)", c.output, shape, n, n, width)
		}
	}
	for i, p := range out {
		if math.IsNaN(float64(p)) || p < 0 || p > 1 {
			if c.multi {
				return fmt.Errorf("model output %q[%d][%d] = %v is not a probability", c.output, i/width, i%width, p)
			}
			return fmt.Errorf("model output %q[%d] = %v is not a probability", c.output, i, p)
		}
	}
	if !c.multi {
		return nil
	}
	for i := range n {
		var sum float64
		for _, p := range out[i*width : (i+1)*width] {
			sum += float64(p)
		}
		if math.Abs(sum-1) > sumTolerance {
			return fmt.Errorf("model output %q[%d] sums to %.6g: want probabilities that sum to 1 (a softmax)", c.output, i, sum)
		}
	}
	return nil
}

// Close releases the onnxruntime session and environment reference. It waits for
// predictions in flight. Closing twice is harmless.
func (c *Classifier) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	err := c.sess.Close()
	if e := c.env.Close(); err == nil {
		err = e
	}
	return err
}
