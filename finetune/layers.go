package finetune

import (
	"fmt"
	"strings"
)

// Kind names what a layer does.
type Kind string

// The layer kinds a Model understands.
const (
	KindConv          Kind = "conv"
	KindDepthwise     Kind = "dwconv"
	KindReLU          Kind = "relu"
	KindReLU6         Kind = "relu6"
	KindMaxPool       Kind = "maxpool"
	KindDropout       Kind = "dropout"
	KindBatchNorm     Kind = "batchnorm"
	KindFlatten       Kind = "flatten"
	KindDense         Kind = "dense"
	KindSigmoid       Kind = "sigmoid"
	KindSoftmax       Kind = "softmax"
	KindGlobalAvgPool Kind = "gap"
	KindResidual      Kind = "residual"
)

// Layer describes one layer of a network. Build layers with the constructors (Conv,
// Dense, ...); the zero value is not a layer.
type Layer struct {
	Kind Kind
	// N is the number of output channels (Conv, Residual) or units (Dense).
	N int `json:"n,omitempty"`
	// K is the kernel side (Conv, DepthwiseConv) or the pooling window and stride (MaxPool).
	K int `json:"k,omitempty"`
	// Pad is the zero padding on every side (Conv, DepthwiseConv).
	Pad int `json:"pad,omitempty"`
	// P is the probability of dropping a value (Dropout).
	P float64 `json:"p,omitempty"`
}

// Conv is a 2-D convolution with out filters of k×k, zero padding pad, stride 1, and a bias.
func Conv(out, k, pad int) Layer { return Layer{Kind: KindConv, N: out, K: k, Pad: pad} }

// DepthwiseConv is a depthwise 2-D convolution: each channel convolved with its own k×k
// filter (ONNX's Conv with group = channels, MobileNet's depthwise layer), zero padding pad,
// stride 1, and a bias per channel.
func DepthwiseConv(k, pad int) Layer { return Layer{Kind: KindDepthwise, K: k, Pad: pad} }

// ReLU is max(x, 0).
func ReLU() Layer { return Layer{Kind: KindReLU} }

// ReLU6 is min(max(x, 0), 6), MobileNet's activation.
func ReLU6() Layer { return Layer{Kind: KindReLU6} }

// MaxPool is a k×k max-pool with stride k.
func MaxPool(k int) Layer { return Layer{Kind: KindMaxPool, K: k} }

// Dropout zeroes each value with probability p while training (scaling the rest by
// 1/(1-p)) and is the identity at inference.
func Dropout(p float64) Layer { return Layer{Kind: KindDropout, P: p} }

// BatchNorm normalises each channel (or unit) with the batch's statistics while training
// and with running averages of them at inference, then scales and shifts.
func BatchNorm() Layer { return Layer{Kind: KindBatchNorm} }

// Flatten turns (N, C, H, W) into (N, C·H·W), in that order.
func Flatten() Layer { return Layer{Kind: KindFlatten} }

// Dense is a fully connected layer with n units and a bias.
func Dense(n int) Layer { return Layer{Kind: KindDense, N: n} }

// Sigmoid is 1/(1+e^-x). As the last layer it turns the logit into the probability of cat;
// training computes the loss from the logit before it.
func Sigmoid() Layer { return Layer{Kind: KindSigmoid} }

// Softmax turns a row of C values into C probabilities that sum to 1: e^x_i / Σ e^x_j. It
// is only ever the last layer, after Dense(C) with C >= 3 (OutputLayers): the probabilities
// of the classes in label order; training computes the loss from the logits before it.
func Softmax() Layer { return Layer{Kind: KindSoftmax} }

// GlobalAvgPool averages each channel over its H×W positions: (N, C, H, W) -> (N, C).
func GlobalAvgPool() Layer { return Layer{Kind: KindGlobalAvgPool} }

// Residual is a residual block with out channels: conv 3x3 + batch norm + ReLU, conv 3x3 +
// batch norm, plus the input (through a 1x1 convolution when the channel count changes),
// then ReLU. It keeps H and W.
func Residual(out int) Layer { return Layer{Kind: KindResidual, N: out} }

// String writes the layer in the spec syntax ParseLayers reads.
func (l Layer) String() string {
	if k := kindOf(l.Kind); k != nil && k.format != nil {
		return k.format(l)
	}
	return string(l.Kind)
}

// SpecString writes layers as one comma-separated spec.
func SpecString(layers []Layer) string {
	s := make([]string, len(layers))
	for i, l := range layers {
		s[i] = l.String()
	}
	return strings.Join(s, ",")
}

// DefaultHead is the transfer head of the study: Flatten, Dense 128 + ReLU, Dropout 0.5,
// Dense 1 + sigmoid.
const DefaultHead = "flatten,dense:128:relu,dropout:0.5,dense:1:sigmoid"

// ParseLayers reads a comma-separated layer spec such as DefaultHead or
// "gap,dense:1:sigmoid". Items:
//
//	flatten | gap | relu | relu6 | sigmoid | softmax | batchnorm (or bn)
//	dense:N[:relu|:sigmoid|:softmax]  N units, optionally followed by the activation
//	dropout:P                     0 <= P < 1
//	conv:N[:K[:PAD]]              N filters of KxK (default 3), padding PAD (default K/2)
//	maxpool[:K]                   KxK window, stride K (default 2)
//	residual:N                    residual block with N channels
func ParseLayers(spec string) ([]Layer, error) {
	var out []Layer
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		f := strings.Split(item, ":")
		name, args := strings.ToLower(f[0]), f[1:]
		k := kindNamed(name)
		switch {
		case k == nil:
			return nil, fmt.Errorf("unknown layer %q (want %s)", item, kindSyntax())
		case k.parse == nil && len(args) != 0:
			return nil, fmt.Errorf("layer %q: %q takes no arguments", item, name)
		case k.parse == nil:
			out = append(out, Layer{Kind: k.kind})
		default:
			ls, err := k.parse(item, name, args)
			if err != nil {
				return nil, err
			}
			out = append(out, ls...)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty layer spec %q", spec)
	}
	return out, nil
}
