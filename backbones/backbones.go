package backbones

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/keras"
	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/pb"
)

// Names of the built-in backbones.
const (
	VGG16          = "vgg16"
	VGG16Random    = "vgg16-random"
	MobileNetV1075 = "mobilenet-v1-075"
	MobileNetV2035 = "mobilenet-v2-035"
)

// RandomWarning is what catdog says wherever vgg16-random is used.
const RandomWarning = "backbone vgg16-random has RANDOM weights: its features know nothing about images; use it for tests and benchmarks only"

// imagenet is the ONNX model zoo's preprocessing: RGB in [0, 1], then ImageNet mean and std.
var imagenet = Spec{
	InputSize: 224, Layout: NCHW, Channels: RGB, Scale: 1.0 / 255,
	Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225},
}

// builtins returns the built-in specs.
func builtins() []Spec {
	vgg := imagenet
	vgg.Name = VGG16
	vgg.Description = "VGG16 trained on ImageNet (ONNX model zoo vgg16-12), cut after the fifth max-pool: 512x7x7 features"
	vgg.Source = Source{
		URL:      "https://github.com/onnx/models/raw/main/validated/vision/classification/vgg/model/vgg16-12.onnx",
		FileName: "vgg16-12.onnx",
		SHA256:   "722c42f53ca03a5480296bf8f9c85a151de3eed9ec982d7d2302ff6e2900c67b",
		Size:     553_437_752,
	}
	vgg.Weights = "imagenet"
	vgg.OutputShape = []int64{-1, 512, 7, 7}
	rnd := imagenet
	rnd.Name = VGG16Random
	rnd.Description = "VGG16-shaped conv base with seeded RANDOM weights, for tests and benchmarks only"
	rnd.Input = "data"
	rnd.CutAt = "block5_pool"
	rnd.Random = true
	rnd.Weights = "random"
	rnd.Source = Source{Builtin: true}
	return []Spec{vgg, rnd, mobileNet(MobileNetV1075), mobileNet(MobileNetV2035)}
}

// mobileNet returns the spec of a built-in MobileNet: a TensorFlow.js layers model
// converted by package keras, x/127.5 - 1 in RGB.
func mobileNet(name string) Spec {
	s := Spec{Name: name, InputSize: 224, Layout: NCHW, Weights: "imagenet"}
	p, _ := Preset("mobilenet")
	p.Apply(&s)
	switch name {
	case MobileNetV1075:
		s.Description = "MobileNet v1, width 0.75, trained on ImageNet (tfjs-models), global average pool of its last convolution: 768 features"
		s.CutAt = "global_average_pooling2d_1"
		s.OutputShape = []int64{-1, 768}
		s.Source = Source{
			Format:       FormatTFJS,
			URL:          "https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_0.75_224/model.json",
			FileName:     "mobilenet_v1_0.75_224",
			Architecture: "1230746d59d0bcc9ad48bd2a11a5ee49f3a62e534f3227a761e29473f593c254",
		}
	case MobileNetV2035:
		s.Description = "MobileNetV2, width 0.35, trained on ImageNet (Teachable Machine's base), global average pool of its last convolution: 1280 features"
		s.CutAt = "out_relu"
		s.Pool = "avg"
		s.OutputShape = []int64{-1, 1280}
		s.Source = Source{
			Format:       FormatTFJS,
			URL:          "https://storage.googleapis.com/teachable-machine-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top/model.json",
			FileName:     "mobilenet_v2_0.35_224_no_top",
			Architecture: "d36108e946e66723f61776e5551c80a7a8aa4e02a4923403e8a4c766adbbbe14",
		}
	}
	return s
}

// Options configure Load, List and Import.
type Options struct {
	// File is a local ONNX file to use instead of the cached or downloaded one (built-in
	// backbones with a download only). A file whose checksum differs from the pinned one is
	// accepted with a warning.
	File string
	// CacheDir holds downloaded models and imported backbones; empty means DefaultCacheDir.
	CacheDir string
	// HTTPClient downloads models; nil means a default client (see Download).
	HTTPClient *http.Client
	// NoDownload makes Load fail instead of downloading a missing model.
	NoDownload bool
	// Progress, if set, is called as download bytes arrive.
	Progress func(done, total int)
	// InputSize, if set, changes the input side of a fully convolutional cut backbone
	// (for example 64 for quick runs); VGG16 needs at least 32 (features 1x1).
	InputSize int
	// Seed seeds vgg16-random's weights (0 is a valid seed).
	Seed uint64
	// CutAt, if set, cuts the model there instead of at the spec's cut point (a node or
	// tensor name), and Pool then replaces the spec's pooling ("" for none, "avg", "max").
	CutAt string
	Pool  string
	// MaxModelBytes bounds what reading one model may take (an ONNX file with its external
	// data, or a TensorFlow.js model.json with its shards); 0 means 4 GiB
	// (userfile.DefaultModelBytes).
	MaxModelBytes int64
}

// DefaultCacheDir returns $CATDOG_BACKBONES_DIR when set, else
// os.UserCacheDir()/catdog/backbones.
func DefaultCacheDir() (string, error) {
	if dir := os.Getenv("CATDOG_BACKBONES_DIR"); dir != "" {
		return dir, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user cache folder (set --cache-dir): %w", err)
	}
	return filepath.Join(dir, "catdog", "backbones"), nil
}

func (o Options) cacheDir() (string, error) {
	if o.CacheDir != "" {
		return o.CacheDir, nil
	}
	return DefaultCacheDir()
}

// Backbone is a loaded backbone: its cut model and what it expects.
type Backbone struct {
	Spec Spec
	// Model is the cut model: one input (Input) with a dynamic batch dimension "N", one
	// output (Output), the features.
	Model  *onnx.Model
	Input  string
	Output string
	// Path is the model file (or TensorFlow.js folder) read, empty for vgg16-random.
	Path string
	// Files are the files read with their sizes and SHA-256 (a TensorFlow.js model's
	// model.json and shards); Spec.SHA256 sums them up.
	Files []keras.File
	// Params is the number of weights of the cut model.
	Params int
	// Warnings are things the user should be told (random weights, unpinned checksum).
	Warnings []string
}

// WithPreprocess returns the backbone's model behind its preprocessing: input "image",
// float32 (N, 3, S, S) plain RGB 0..255; output the features (b.Output).
func (b *Backbone) WithPreprocess() (*onnx.Model, error) {
	pre, err := b.Spec.PreprocessModel()
	if err != nil {
		return nil, err
	}
	m, err := onnx.Compose(pre, "pixels", b.Model, b.Input, "backbone/")
	if err != nil {
		return nil, fmt.Errorf("backbone %s: adding preprocessing: %w", b.Spec.Name, err)
	}
	return m, nil
}

// List returns the built-in backbones followed by the imported ones, by name.
func List(opts Options) ([]Spec, error) {
	specs := builtins()
	dir, err := opts.cacheDir()
	if err != nil {
		return specs, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return specs, fmt.Errorf("listing imported backbones: %w", err)
	}
	var imported []Spec
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		s, err := readImported(filepath.Join(dir, e.Name()))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // not a backbone folder
			}
			return specs, err
		}
		imported = append(imported, s)
	}
	sort.Slice(imported, func(i, j int) bool { return imported[i].Name < imported[j].Name })
	return append(specs, imported...), nil
}

// Lookup returns the spec of the backbone called name, built in or imported.
func Lookup(name string, opts Options) (Spec, error) {
	for _, s := range builtins() {
		if s.Name == name {
			return s, nil
		}
	}
	if err := validName(name); err != nil {
		return Spec{}, err
	}
	dir, err := opts.cacheDir()
	if err != nil {
		return Spec{}, err
	}
	s, err := readImported(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		var names []string
		for _, b := range builtins() {
			names = append(names, b.Name)
		}
		return Spec{}, fmt.Errorf("no backbone called %q: built in are %s; import others with `catdog backbones import` (looked in %s)", name, strings.Join(names, ", "), dir)
	}
	return s, err
}

const specFile = "backbone.json"
const modelFile = "model.onnx"

func readImported(dir string) (Spec, error) {
	data, err := os.ReadFile(filepath.Join(dir, specFile))
	if err != nil {
		return Spec{}, err
	}
	var s Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return Spec{}, fmt.Errorf("imported backbone in %s: bad %s: %w", dir, specFile, err)
	}
	if err := s.Validate(); err != nil {
		return Spec{}, fmt.Errorf("imported backbone in %s: %w", dir, err)
	}
	return s, nil
}

// Load finds the backbone called name, gets its model (cache, download, or opts.File),
// checks it and cuts it. It never falls back to other weights: a model that cannot be had
// is an error saying where to get it and where to put it.
func Load(ctx context.Context, name string, opts Options) (*Backbone, error) {
	spec, err := Lookup(name, opts)
	if err != nil {
		return nil, err
	}
	bb := &Backbone{Spec: spec}
	var m *onnx.Model
	switch {
	case spec.Source.Builtin:
		if opts.File != "" {
			return nil, fmt.Errorf("backbone %s is built by catdog; it takes no --file", name)
		}
		size := spec.InputSize
		if opts.InputSize != 0 {
			size = opts.InputSize
		}
		m, err = RandomVGG16(size, opts.Seed)
		if err != nil {
			return nil, err
		}
		bb.Spec.InputSize = size
		data, err := m.Encode()
		if err != nil {
			return nil, err
		}
		bb.Spec.SHA256 = sha256Hex(data)
		opts.InputSize = 0 // already built at that size
	case spec.Source.URL != "" && spec.Source.Format == FormatTFJS:
		m, err = loadTFJS(ctx, bb, opts)
		if err != nil {
			return nil, err
		}
	case spec.Source.URL != "":
		m, err = loadDownloadable(ctx, bb, opts)
		if err != nil {
			return nil, err
		}
	default:
		m, err = loadImported(bb, opts)
		if err != nil {
			return nil, err
		}
	}
	if want := spec.Source.Architecture; want != "" {
		// What the architecture fixes is checked at the spec's own cut, whatever the cut asked.
		ref, err := m.Cut(spec.CutAt)
		if err != nil {
			return nil, fmt.Errorf("backbone %s: %s does not hold the architecture of %s: %w", spec.Name, bb.Path, spec.Name, err)
		}
		if got := Fingerprint(ref); got != want {
			return nil, fmt.Errorf("backbone %s: %s does not hold the architecture of %s (its weights differ in names or shapes: fingerprint %.12s, want %.12s); is it another model?",
				spec.Name, bb.Path, spec.Name, got, want)
		}
	}
	if opts.CutAt != "" {
		bb.Spec.CutAt, bb.Spec.Pool = opts.CutAt, opts.Pool
		if err := bb.Spec.Validate(); err != nil {
			return nil, err
		}
	}
	if err := bb.cut(m, opts.InputSize); err != nil {
		return nil, err
	}
	if spec.Random {
		bb.Warnings = append(bb.Warnings, RandomWarning)
	}
	return bb, nil
}

// cut finds the input, optionally resizes it, makes the batch dynamic and cuts the model.
func (bb *Backbone) cut(m *onnx.Model, size int) error {
	s := &bb.Spec
	fail := func(err error) error { return fmt.Errorf("backbone %s: %w", s.Name, err) }
	inputs := m.Inspect().Inputs
	if len(inputs) == 0 {
		return fail(errors.New("the model has no input"))
	}
	in := inputs[0]
	if s.Input != "" {
		found := false
		for _, v := range inputs {
			if v.Name == s.Input {
				in, found = v, true
			}
		}
		if !found {
			return fail(fmt.Errorf("the model has no input %q", s.Input))
		}
	}
	bb.Input = in.Name
	if len(in.Shape) != 4 {
		return fail(fmt.Errorf("input %q has shape %s; want 4 dimensions (%s)", in.Name, in.Shape, s.Layout))
	}
	hAxis, cAxis := 2, 1
	if s.Layout == NHWC {
		hAxis, cAxis = 1, 3
	}
	if c := in.Shape[cAxis]; c >= 0 && c != 3 {
		return fail(fmt.Errorf("input %q has shape %s: %d channels at the %s channel axis; is the layout right?", in.Name, in.Shape, c, s.Layout))
	}
	if size != 0 && size != s.InputSize {
		if err := setInputSize(m, in.Name, hAxis, size); err != nil {
			return fail(err)
		}
		s.InputSize = size
	} else if h := in.Shape[hAxis]; h >= 0 && h != int64(s.InputSize) {
		return fail(fmt.Errorf("input %q has shape %s but the spec says %dx%d %s", in.Name, in.Shape, s.InputSize, s.InputSize, s.Layout))
	}
	m.SetBatchDim(onnx.BatchDim)
	at := s.CutAt
	if at == "" {
		var err error
		if at, err = m.LastConvBlockOutput(); err != nil {
			return fail(fmt.Errorf("%w; name the cut point (catdog backbones import --cut NODE)", err))
		}
	}
	c, err := m.Cut(at)
	if err != nil {
		return fail(err)
	}
	if s.Pool != "" {
		if c, err = pool(c, s.Pool); err != nil {
			return fail(err)
		}
	}
	bb.Output = c.Inspect().Outputs[0].Name
	shape := c.Inspect().Outputs[0].Shape
	if shape.Elements() < 0 {
		// Static shape inference could not fix a dimension: ask onnxruntime.
		if shape, err = probeShape(c, bb.Input, bb.Output, s); err != nil {
			return fail(fmt.Errorf("the shape of the features %s is unknown and could not be probed: %w", bb.Output, err))
		}
	}
	for i, d := range shape {
		if i > 0 && d == 0 {
			return fail(fmt.Errorf("input size %d is too small: the features would be %s", s.InputSize, shape))
		}
	}
	s.OutputShape = shape
	bb.Params = int(c.Inspect().TotalParams)
	c.SetMetadata(exported.MetaBackbone, s.Name)
	c.SetMetadata(exported.MetaBackboneSHA256, s.SHA256)
	c.SetMetadata(exported.MetaBackboneCut, bb.Output)
	c.SetMetadata(exported.MetaBackbonePreprocess, s.PreprocessString())
	if s.Random {
		c.SetMetadata(exported.MetaRandomWeights, "true")
	}
	bb.Model = c
	return nil
}

// setInputSize changes the spatial dimensions of input name to size. The shapes declared
// for the other tensors, graph outputs included, are dropped: inference recomputes them.
func setInputSize(m *onnx.Model, name string, hAxis, size int) error {
	for _, v := range m.Graph().GetInput() {
		if v.GetName() != name {
			continue
		}
		dims := v.GetType().GetTensorType().GetShape().GetDim()
		for _, ax := range []int{hAxis, hAxis + 1} {
			dims[ax].Value = &pb.TensorShapeProto_Dimension_DimValue{DimValue: int64(size)}
		}
		m.Graph().ValueInfo = nil
		for _, o := range m.Graph().GetOutput() {
			if tt := o.GetType().GetTensorType(); tt != nil {
				tt.Shape = nil
			}
		}
		return nil
	}
	return fmt.Errorf("no input %q", name)
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
