package finetune

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// kindInfo describes one layer kind: everything finetune asks about a kind is answered
// here, and nowhere else. Adding a kind is adding one entry to kinds (and to the PyTorch
// mirror, bench/parity/torch_ref.py's LAYERS).
type kindInfo struct {
	kind Kind
	// names are the names ParseLayers reads for the kind, the kind itself first; syntax
	// is its item as the unknown-layer error lists it.
	names  []string
	syntax string
	// parse reads an item whose name is one of names and whose arguments (after the name,
	// split at ':') are args; nil means the kind takes no arguments.
	parse func(item, name string, args []string) ([]Layer, error)
	// format writes the layer as a spec item ParseLayers reads back; nil means the kind's
	// name alone.
	format func(l Layer) string

	// weights counts the values of the layer's parameters on a sample of shape in (checked
	// against MaxParams before anything is allocated); nil means none.
	weights func(l Layer, in []int) int64
	// output returns the layer's output shape for a sample of shape in, or why it cannot
	// take that input (NewModel prefixes the model and the layer); nil means the input's.
	output func(l Layer, in []int) ([]int, error)
	// init makes the unit's parameters (Model.newConv, newDense, newBN), drawing their
	// initial values from rng; the order of the calls is the order of the draws and of
	// Model.Params, which checkpoints and the PyTorch mirror follow. nil means none.
	init func(m *Model, u *unit, rng *rand.Rand)
}

// kinds holds every layer kind, in the order of docs/training.md's table.
var kinds = [...]kindInfo{
	{
		kind: KindConv, names: []string{"conv"}, syntax: "conv:N[:K[:PAD]]",
		parse: parseConv,
		format: func(l Layer) string {
			return fmt.Sprintf("conv:%d:%d:%d", l.N, l.K, l.Pad)
		},
		weights: func(l Layer, in []int) int64 {
			return int64(l.N) * (int64(in[0])*int64(l.K)*int64(l.K) + 1)
		},
		output: func(l Layer, in []int) ([]int, error) {
			if err := needMaps(in); err != nil {
				return nil, err
			}
			oh, ow := in[1]+2*l.Pad-l.K+1, in[2]+2*l.Pad-l.K+1
			if oh < 1 || ow < 1 {
				return nil, fmt.Errorf("does not fit a %dx%d input", in[1], in[2])
			}
			return []int{l.N, oh, ow}, nil
		},
		init: func(m *Model, u *unit, rng *rand.Rand) {
			u.conv = m.newConv(u.name, rng, u.N, u.in[0], u.K)
		},
	},
	{
		kind: KindReLU, names: []string{"relu"}, syntax: "relu",
	},
	{
		kind: KindReLU6, names: []string{"relu6"}, syntax: "relu6",
	},
	{
		kind: KindMaxPool, names: []string{"maxpool", "pool"}, syntax: "maxpool[:K]",
		parse: func(item, name string, args []string) ([]Layer, error) {
			v, err := specInts(item, name, args, 0, 1)
			if err != nil {
				return nil, err
			}
			l := MaxPool(2)
			if len(v) == 1 {
				l.K = v[0]
			}
			if l.K < 1 {
				return nil, fmt.Errorf("layer %q: pool window must be at least 1", item)
			}
			return []Layer{l}, nil
		},
		format: func(l Layer) string { return fmt.Sprintf("maxpool:%d", l.K) },
		output: func(l Layer, in []int) ([]int, error) {
			if err := needMaps(in); err != nil {
				return nil, err
			}
			if in[1] < l.K || in[2] < l.K {
				return nil, fmt.Errorf("does not fit a %dx%d input", in[1], in[2])
			}
			return []int{in[0], in[1] / l.K, in[2] / l.K}, nil
		},
	},
	{
		kind: KindDropout, names: []string{"dropout"}, syntax: "dropout:P",
		parse: func(item, _ string, args []string) ([]Layer, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("layer %q: want dropout:P", item)
			}
			p, err := strconv.ParseFloat(args[0], 64)
			if err != nil || p < 0 || p >= 1 {
				return nil, fmt.Errorf("layer %q: dropout probability must be in [0, 1)", item)
			}
			return []Layer{Dropout(p)}, nil
		},
		format: func(l Layer) string { return "dropout:" + strconv.FormatFloat(l.P, 'g', -1, 64) },
	},
	{
		kind: KindBatchNorm, names: []string{"batchnorm", "bn"}, syntax: "batchnorm",
		weights: func(_ Layer, in []int) int64 { return 4 * int64(in[0]) },
		init: func(m *Model, u *unit, _ *rand.Rand) {
			u.bn = m.newBN(u.name, u.in[0])
		},
	},
	{
		kind: KindFlatten, names: []string{"flatten"}, syntax: "flatten",
		output: func(_ Layer, in []int) ([]int, error) { return []int{prod(in)}, nil },
	},
	{
		kind: KindGlobalAvgPool, names: []string{"gap", "globalavgpool"}, syntax: "gap",
		output: func(_ Layer, in []int) ([]int, error) {
			if err := needMaps(in); err != nil {
				return nil, err
			}
			return []int{in[0]}, nil
		},
	},
	{
		kind: KindDense, names: []string{"dense"}, syntax: "dense:N[:relu|:sigmoid]",
		parse:  parseDense,
		format: func(l Layer) string { return fmt.Sprintf("dense:%d", l.N) },
		weights: func(l Layer, in []int) int64 {
			return int64(l.N) * (int64(in[0]) + 1)
		},
		output: func(l Layer, in []int) ([]int, error) {
			if len(in) != 1 {
				return nil, fmt.Errorf("needs a vector input, got %v: add flatten or gap before it", in)
			}
			return []int{l.N}, nil
		},
		init: func(m *Model, u *unit, rng *rand.Rand) {
			u.conv = m.newDense(u.name, rng, u.in[0], u.N)
		},
	},
	{
		kind: KindSigmoid, names: []string{"sigmoid"}, syntax: "sigmoid",
	},
	{
		kind: KindResidual, names: []string{"residual", "res"}, syntax: "residual:N",
		parse: func(item, name string, args []string) ([]Layer, error) {
			v, err := specInts(item, name, args, 1, 1)
			if err != nil {
				return nil, err
			}
			if v[0] < 1 {
				return nil, fmt.Errorf("layer %q: residual needs at least 1 channel", item)
			}
			return []Layer{Residual(v[0])}, nil
		},
		format: func(l Layer) string { return fmt.Sprintf("residual:%d", l.N) },
		weights: func(l Layer, in []int) int64 {
			c, n := int64(in[0]), int64(l.N)
			p := n*(c*9+1) + n*(n*9+1) + 8*n
			if c != n {
				p += n * (c + 1)
			}
			return p
		},
		output: func(l Layer, in []int) ([]int, error) {
			if err := needMaps(in); err != nil {
				return nil, err
			}
			return []int{l.N, in[1], in[2]}, nil
		},
		init: func(m *Model, u *unit, rng *rand.Rand) {
			c := u.in[0]
			u.conv = m.newConv(u.name+".conv1", rng, u.N, c, 3)
			u.bn = m.newBN(u.name+".bn1", u.N)
			u.conv2 = m.newConv(u.name+".conv2", rng, u.N, u.N, 3)
			u.bn2 = m.newBN(u.name+".bn2", u.N)
			if c != u.N {
				u.proj = m.newConv(u.name+".proj", rng, u.N, c, 1)
			}
		},
	},
}

// kindOf returns the description of kind k, or nil for a kind finetune does not know.
func kindOf(k Kind) *kindInfo {
	for i := range kinds {
		if kinds[i].kind == k {
			return &kinds[i]
		}
	}
	return nil
}

// kindNamed returns the kind ParseLayers reads for name (lower case), or nil.
func kindNamed(name string) *kindInfo {
	for i := range kinds {
		for _, n := range kinds[i].names {
			if n == name {
				return &kinds[i]
			}
		}
	}
	return nil
}

// kindSyntax lists every kind's item, as the unknown-layer error shows them.
func kindSyntax() string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = k.syntax
	}
	return strings.Join(s, ", ")
}

// needMaps refuses an input that is not (C, H, W).
func needMaps(in []int) error {
	if len(in) != 3 {
		return fmt.Errorf("needs (C, H, W) input, got %v", in)
	}
	return nil
}

// specInts reads the arguments of item (named name) as min to max non-negative whole
// numbers.
func specInts(item, name string, args []string, min, max int) ([]int, error) {
	if len(args) < min || len(args) > max {
		return nil, fmt.Errorf("layer %q: want %d to %d numbers after %q", item, min, max, name)
	}
	v := make([]int, len(args))
	for i, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("layer %q: %q is not a non-negative whole number", item, a)
		}
		v[i] = n
	}
	return v, nil
}

// parseConv reads conv:N[:K[:PAD]]: N filters of K×K (default 3), padding PAD (default K/2).
func parseConv(item, name string, args []string) ([]Layer, error) {
	v, err := specInts(item, name, args, 1, 3)
	if err != nil {
		return nil, err
	}
	l := Conv(v[0], 3, 1)
	if len(v) > 1 {
		l.K, l.Pad = v[1], v[1]/2
	}
	if len(v) > 2 {
		l.Pad = v[2]
	}
	if l.N < 1 || l.K < 1 {
		return nil, fmt.Errorf("layer %q: conv needs at least 1 filter of side at least 1", item)
	}
	return []Layer{l}, nil
}

// parseDense reads dense:N[:relu|:sigmoid]: N units, then the activation when one is named.
func parseDense(item, name string, args []string) ([]Layer, error) {
	var act string
	if len(args) == 2 {
		act, args = strings.ToLower(args[1]), args[:1]
	}
	v, err := specInts(item, name, args, 1, 1)
	if err != nil {
		return nil, err
	}
	if v[0] < 1 {
		return nil, fmt.Errorf("layer %q: dense needs at least 1 unit", item)
	}
	switch act {
	case "":
		return []Layer{Dense(v[0])}, nil
	case "relu":
		return []Layer{Dense(v[0]), ReLU()}, nil
	case "sigmoid":
		return []Layer{Dense(v[0]), Sigmoid()}, nil
	}
	return nil, fmt.Errorf("layer %q: unknown activation %q (want relu or sigmoid)", item, act)
}
