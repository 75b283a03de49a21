// Package backbones knows the pretrained convolutional bases catdog can build on: where each
// model comes from (a pinned ONNX file, a TensorFlow.js model downloaded and converted by
// package keras, or a file the user imported), what input it wants (size, layout, channel
// order, normalisation) and where to cut it to get features.
//
// Built in are "vgg16" (the ONNX model zoo's ImageNet VGG16), "mobilenet-v1-075" (the
// tfjs-models MobileNet v1 0.75 at 224) and "mobilenet-v2-035" (Teachable Machine's
// MobileNetV2 0.35 base), each downloaded once into the user cache or given as a local file,
// and "vgg16-random" (VGG16's shape with seeded random weights, for tests and benchmarks
// only, stamped as random everywhere). Models imported with Import (the
// `catdog backbones import` command: ONNX files or Keras models saved for TensorFlow.js)
// are found by name too.
package backbones

import (
	"fmt"
	"math"
	"strings"

	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/internal/imgutil"
	"github.com/catdog-ml/catdog/onnx"
)

// Layout is the memory order of a backbone's input tensor.
type Layout string

// Layouts.
const (
	NCHW Layout = "NCHW" // channels first (PyTorch, ONNX model zoo)
	NHWC Layout = "NHWC" // channels last (Keras, TensorFlow)
)

// ChannelOrder is the order of the colour channels a backbone expects.
type ChannelOrder string

// Channel orders.
const (
	RGB ChannelOrder = "RGB"
	BGR ChannelOrder = "BGR" // Caffe and Keras "caffe" preprocessing
)

// Spec describes a backbone: its input and its cut point. Pixel values v in 0..255 become
// (v*Scale - Mean[c]) / Std[c], with c counted in the backbone's ChannelOrder.
type Spec struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	InputSize   int          `json:"input_size"` // square side in pixels
	Layout      Layout       `json:"layout"`
	Channels    ChannelOrder `json:"channels"`
	Scale       float32      `json:"scale"`
	Mean        [3]float32   `json:"mean"`
	Std         [3]float32   `json:"std"`
	// Input names the source model's image input; empty means its first input.
	Input string `json:"input,omitempty"`
	// CutAt names the tensor or node whose output are the features; empty means the end of
	// the last convolution block (onnx.Model.LastConvBlockOutput).
	CutAt string `json:"cut_at,omitempty"`
	// Pool, when "avg" or "max", pools each channel of the cut's (N, C, H, W) output over
	// H and W: the features are then (N, C).
	Pool string `json:"pool,omitempty"`
	// Weights says what the weights learned: "imagenet", "random", or empty when unknown.
	Weights string `json:"weights,omitempty"`
	// Random is true for backbones whose weights are random, not learned.
	Random bool `json:"random,omitempty"`
	// Source is where the model file comes from.
	Source Source `json:"source"`
	// SHA256 is the checksum of the model file actually loaded (set by Load and Import).
	SHA256 string `json:"sha256,omitempty"`
	// OutputShape is the shape of the features, (N, C, H, W) for NCHW backbones (set by Load
	// and Import).
	OutputShape []int64 `json:"output_shape,omitempty"`
}

// Source formats.
const (
	FormatONNX = "onnx" // one ONNX file (the default)
	FormatTFJS = "tfjs" // a TensorFlow.js layers model: model.json and weight shards
)

// Source is where a backbone's model comes from.
type Source struct {
	URL string `json:"url,omitempty"`
	// Format is FormatONNX (empty means the same) or FormatTFJS (URL is then the
	// model.json's, FileName a folder).
	Format   string `json:"format,omitempty"`
	FileName string `json:"file_name,omitempty"` // name in the cache folder
	SHA256   string `json:"sha256,omitempty"`    // pinned checksum of the file
	Size     int64  `json:"size,omitempty"`      // bytes
	// Architecture, for FormatTFJS, is the SHA-256 of what the architecture fixes: the
	// name and shape of every weight of the cut model (see Fingerprint). The files' own
	// checksums are recorded when they are loaded, not pinned.
	Architecture string `json:"architecture,omitempty"`
	// Builtin is true for models catdog builds itself (vgg16-random), with no file at all.
	Builtin bool `json:"builtin,omitempty"`
	// Imported is the path the model was imported from (informative only).
	Imported string `json:"imported,omitempty"`
	// ImportedSHA256 is the checksum of what was imported: the file's, or for a
	// TensorFlow.js model keras.Model.SHA256 of its files.
	ImportedSHA256 string `json:"imported_sha256,omitempty"`
}

// TakesFile reports whether Load accepts Options.File for the backbone: the built-in
// backbones with a download do (a local copy of their files), the others do not.
func (s Spec) TakesFile() bool { return s.Source.URL != "" }

// Validate checks that the spec is usable.
func (s Spec) Validate() error {
	if err := validName(s.Name); err != nil {
		return err
	}
	if s.InputSize < imgutil.MinSize || s.InputSize > imgutil.MaxSize {
		return fmt.Errorf("backbone %s: input size %d out of range %d..%d", s.Name, s.InputSize, imgutil.MinSize, imgutil.MaxSize)
	}
	if s.Layout != NCHW && s.Layout != NHWC {
		return fmt.Errorf("backbone %s: layout %q: want NCHW or NHWC", s.Name, s.Layout)
	}
	if s.Channels != RGB && s.Channels != BGR {
		return fmt.Errorf("backbone %s: channel order %q: want RGB or BGR", s.Name, s.Channels)
	}
	if s.Scale == 0 || isBad(s.Scale) {
		return fmt.Errorf("backbone %s: scale %v must be a non-zero number", s.Name, s.Scale)
	}
	for c := range 3 {
		if s.Std[c] == 0 || isBad(s.Std[c]) || isBad(s.Mean[c]) {
			return fmt.Errorf("backbone %s: mean %v / std %v: std must be non-zero and all finite", s.Name, s.Mean, s.Std)
		}
	}
	switch s.Pool {
	case "", "avg", "max":
	default:
		return fmt.Errorf("backbone %s: pool %q: want avg, max or nothing", s.Name, s.Pool)
	}
	return nil
}

// Preprocessing is how pixel values reach a family of networks; see Presets.
type Preprocessing struct {
	Name        string
	Description string
	Channels    ChannelOrder
	Scale       float32
	Mean, Std   [3]float32
}

// Apply sets the spec's channel order, scale, mean and std to p's.
func (p Preprocessing) Apply(s *Spec) {
	s.Channels, s.Scale, s.Mean, s.Std = p.Channels, p.Scale, p.Mean, p.Std
}

// Presets returns the preprocessing of common network families, by name.
func Presets() []Preprocessing {
	return []Preprocessing{
		{"imagenet", "torchvision and the ONNX model zoo: RGB x/255, ImageNet mean and std", RGB, 1.0 / 255,
			[3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}},
		{"mobilenet", "Keras MobileNet, MobileNetV2, Inception, Teachable Machine: x/127.5 - 1", RGB, 1.0 / 127.5,
			[3]float32{1, 1, 1}, [3]float32{1, 1, 1}},
		{"caffe", "Keras VGG16, VGG19, ResNet50: BGR, ImageNet channel means subtracted", BGR, 1,
			[3]float32{103.939, 116.779, 123.68}, [3]float32{1, 1, 1}},
		{"unit", "Darknet and others: x/255", RGB, 1.0 / 255, [3]float32{}, [3]float32{1, 1, 1}},
		{"raw", "plain 0..255 values (models with their preprocessing inside, such as catdog's)", RGB, 1,
			[3]float32{}, [3]float32{1, 1, 1}},
	}
}

// Preset returns the preprocessing called name (see Presets).
func Preset(name string) (Preprocessing, error) {
	var names []string
	for _, p := range Presets() {
		if p.Name == strings.ToLower(name) {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return Preprocessing{}, fmt.Errorf("unknown preprocessing preset %q: want one of %s", name, strings.Join(names, ", "))
}

func isBad(v float32) bool { return math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) }

func validName(name string) error {
	if name == "" {
		return fmt.Errorf("backbone name is empty")
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || (i > 0 && (r == '-' || r == '_' || r == '.'))
		if !ok {
			return fmt.Errorf("backbone name %q: use lower-case letters, digits, '-', '_' and '.', starting with a letter or digit", name)
		}
	}
	if len(name) > 64 {
		return fmt.Errorf("backbone name %q is longer than 64 characters", name)
	}
	return nil
}

// coefficients returns, for each backbone channel c, the source RGB channel and the factors
// a, b of out = a*v + b.
func (s Spec) coefficients() (src [3]int, a, b [3]float32) {
	for c := range 3 {
		src[c] = c
		if s.Channels == BGR {
			src[c] = 2 - c
		}
		a[c] = s.Scale / s.Std[c]
		b[c] = -s.Mean[c] / s.Std[c]
	}
	return src, a, b
}

// PreprocessGraph adds to b the nodes that turn in, a float32 (N, 3, S, S) tensor of plain RGB
// values in 0..255, into the backbone's input: channels reordered, scaled and normalised by
// one 1x1 convolution, then transposed to NHWC when the backbone wants it. It returns the
// name of the result.
func (s Spec) PreprocessGraph(b *onnx.Builder, in string) string {
	src, a, bias := s.coefficients()
	w := make([]float32, 9)
	for c := range 3 {
		w[c*3+src[c]] = a[c]
	}
	wName := b.Initializer("preprocess.weight", []int64{3, 3, 1, 1}, w)
	bName := b.Initializer("preprocess.bias", []int64{3}, bias[:])
	x := b.Name("preprocess").Conv(in, wName, bName, onnx.ConvOpts{})
	if s.Layout == NHWC {
		x = b.Name("preprocess_nhwc").Transpose(x, 0, 2, 3, 1)
	}
	return x
}

// PreprocessModel returns a model with input "image", float32 (N, 3, S, S) plain RGB 0..255,
// and output "pixels", the backbone's normalised input in its layout and channel order.
func (s Spec) PreprocessModel() (*onnx.Model, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	b := onnx.NewBuilder(s.Name + "-preprocess")
	size := int64(s.InputSize)
	x := s.PreprocessGraph(b, b.Input(exported.InputName, onnx.Float, -1, 3, size, size))
	if s.Layout == NHWC {
		b.Output(x, "pixels", onnx.Float, -1, size, size, 3)
	} else {
		b.Output(x, "pixels", onnx.Float, -1, 3, size, size)
	}
	b.SetMetadata(exported.MetaPreprocess, s.PreprocessString())
	return b.Model()
}

// PreprocessString describes the preprocessing in one line, for metadata and reports.
func (s Spec) PreprocessString() string {
	return fmt.Sprintf("%s %s, (v*%g - mean %s) / std %s, v = 0..255", s.Layout, s.Channels, s.Scale, floats(s.Mean[:]), floats(s.Std[:]))
}

func floats(v []float32) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%g", x)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// FillInput writes one image into dst as the backbone wants it: rgb holds S*S*3 bytes, RGB,
// row by row (HWC, as datasets and internal/imgutil produce); dst gets S*S*3 float32 values
// in the backbone's layout and channel order, normalised. It does in Go what PreprocessGraph
// does in the graph.
func (s Spec) FillInput(dst []float32, rgb []uint8) {
	src, a, b := s.coefficients()
	imgutil.ToFloat32(dst, rgb, len(rgb)/3, imgutil.Affine{Mul: a, Add: b, Src: src, HWC: s.Layout == NHWC})
}
