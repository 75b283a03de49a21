package finetune

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/catdog-ml/catdog/runs"
)

// Param is one named weight array of a Model, row-major float32.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
	// Trainable is false for frozen weights and for batch-norm running statistics.
	Trainable bool
}

// Size is the number of values in p.
func (p *Param) Size() int { return len(p.Data) }

func newParam(name string, trainable bool, shape ...int) *Param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Param{Name: name, Shape: append([]int(nil), shape...), Data: make([]float32, n), Trainable: trainable}
}

// MaxParams is the most weight values a model may have: training holds each about five
// times (the weights, their gradients, Adam's two moments, the best epoch's copy), 20 bytes
// in all, so a billion is 20 GB. A bigger model is refused before anything is allocated.
const MaxParams = 1 << 30

// convW holds a convolution's or a dense layer's weights and bias.
type convW struct{ w, b *Param }

// bnW holds a batch normalisation's scale, shift and running statistics.
type bnW struct{ gamma, beta, mean, vari *Param }

// unit is one layer of a built Model: its spec, its kind's description, shapes and weights.
type unit struct {
	Layer
	info    *kindInfo
	name    string
	in, out []int // per-sample shapes
	conv    convW // Conv, Dense, Residual's first convolution
	bn      bnW   // BatchNorm, Residual's first batch norm
	conv2   convW // Residual's second convolution
	bn2     bnW   // Residual's second batch norm
	proj    convW // Residual's 1x1 projection, when channels change (w nil otherwise)
}

// BNEpsilon is the epsilon of every batch normalisation, in training and in the export.
const BNEpsilon = 1e-5

// BNMomentum is the weight of the newest batch in the running statistics:
// running = (1-BNMomentum)·running + BNMomentum·batch (the running variance takes the
// unbiased batch variance), as in PyTorch.
const BNMomentum = 0.1

// Model is a network built from Layer specs, holding its weights.
type Model struct {
	// Name names the architecture (an Arch name, or "head").
	Name string
	// Input is the shape of one sample: (C, H, W) for images and feature maps, (D) for vectors.
	Input []int
	// Layers are the specs the model was built from.
	Layers []Layer

	units  []*unit
	params []*Param
	// conv is the convolution op; nil means the default (see convOp).
	conv ConvFunc
	init Init
}

// Init names how the weights of convolutions and dense layers are drawn.
type Init string

// Initializers.
const (
	// GlorotUniform draws from U(-a, a), a = sqrt(6/(fan_in + fan_out)): Keras's default.
	GlorotUniform Init = "glorot-uniform"
	// HeUniform draws from U(-a, a), a = sqrt(6/fan_in): Brownlee's tutorial's choice.
	HeUniform Init = "he-uniform"
)

// NewModel builds a model for samples of shape input from layers, with weights drawn from
// seed by init ("" means DefaultInit) for convolutions and dense layers, zero biases, batch
// norm scale 1, shift 0, running mean 0, running variance 1. The last layers give the
// model's classes (OutputLayers): Sigmoid on a single value for two classes (the
// probability of label 1, cat for Dogs vs. Cats), or Softmax on C >= 3 values for C classes
// (their probabilities in label order). Softmax is only ever the last layer.
func NewModel(name string, input []int, layers []Layer, init Init, seed uint64) (*Model, error) {
	if init == "" {
		init = DefaultInit
	}
	if init != GlorotUniform && init != HeUniform {
		return nil, fmt.Errorf("model %s: unknown initializer %q (want %s or %s)", name, init, GlorotUniform, HeUniform)
	}
	if len(input) != 1 && len(input) != 3 {
		return nil, fmt.Errorf("model %s: input shape %v: want (C, H, W) or (D)", name, input)
	}
	for _, d := range input {
		if d < 1 {
			return nil, fmt.Errorf("model %s: input shape %v has an empty dimension", name, input)
		}
	}
	if len(layers) == 0 || layers[len(layers)-1].Kind != KindSigmoid && layers[len(layers)-1].Kind != KindSoftmax {
		return nil, fmt.Errorf("model %s: the last layer must be sigmoid (two classes: the probability of label 1) or softmax (three classes or more), got %q", name, SpecString(layers))
	}
	for i, l := range layers[:len(layers)-1] {
		if l.Kind == KindSoftmax {
			return nil, fmt.Errorf("model %s: layer %d (softmax): softmax is only the last layer (the probabilities of the classes)", name, i+1)
		}
	}
	m := &Model{Name: name, Input: append([]int(nil), input...), Layers: append([]Layer(nil), layers...), init: init}
	rng := rand.New(rand.NewPCG(seed, 0x5eed_cafe))
	shape := append([]int(nil), input...)
	count := map[Kind]int{}
	var total int64
	for i, l := range layers {
		k := kindOf(l.Kind)
		if k == nil {
			return nil, fmt.Errorf("model %s: layer %d: unknown kind %q", name, i+1, l.Kind)
		}
		u := &unit{Layer: l, info: k, name: unitName(count, l.Kind), in: shape}
		if k.weights != nil {
			if total += k.weights(l, shape); total > MaxParams {
				return nil, fmt.Errorf("model %s: layer %d (%s) takes it past %d weights (%d so far): too big to train here; use fewer units or pool first (gap)", name, i+1, l, MaxParams, total)
			}
		}
		if k.output != nil {
			out, err := k.output(l, shape)
			if err != nil {
				return nil, fmt.Errorf("model %s: layer %d (%s) %w", name, i+1, l, err)
			}
			shape = out
		}
		if k.init != nil {
			k.init(m, u, rng)
		}
		u.out = append([]int(nil), shape...)
		m.units = append(m.units, u)
	}
	if err := checkOutput(layers[len(layers)-1].Kind, shape); err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	return m, nil
}

// checkOutput checks the shape of a sample's output under the last layer, of kind last:
// one value under sigmoid, C >= 3 under softmax.
func checkOutput(last Kind, shape []int) error {
	if last == KindSoftmax {
		if len(shape) != 1 || shape[0] < 3 {
			return fmt.Errorf("softmax needs three values per sample or more (one per class), got shape %v: end with dense:C:softmax for C >= 3 classes, or dense:1:sigmoid for two", shape)
		}
		return nil
	}
	if len(shape) != 1 || shape[0] != 1 {
		return fmt.Errorf("the output must be one value per sample under sigmoid, got shape %v: end with dense:1:sigmoid for two classes, or dense:C:softmax for C >= 3", shape)
	}
	return nil
}

// Classes returns the number of classes the model tells apart: 2 for a sigmoid output,
// the width of the softmax output otherwise.
func (m *Model) Classes() int {
	if last := m.units[len(m.units)-1]; last.Kind == KindSoftmax {
		return last.out[0]
	}
	return 2
}

// unitName names the next layer of kind k: the kind and its count so far, from 1 ("conv2").
// Its parameters' names start with it ("conv2.weight").
func unitName(count map[Kind]int, k Kind) string {
	count[k]++
	return fmt.Sprintf("%s%d", k, count[k])
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

func (m *Model) add(p *Param) *Param { m.params = append(m.params, p); return p }

// newConv draws filters (out, in, k, k) and makes a zero bias.
func (m *Model) newConv(name string, rng *rand.Rand, out, in, k int) convW {
	w := m.add(newParam(name+".weight", true, out, in, k, k))
	m.draw(rng, w.Data, in*k*k, out*k*k)
	return convW{w: w, b: m.add(newParam(name+".bias", true, out))}
}

// newDepthwise draws one k×k filter per channel, (c, 1, k, k), and makes a zero bias.
func (m *Model) newDepthwise(name string, rng *rand.Rand, c, k int) convW {
	w := m.add(newParam(name+".weight", true, c, 1, k, k))
	m.draw(rng, w.Data, k*k, k*k)
	return convW{w: w, b: m.add(newParam(name+".bias", true, c))}
}

// newDense draws weights (in, out) and makes a zero bias.
func (m *Model) newDense(name string, rng *rand.Rand, in, out int) convW {
	w := m.add(newParam(name+".weight", true, in, out))
	m.draw(rng, w.Data, in, out)
	return convW{w: w, b: m.add(newParam(name+".bias", true, out))}
}

// draw fills w by the model's initializer.
func (m *Model) draw(rng *rand.Rand, w []float32, fanIn, fanOut int) {
	lim := math.Sqrt(6 / float64(fanIn))
	if m.init == GlorotUniform {
		lim = math.Sqrt(6 / float64(fanIn+fanOut))
	}
	for i := range w {
		w[i] = float32((rng.Float64()*2 - 1) * lim)
	}
}

func (m *Model) newBN(name string, c int) bnW {
	b := bnW{
		gamma: m.add(newParam(name+".scale", true, c)),
		beta:  m.add(newParam(name+".shift", true, c)),
		mean:  m.add(newParam(name+".running_mean", false, c)),
		vari:  m.add(newParam(name+".running_var", false, c)),
	}
	for i := range b.gamma.Data {
		b.gamma.Data[i], b.vari.Data[i] = 1, 1
	}
	return b
}

// Params returns the model's weights in a fixed order (the order of the layers). The
// slices are the model's own: changing them changes the model.
func (m *Model) Params() []*Param { return m.params }

// Param returns the weight named name, or nil.
func (m *Model) Param(name string) *Param {
	for _, p := range m.params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// NumParams returns the number of trainable values and the number of the others
// (batch-norm running statistics).
func (m *Model) NumParams() (trainable, other int) {
	for _, p := range m.params {
		if p.Trainable {
			trainable += p.Size()
		} else {
			other += p.Size()
		}
	}
	return trainable, other
}

// SetConv replaces the convolution op used by the model's graphs (nil restores the
// default). It changes the speed, never the math.
func (m *Model) SetConv(f ConvFunc) { m.conv = f }

// Table returns one row per layer: its output shape per sample and its parameter counts.
func (m *Model) Table() []runs.Layer {
	rows := make([]runs.Layer, len(m.units))
	for i, u := range m.units {
		r := runs.Layer{Name: u.name, Kind: string(u.Layer.Kind), Spec: u.Layer.String(), Output: append([]int(nil), u.out...)}
		for _, p := range u.weights() {
			if p.Trainable {
				r.Params += p.Size()
			} else {
				r.Frozen += p.Size()
			}
		}
		rows[i] = r
	}
	return rows
}

// weights lists the unit's params.
func (u *unit) weights() []*Param {
	var ps []*Param
	for _, c := range []convW{u.conv, u.conv2, u.proj} {
		if c.w != nil {
			ps = append(ps, c.w, c.b)
		}
	}
	for _, b := range []bnW{u.bn, u.bn2} {
		if b.gamma != nil {
			ps = append(ps, b.gamma, b.beta, b.mean, b.vari)
		}
	}
	return ps
}

// FormatTable writes the layer table as aligned text, with totals.
func (m *Model) FormatTable() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-16s %-14s %-16s %12s %10s\n", "layer", "spec", "output", "params", "frozen")
	fmt.Fprintf(&sb, "%-16s %-14s %-16s %12s %10s\n", "input", "", shapeString(m.Input), "", "")
	for _, r := range m.Table() {
		fmt.Fprintf(&sb, "%-16s %-14s %-16s %12d %10d\n", r.Name, r.Spec, shapeString(r.Output), r.Params, r.Frozen)
	}
	t, o := m.NumParams()
	fmt.Fprintf(&sb, "total: %d trainable, %d not trainable\n", t, o)
	return sb.String()
}

func shapeString(s []int) string {
	p := make([]string, len(s))
	for i, d := range s {
		p[i] = fmt.Sprint(d)
	}
	return "(" + strings.Join(p, ", ") + ")"
}

// CopyWeightsFrom copies every weight from src, which must have the same architecture.
func (m *Model) CopyWeightsFrom(src *Model) error {
	if len(src.params) != len(m.params) {
		return errors.New("finetune: models differ in their weights")
	}
	for i, p := range m.params {
		q := src.params[i]
		if q.Name != p.Name || len(q.Data) != len(p.Data) {
			return fmt.Errorf("finetune: weight %d is %s%v in one model and %s%v in the other", i, p.Name, p.Shape, q.Name, q.Shape)
		}
		copy(p.Data, q.Data)
	}
	return nil
}

// SetWeights copies values into the weights they name (Param names such as "conv1.weight"),
// checking that each exists with as many values.
func (m *Model) SetWeights(values map[string][]float32) error {
	for name, v := range values {
		p := m.Param(name)
		if p == nil {
			return fmt.Errorf("finetune: model %s has no weight %s", m.Name, name)
		}
		if len(v) != len(p.Data) {
			return fmt.Errorf("finetune: weight %s%v holds %d values, got %d", name, p.Shape, len(p.Data), len(v))
		}
		copy(p.Data, v)
	}
	return nil
}

// snapshot returns a copy of every weight's values.
func (m *Model) snapshot() [][]float32 {
	s := make([][]float32, len(m.params))
	for i, p := range m.params {
		s[i] = append([]float32(nil), p.Data...)
	}
	return s
}

func (m *Model) restore(s [][]float32) {
	for i, p := range m.params {
		copy(p.Data, s[i])
	}
}

// FLOPs is the number of floating-point operations of one sample's forward pass in its
// matrix products, convolutions and dense layers (two per multiply-add): what a training
// step's cost is counted in, about three times this per sample (forward, the gradient of
// the input, the gradient of the weights). The elementwise layers are left out.
func (m *Model) FLOPs() float64 {
	var f float64
	pixels := func(shape []int) float64 {
		if len(shape) < 3 {
			return 1
		}
		return float64(shape[1] * shape[2])
	}
	for _, u := range m.units {
		for _, c := range []convW{u.conv, u.conv2, u.proj} {
			if c.w == nil {
				continue
			}
			per := 1.0 // a dense layer's weights meet each sample once
			if u.Kind == KindConv || u.Kind == KindDepthwise || u.Kind == KindResidual {
				per = pixels(u.out) // a convolution's, once per output pixel (stride 1)
			}
			f += 2 * float64(c.w.Size()) * per
		}
	}
	return f
}
