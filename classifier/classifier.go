// Package classifier embeds a catdog model (model.onnx, as exported by catdog finetune or
// catdog train) in a Go program and classifies images with onnxruntime.
//
// The exported model takes input "image", float32 NCHW (N, 3, S, S) holding plain RGB values
// 0..255, and returns "prob_cat", float32 (N, 1), the probability of label 1 (cat). All other
// preprocessing lives inside the graph. The model's metadata names the input size S
// ("catdog.input_size"), the resize filter used when the training data was prepared
// ("catdog.resize_filter") and the labels ("catdog.labels", "dog,cat"). The classifier
// resizes each image with catdog's internal/imgutil, the code that prepared the training
// data, so a served model sees exactly the pixels it was trained on.
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

// Prediction is the answer for one image.
type Prediction struct {
	Label       string  `json:"label"`       // "dog" or "cat" (the model's labels)
	Class       int     `json:"class"`       // 0 = dog, 1 = cat
	Probability float32 `json:"probability"` // probability of cat (label 1)
	Confidence  float32 `json:"confidence"`  // probability of the label given: max(p, 1-p)
}

// Option configures Load.
type Option func(*config)

type config struct {
	provider  string
	threads   int
	threshold float32
	maxBytes  int64
}

// WithProvider picks the onnxruntime execution provider: "auto" (default: CUDA when
// available, else CPU), "cuda" or "cpu".
func WithProvider(ep string) Option { return func(c *config) { c.provider = ep } }

// WithThreads sets onnxruntime's intra-op thread count (default: every core).
func WithThreads(n int) Option { return func(c *config) { c.threads = n } }

// WithThreshold sets the probability of cat from which an image is called a cat
// (default 0.5).
func WithThreshold(t float32) Option { return func(c *config) { c.threshold = t } }

// WithMaxModelBytes bounds the size of the model file Load reads (default 4 GiB,
// userfile.DefaultModelBytes); a larger file is refused before it is read.
func WithMaxModelBytes(n int64) Option { return func(c *config) { c.maxBytes = n } }

// Classifier classifies images with an exported catdog model.
type Classifier struct {
	env      *ort.Env
	sess     *ort.Session
	size     int
	filter   imgutil.Filter
	labels   [2]string
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
	if !hasIO(outs, exported.OutputName) {
		return nil, fmt.Errorf("model outputs %v: want an output %q", ioNames(outs), exported.OutputName)
	}
	sess, err := env.NewSession(model, ort.SessionOptions{
		Provider: cfg.provider, Threads: cfg.threads,
		Inputs: []string{exported.InputName}, Outputs: []string{exported.OutputName},
	})
	if err != nil {
		return nil, err
	}
	c := &Classifier{env: env, sess: sess, thresh: cfg.threshold, labels: [2]string{"dog", "cat"},
		provider: sess.Provider, fallback: sess.Fallback}
	if err := c.readMetadata(ins[0]); err != nil {
		sess.Close()
		return nil, err
	}
	return c, nil
}

func (c *Classifier) readMetadata(in ort.IO) error {
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
	if l := md[exported.MetaLabels]; l != "" {
		parts := strings.Split(l, ",")
		if len(parts) != 2 || strings.TrimSpace(parts[0]) == "" || strings.TrimSpace(parts[1]) == "" {
			return fmt.Errorf("metadata %s=%q: want two labels, e.g. dog,cat", exported.MetaLabels, l)
		}
		c.labels = [2]string{strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])}
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

func hasIO(xs []ort.IO, name string) bool {
	for _, x := range xs {
		if x.Name == name {
			return true
		}
	}
	return false
}

// InputSize is the side length S, in pixels, images are resized to.
func (c *Classifier) InputSize() int { return c.size }

// Filter is the resize filter used (from the model's metadata).
func (c *Classifier) Filter() string { return c.filter.String() }

// Labels returns the names of class 0 and class 1 (dog, cat).
func (c *Classifier) Labels() [2]string { return c.labels }

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

// Probabilities returns the probability of cat for n images given as in PredictPixels.
func (c *Classifier) Probabilities(nhwc []uint8, n int) ([]float32, error) {
	if n < 0 || len(nhwc) != n*c.pixels() {
		return nil, fmt.Errorf("Probabilities: %d bytes for %d images of %dx%dx3", len(nhwc), n, c.size, c.size)
	}
	return c.run(nhwc, n)
}

func (c *Classifier) pixels() int { return c.size * c.size * 3 }

func (c *Classifier) predictPixels(nhwc []uint8, n int) ([]Prediction, error) {
	probs, err := c.run(nhwc, n)
	if err != nil {
		return nil, err
	}
	out := make([]Prediction, n)
	for i, p := range probs {
		out[i] = c.prediction(p)
	}
	return out, nil
}

func (c *Classifier) prediction(p float32) Prediction {
	pr := Prediction{Probability: p, Class: 0, Label: c.labels[0], Confidence: 1 - p}
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
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return nil, ErrClosed
	}
	out, shape, err := c.sess.RunFloat32(x, int64(n), 3, int64(c.size), int64(c.size))
	if err != nil {
		return nil, err
	}
	if len(out) != n {
		return nil, fmt.Errorf("model output %q has shape %v for %d images: want (%d, 1)", exported.OutputName, shape, n, n)
	}
	for i, p := range out {
		if math.IsNaN(float64(p)) || p < 0 || p > 1 {
			return nil, fmt.Errorf("model output %q[%d] = %v is not a probability", exported.OutputName, i, p)
		}
	}
	return out, nil
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
