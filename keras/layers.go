package keras

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// layerFunc converts one call of a layer class.
type layerFunc func(l *layerCtx, in []tensor) (tensor, error)

// layerKinds holds every Keras layer class the converter knows: one function per class,
// the one place to look when adding a layer.
var layerKinds = map[string]layerFunc{
	"Conv2D":                 conv2D,
	"Convolution2D":          conv2D,
	"DepthwiseConv2D":        depthwiseConv2D,
	"SeparableConv2D":        separableConv2D,
	"SeparableConvolution2D": separableConv2D,
	"Dense":                  dense,
	"BatchNormalization":     batchNorm,
	"Activation":             activationLayer,
	"ReLU":                   reluLayer,
	"LeakyReLU":              leakyReLU,
	"ELU":                    eluLayer,
	"Softmax":                softmaxLayer,
	"MaxPooling2D":           pool2D("MaxPool"),
	"MaxPool2D":              pool2D("MaxPool"),
	"AveragePooling2D":       pool2D("AveragePool"),
	"AvgPool2D":              pool2D("AveragePool"),
	"GlobalAveragePooling2D": globalPool("GlobalAveragePool"),
	"GlobalAvgPool2D":        globalPool("GlobalAveragePool"),
	"GlobalMaxPooling2D":     globalPool("GlobalMaxPool"),
	"GlobalMaxPool2D":        globalPool("GlobalMaxPool"),
	"ZeroPadding2D":          zeroPadding2D,
	"Flatten":                flatten,
	"Reshape":                reshape,
	"Permute":                permute,
	"Rescaling":              rescaling,
	"Add":                    merge("Add"),
	"Subtract":               merge("Sub"),
	"Multiply":               merge("Mul"),
	"Average":                merge("Mean"),
	"Maximum":                merge("Max"),
	"Minimum":                merge("Min"),
	"Concatenate":            concatenate,
	"Dropout":                passThrough,
	"SpatialDropout2D":       passThrough,
	"GaussianNoise":          passThrough,
	"GaussianDropout":        passThrough,
	"AlphaDropout":           passThrough,
	"ActivityRegularization": passThrough,
}

// pair is a Keras size argument: one number for both axes, or [h, w].
type pair [2]int64

func (p *pair) UnmarshalJSON(b []byte) error {
	var one int64
	if json.Unmarshal(b, &one) == nil {
		*p = pair{one, one}
		return nil
	}
	var two []int64
	if err := json.Unmarshal(b, &two); err != nil || len(two) == 0 || len(two) > 2 {
		return fmt.Errorf("want a number or two, got %s", b)
	}
	if len(two) == 1 {
		two = append(two, two[0])
	}
	*p = pair{two[0], two[1]}
	return nil
}

func (p pair) or(def int64) pair {
	for i := range p {
		if p[i] == 0 {
			p[i] = def
		}
	}
	return p
}

// spatial is what convolutions and poolings share.
type spatial struct {
	Padding    string `json:"padding"`
	Strides    *pair  `json:"strides"`
	Dilation   *pair  `json:"dilation_rate"`
	DataFormat string `json:"data_format"`
}

// imageInput returns x stored NCHW as the layer's data_format needs.
func (l *layerCtx) imageInput(x tensor, format string) (tensor, error) {
	if x.rank() != 4 {
		return tensor{}, fmt.Errorf("wants a 4-D input (batch, height, width, channels), got %d-D", x.rank())
	}
	switch format {
	case "", "channels_last":
		return l.c.as(x, channelsFirst()), nil
	case "channels_first":
		return l.c.as(x, nil), nil
	}
	return tensor{}, fmt.Errorf("data_format %q: want channels_last or channels_first", format)
}

// hw returns the Keras axes of height, width and channels for a data format.
func hw(format string) (h, w, ch int) {
	if format == "channels_first" {
		return 2, 3, 1
	}
	return 1, 2, 3
}

// window computes the ONNX attributes of a sliding window (Conv, MaxPool, AveragePool) with
// kernel k, the spatial settings s, over an input of height and width in (-1: unknown), and
// the output height and width. Keras "same" pads (k-1)*d in all; when that is odd the extra
// row and column go to the bottom and right, as ONNX's SAME_UPPER does: explicit pads at
// stride 1 (the same for every size), SAME_UPPER otherwise (they depend on the size).
func window(l *layerCtx, k pair, s spatial, in [2]int64) (map[string]any, [2]int64, error) {
	strides, dil := pair{1, 1}, pair{1, 1}
	if s.Strides != nil {
		strides = s.Strides.or(1)
	}
	if s.Dilation != nil {
		dil = s.Dilation.or(1)
	}
	attrs := map[string]any{"kernel_shape": []int64{k[0], k[1]}, "strides": []int64{strides[0], strides[1]}}
	if dil != (pair{1, 1}) {
		attrs["dilations"] = []int64{dil[0], dil[1]}
	}
	var out [2]int64
	switch s.Padding {
	case "valid", "":
		attrs["pads"] = []int64{0, 0, 0, 0}
		for i := range 2 {
			out[i] = -1
			if in[i] > 0 {
				out[i] = (in[i]-(k[i]-1)*dil[i]-1)/strides[i] + 1
				if out[i] < 1 {
					return nil, out, fmt.Errorf("a %dx%d window does not fit a %dx%d input", k[0], k[1], in[0], in[1])
				}
			}
		}
	case "same":
		for i := range 2 {
			out[i] = -1
			if in[i] > 0 {
				out[i] = (in[i] + strides[i] - 1) / strides[i]
			}
		}
		if strides == (pair{1, 1}) {
			var pads [4]int64
			for i := range 2 {
				total := (k[i] - 1) * dil[i]
				pads[i], pads[i+2] = total/2, total-total/2
			}
			attrs["pads"] = pads[:]
		} else {
			attrs["auto_pad"] = "SAME_UPPER"
		}
	default:
		return nil, out, l.unsupported("padding %q", s.Padding)
	}
	return attrs, out, nil
}

// activation applies Keras activation act to x; the last node gets the name out.
func (l *layerCtx) activation(x tensor, act, out string) (tensor, error) {
	c := l.c
	y := x
	y.name = out
	switch act {
	case "linear", "":
		c.node(out, "Identity", []string{x.name}, nil)
	case "relu":
		c.node(out, "Relu", []string{x.name}, nil)
	case "relu6":
		c.node(out, "Clip", []string{x.name, c.scalar(0), c.scalar(6)}, nil)
	case "sigmoid":
		c.node(out, "Sigmoid", []string{x.name}, nil)
	case "hard_sigmoid":
		// Keras 2 and TensorFlow.js: clip(0.2x + 0.5); Keras 3: relu6(x + 3)/6.
		alpha := float32(0.2)
		if strings.HasPrefix(c.m.KerasVersion, "3") {
			alpha = 1.0 / 6
		}
		c.node(out, "HardSigmoid", []string{x.name}, map[string]any{"alpha": alpha, "beta": float32(0.5)})
	case "tanh":
		c.node(out, "Tanh", []string{x.name}, nil)
	case "softmax":
		c.node(out, "Softmax", []string{x.name}, map[string]any{"axis": int64(x.axis(x.rank() - 1))})
	case "softplus":
		c.node(out, "Softplus", []string{x.name}, nil)
	case "softsign":
		c.node(out, "Softsign", []string{x.name}, nil)
	case "elu":
		c.node(out, "Elu", []string{x.name}, map[string]any{"alpha": float32(1)})
	case "selu":
		c.node(out, "Selu", []string{x.name}, map[string]any{"alpha": float32(1.6732632423543772), "gamma": float32(1.0507009873554805)})
	case "exponential":
		c.node(out, "Exp", []string{x.name}, nil)
	case "swish", "silu":
		s := c.node(l.name("sigmoid"), "Sigmoid", []string{x.name}, nil)
		c.node(out, "Mul", []string{x.name, s}, nil)
	case "gelu":
		// 0.5·x·(1 + erf(x/√2)), Keras's exact form.
		d := c.node(l.name("div"), "Div", []string{x.name, c.scalar(float32(math.Sqrt2))}, nil)
		e := c.node(l.name("erf"), "Erf", []string{d}, nil)
		a := c.node(l.name("add"), "Add", []string{e, c.scalar(1)}, nil)
		m := c.node(l.name("mul"), "Mul", []string{x.name, a}, nil)
		c.node(out, "Mul", []string{m, c.scalar(0.5)}, nil)
	default:
		return tensor{}, l.unsupported("activation %q", act)
	}
	return y, nil
}

// activated names the node before an activation: the layer's name when there is none.
func (l *layerCtx) activated(act, what string) string {
	if act == "linear" || act == "" {
		return l.out
	}
	return l.name(what)
}

// finish applies the layer's activation to y, produced under the name l.activated gave.
func (l *layerCtx) finish(y tensor, act string) (tensor, error) {
	if act == "linear" || act == "" {
		return y, nil
	}
	return l.activation(y, act, l.out)
}

type convConfig struct {
	spatial
	Filters         int64  `json:"filters"`
	KernelSize      pair   `json:"kernel_size"`
	Activation      string `json:"activation"`
	UseBias         *bool  `json:"use_bias"`
	Groups          int64  `json:"groups"`
	DepthMultiplier int64  `json:"depth_multiplier"`
}

func (cc convConfig) bias() bool { return cc.UseBias == nil || *cc.UseBias }

// convWeights turns a Keras kernel (kh, kw, in, out) into ONNX's (out, in, kh, kw).
func convWeights(k []float32, kh, kw, in, out int) []float32 {
	w := make([]float32, len(k))
	for y := range kh {
		for x := range kw {
			for i := range in {
				for o := range out {
					w[((o*in+i)*kh+y)*kw+x] = k[((y*kw+x)*in+i)*out+o]
				}
			}
		}
	}
	return w
}

// depthwiseWeights turns a Keras depthwise kernel (kh, kw, in, mult) into ONNX's grouped
// (in*mult, 1, kh, kw): output channel c*mult+m filters input channel c.
func depthwiseWeights(k []float32, kh, kw, in, mult int) []float32 {
	w := make([]float32, len(k))
	for y := range kh {
		for x := range kw {
			for c := range in {
				for m := range mult {
					w[((c*mult+m)*kh+y)*kw+x] = k[((y*kw+x)*in+c)*mult+m]
				}
			}
		}
	}
	return w
}

// convolve adds a Conv node over x (stored NCHW) with Keras settings, returning the output
// tensor (Keras shape in the layer's data format).
func (l *layerCtx) convolve(x tensor, cc convConfig, weight string, dims []int64, bias string, group int64, out string) (tensor, error) {
	h, wd, ch := hw(cc.DataFormat)
	attrs, size, err := window(l, pair{dims[2], dims[3]}, cc.spatial, [2]int64{x.shape[h], x.shape[wd]})
	if err != nil {
		return tensor{}, err
	}
	if group > 1 {
		attrs["group"] = group
	}
	inputs := []string{x.name, weight}
	if bias != "" {
		inputs = append(inputs, bias)
	}
	l.c.node(out, "Conv", inputs, attrs)
	y := tensor{name: out, shape: slices.Clone(x.shape), perm: x.perm}
	y.shape[h], y.shape[wd], y.shape[ch] = size[0], size[1], dims[0]
	return y, nil
}

// convInput reads a convolution's config and brings its input to NCHW storage; cin is the
// number of input channels.
func convInput(l *layerCtx, in []tensor) (cc convConfig, x tensor, cin int, err error) {
	if err = l.config(&cc); err != nil {
		return
	}
	if x, err = l.imageInput(in[0], cc.DataFormat); err != nil {
		return
	}
	_, _, ch := hw(cc.DataFormat)
	cin = int(x.shape[ch])
	if cin < 1 {
		err = fmt.Errorf("the number of input channels is unknown")
	}
	return
}

// bias returns the initializer of the layer's bias of n values, or "" when it has none.
func (l *layerCtx) bias(cc convConfig, n int) (string, error) {
	if !cc.bias() {
		return "", nil
	}
	b, err := l.weight("bias", n)
	if err != nil {
		return "", err
	}
	return l.init(b, "", []int64{int64(n)}, b.Data), nil
}

func conv2D(l *layerCtx, in []tensor) (tensor, error) {
	cc, x, cin, err := convInput(l, in)
	if err != nil {
		return tensor{}, err
	}
	groups := max(cc.Groups, 1)
	if int64(cin)%groups != 0 {
		return tensor{}, fmt.Errorf("%d input channels in %d groups", cin, groups)
	}
	kh, kw, per, out := int(cc.KernelSize[0]), int(cc.KernelSize[1]), cin/int(groups), int(cc.Filters)
	k, err := l.weight("kernel", kh, kw, per, out)
	if err != nil {
		return tensor{}, err
	}
	dims := []int64{int64(out), int64(per), int64(kh), int64(kw)}
	wName := l.init(k, "oihw", dims, convWeights(k.Data, kh, kw, per, out))
	bName, err := l.bias(cc, out)
	if err != nil {
		return tensor{}, err
	}
	y, err := l.convolve(x, cc, wName, dims, bName, groups, l.activated(cc.Activation, "conv"))
	if err != nil {
		return tensor{}, err
	}
	return l.finish(y, cc.Activation)
}

// depthwise adds the depthwise convolution of x (a DepthwiseConv2D, or the first half of a
// SeparableConv2D) with bias bias (a weight name, or "" for none) and returns it.
func depthwise(l *layerCtx, cc convConfig, x tensor, cin int, bias bool, out string) (tensor, error) {
	mult := int(max(cc.DepthMultiplier, 1))
	kh, kw := int(cc.KernelSize[0]), int(cc.KernelSize[1])
	k, err := l.weight("depthwise_kernel", kh, kw, cin, mult)
	if err != nil {
		return tensor{}, err
	}
	dims := []int64{int64(cin * mult), 1, int64(kh), int64(kw)}
	wName := l.init(k, "depthwise", dims, depthwiseWeights(k.Data, kh, kw, cin, mult))
	bName := ""
	if bias {
		if bName, err = l.bias(cc, cin*mult); err != nil {
			return tensor{}, err
		}
	}
	return l.convolve(x, cc, wName, dims, bName, int64(cin), out)
}

func depthwiseConv2D(l *layerCtx, in []tensor) (tensor, error) {
	cc, x, cin, err := convInput(l, in)
	if err != nil {
		return tensor{}, err
	}
	y, err := depthwise(l, cc, x, cin, true, l.activated(cc.Activation, "depthwise"))
	if err != nil {
		return tensor{}, err
	}
	return l.finish(y, cc.Activation)
}

func separableConv2D(l *layerCtx, in []tensor) (tensor, error) {
	cc, x, cin, err := convInput(l, in)
	if err != nil {
		return tensor{}, err
	}
	d, err := depthwise(l, cc, x, cin, false, l.name("depthwise"))
	if err != nil {
		return tensor{}, err
	}
	mid, out := cin*int(max(cc.DepthMultiplier, 1)), int(cc.Filters)
	pk, err := l.weight("pointwise_kernel", 1, 1, mid, out)
	if err != nil {
		return tensor{}, err
	}
	dims := []int64{int64(out), int64(mid), 1, 1}
	pName := l.init(pk, "oihw", dims, convWeights(pk.Data, 1, 1, mid, out))
	bName, err := l.bias(cc, out)
	if err != nil {
		return tensor{}, err
	}
	point := cc
	point.spatial = spatial{Padding: "valid", DataFormat: cc.DataFormat}
	y, err := l.convolve(d, point, pName, dims, bName, 1, l.activated(cc.Activation, "pointwise"))
	if err != nil {
		return tensor{}, err
	}
	return l.finish(y, cc.Activation)
}

func dense(l *layerCtx, in []tensor) (tensor, error) {
	var cfg struct {
		Units      int64  `json:"units"`
		Activation string `json:"activation"`
		UseBias    *bool  `json:"use_bias"`
	}
	if err := l.config(&cfg); err != nil {
		return tensor{}, err
	}
	x := l.c.as(in[0], nil)
	din := x.shape[x.rank()-1]
	if din < 1 {
		return tensor{}, fmt.Errorf("input shape %v: the last dimension is unknown", x.shape)
	}
	k, err := l.weight("kernel", int(din), int(cfg.Units))
	if err != nil {
		return tensor{}, err
	}
	wName := l.init(k, "", []int64{din, cfg.Units}, k.Data)
	bName := ""
	if cfg.UseBias == nil || *cfg.UseBias {
		b, err := l.weight("bias", int(cfg.Units))
		if err != nil {
			return tensor{}, err
		}
		bName = l.init(b, "", []int64{cfg.Units}, b.Data)
	}
	y := tensor{name: l.activated(cfg.Activation, "dense"), shape: slices.Clone(x.shape)}
	y.shape[y.rank()-1] = cfg.Units
	if x.rank() == 2 {
		inputs := []string{x.name, wName}
		if bName != "" {
			inputs = append(inputs, bName)
		}
		l.c.node(y.name, "Gemm", inputs, nil)
	} else if bName == "" {
		l.c.node(y.name, "MatMul", []string{x.name, wName}, nil)
	} else {
		m := l.c.node(l.name("matmul"), "MatMul", []string{x.name, wName}, nil)
		l.c.node(y.name, "Add", []string{m, bName}, nil)
	}
	return l.finish(y, cfg.Activation)
}

func batchNorm(l *layerCtx, in []tensor) (tensor, error) {
	var cfg struct {
		Axis    json.RawMessage `json:"axis"`
		Epsilon *float64        `json:"epsilon"`
		Center  *bool           `json:"center"`
		Scale   *bool           `json:"scale"`
	}
	if err := l.config(&cfg); err != nil {
		return tensor{}, err
	}
	x := in[0]
	axis := -1
	if len(cfg.Axis) > 0 {
		var one int
		var list []int
		switch {
		case json.Unmarshal(cfg.Axis, &one) == nil:
			axis = one
		case json.Unmarshal(cfg.Axis, &list) == nil && len(list) == 1:
			axis = list[0]
		default:
			return tensor{}, l.unsupported("axis %s", cfg.Axis)
		}
	}
	if axis < 0 {
		axis += x.rank()
	}
	if axis < 1 || axis >= x.rank() {
		return tensor{}, fmt.Errorf("axis %d out of range for a %d-D input", axis, x.rank())
	}
	c := int(x.shape[axis])
	if c < 1 {
		return tensor{}, fmt.Errorf("the size of axis %d is unknown", axis)
	}
	eps := 1e-3
	if cfg.Epsilon != nil {
		eps = *cfg.Epsilon
	}
	get := func(what string, on *bool, def float32) (*Weight, []float32, error) {
		if on != nil && !*on {
			v := make([]float32, c)
			for i := range v {
				v[i] = def
			}
			return nil, v, nil
		}
		w, err := l.weight(what, c)
		if err != nil {
			return nil, nil, err
		}
		return w, w.Data, nil
	}
	gw, gamma, err := get("gamma", cfg.Scale, 1)
	if err != nil {
		return tensor{}, err
	}
	bw, beta, err := get("beta", cfg.Center, 0)
	if err != nil {
		return tensor{}, err
	}
	mw, mean, err := get("moving_mean", nil, 0)
	if err != nil {
		return tensor{}, err
	}
	vw, variance, err := get("moving_variance", nil, 1)
	if err != nil {
		return tensor{}, err
	}
	y := tensor{name: l.out, shape: x.shape, perm: x.perm}
	if x.axis(axis) == 1 {
		named := func(w *Weight, what string, v []float32) string {
			if w == nil {
				return l.c.init(mw.Name+" "+what+" default", l.path, l.keras+"/"+what, []int64{int64(c)}, v)
			}
			return l.init(w, "", []int64{int64(c)}, v)
		}
		l.c.node(l.out, "BatchNormalization", []string{x.name, named(gw, "gamma", gamma), named(bw, "beta", beta),
			named(mw, "moving_mean", mean), named(vw, "moving_variance", variance)}, map[string]any{"epsilon": float32(eps)})
		return y, nil
	}
	// The normalised axis is not ONNX's channel axis: scale and shift, broadcast along it.
	a, b := make([]float32, c), make([]float32, c)
	for i := range c {
		s := float64(gamma[i]) / math.Sqrt(float64(variance[i])+eps)
		a[i], b[i] = float32(s), float32(float64(beta[i])-float64(mean[i])*s)
	}
	dims := make([]int64, x.rank())
	for i := range dims {
		dims[i] = 1
	}
	dims[x.axis(axis)] = int64(c)
	an := l.c.init(mw.Name+" folded scale", l.path, l.keras+"/scale", dims, a)
	bn := l.c.init(mw.Name+" folded shift", l.path, l.keras+"/shift", dims, b)
	m := l.c.node(l.name("mul"), "Mul", []string{x.name, an}, nil)
	l.c.node(l.out, "Add", []string{m, bn}, nil)
	return y, nil
}

func activationLayer(l *layerCtx, in []tensor) (tensor, error) {
	var cfg struct {
		Activation string `json:"activation"`
	}
	if err := l.config(&cfg); err != nil {
		return tensor{}, err
	}
	return l.activation(in[0], cfg.Activation, l.out)
}

func reluLayer(l *layerCtx, in []tensor) (tensor, error) {
	var cfg struct {
		MaxValue      *float64 `json:"max_value"`
		NegativeSlope float64  `json:"negative_slope"`
		Threshold     float64  `json:"threshold"`
	}
	if err := l.config(&cfg); err != nil {
		return tensor{}, err
	}
	x := in[0]
	y := tensor{name: l.out, shape: x.shape, perm: x.perm}
	c := l.c
	switch {
	case cfg.Threshold != 0:
		// x >= threshold ? x : slope·(x - threshold), then at most max_value.
		out := l.activated(maxText(cfg.MaxValue), "relu")
		ge := c.node(l.name("ge"), "GreaterOrEqual", []string{x.name, c.scalar(float32(cfg.Threshold))}, nil)
		below := c.scalar(0)
		if cfg.NegativeSlope != 0 {
			d := c.node(l.name("sub"), "Sub", []string{x.name, c.scalar(float32(cfg.Threshold))}, nil)
			below = c.node(l.name("slope"), "Mul", []string{d, c.scalar(float32(cfg.NegativeSlope))}, nil)
		}
		c.node(out, "Where", []string{ge, x.name, below}, nil)
		if cfg.MaxValue != nil {
			c.node(l.out, "Clip", []string{out, "", c.scalar(float32(*cfg.MaxValue))}, nil)
		}
	case cfg.NegativeSlope != 0 && cfg.MaxValue != nil:
		lr := c.node(l.name("leaky"), "LeakyRelu", []string{x.name}, map[string]any{"alpha": float32(cfg.NegativeSlope)})
		c.node(l.out, "Clip", []string{lr, "", c.scalar(float32(*cfg.MaxValue))}, nil)
	case cfg.NegativeSlope != 0:
		c.node(l.out, "LeakyRelu", []string{x.name}, map[string]any{"alpha": float32(cfg.NegativeSlope)})
	case cfg.MaxValue != nil:
		c.node(l.out, "Clip", []string{x.name, c.scalar(0), c.scalar(float32(*cfg.MaxValue))}, nil)
	default:
		c.node(l.out, "Relu", []string{x.name}, nil)
	}
	return y, nil
}

// maxText is "clip" when there is a max_value (another node follows), else "".
func maxText(max *float64) string {
	if max != nil {
		return "clip"
	}
	return ""
}

func leakyReLU(l *layerCtx, in []tensor) (tensor, error) {
	var cfg struct {
		Alpha         *float64 `json:"alpha"`
		NegativeSlope *float64 `json:"negative_slope"` // Keras 3
	}
	if err := l.config(&cfg); err != nil {
		return tensor{}, err
	}
	alpha := 0.3
	switch {
	case cfg.Alpha != nil:
		alpha = *cfg.Alpha
	case cfg.NegativeSlope != nil:
		alpha = *cfg.NegativeSlope
	}
	x := in[0]
	l.c.node(l.out, "LeakyRelu", []string{x.name}, map[string]any{"alpha": float32(alpha)})
	return tensor{name: l.out, shape: x.shape, perm: x.perm}, nil
}

func eluLayer(l *layerCtx, in []tensor) (tensor, error) {
	var cfg struct {
		Alpha *float64 `json:"alpha"`
	}
	if err := l.config(&cfg); err != nil {
		return tensor{}, err
	}
	alpha := 1.0
	if cfg.Alpha != nil {
		alpha = *cfg.Alpha
	}
	x := in[0]
	l.c.node(l.out, "Elu", []string{x.name}, map[string]any{"alpha": float32(alpha)})
	return tensor{name: l.out, shape: x.shape, perm: x.perm}, nil
}

func softmaxLayer(l *layerCtx, in []tensor) (tensor, error) {
	var cfg struct {
		Axis *int `json:"axis"`
	}
	if err := l.config(&cfg); err != nil {
		return tensor{}, err
	}
	x := in[0]
	axis := x.rank() - 1
	if cfg.Axis != nil {
		axis = *cfg.Axis
		if axis < 0 {
			axis += x.rank()
		}
	}
	if axis < 1 || axis >= x.rank() {
		return tensor{}, fmt.Errorf("axis out of range for a %d-D input", x.rank())
	}
	l.c.node(l.out, "Softmax", []string{x.name}, map[string]any{"axis": int64(x.axis(axis))})
	return tensor{name: l.out, shape: x.shape, perm: x.perm}, nil
}

// pool2D converts MaxPooling2D and AveragePooling2D (padded cells never counted: ONNX's
// count_include_pad is 0, as Keras does).
func pool2D(op string) layerFunc {
	return func(l *layerCtx, in []tensor) (tensor, error) {
		var cfg struct {
			spatial
			PoolSize pair `json:"pool_size"`
		}
		if err := l.config(&cfg); err != nil {
			return tensor{}, err
		}
		k := cfg.PoolSize.or(2)
		if cfg.Strides == nil {
			cfg.Strides = &k
		}
		cfg.Dilation = nil
		x, err := l.imageInput(in[0], cfg.DataFormat)
		if err != nil {
			return tensor{}, err
		}
		h, w, _ := hw(cfg.DataFormat)
		attrs, size, err := window(l, k, cfg.spatial, [2]int64{x.shape[h], x.shape[w]})
		if err != nil {
			return tensor{}, err
		}
		l.c.node(l.out, op, []string{x.name}, attrs)
		y := tensor{name: l.out, shape: slices.Clone(x.shape), perm: x.perm}
		y.shape[h], y.shape[w] = size[0], size[1]
		return y, nil
	}
}

func globalPool(op string) layerFunc {
	return func(l *layerCtx, in []tensor) (tensor, error) {
		var cfg struct {
			DataFormat string `json:"data_format"`
			KeepDims   bool   `json:"keepdims"`
		}
		if err := l.config(&cfg); err != nil {
			return tensor{}, err
		}
		x, err := l.imageInput(in[0], cfg.DataFormat)
		if err != nil {
			return tensor{}, err
		}
		h, w, ch := hw(cfg.DataFormat)
		if cfg.KeepDims {
			l.c.node(l.out, op, []string{x.name}, nil)
			y := tensor{name: l.out, shape: slices.Clone(x.shape), perm: x.perm}
			y.shape[h], y.shape[w] = 1, 1
			return y, nil
		}
		p := l.c.node(l.name("pool"), op, []string{x.name}, nil)
		l.c.node(l.out, "Flatten", []string{p}, map[string]any{"axis": int64(1)})
		return tensor{name: l.out, shape: []int64{x.shape[0], x.shape[ch]}}, nil
	}
}

func zeroPadding2D(l *layerCtx, in []tensor) (tensor, error) {
	var cfg struct {
		Padding    json.RawMessage `json:"padding"`
		DataFormat string          `json:"data_format"`
	}
	if err := l.config(&cfg); err != nil {
		return tensor{}, err
	}
	var top, bottom, left, right int64
	var one int64
	var two []int64
	var four [][]int64
	switch {
	case len(cfg.Padding) == 0:
		top, bottom, left, right = 1, 1, 1, 1
	case json.Unmarshal(cfg.Padding, &one) == nil:
		top, bottom, left, right = one, one, one, one
	case json.Unmarshal(cfg.Padding, &two) == nil && len(two) == 2:
		top, bottom, left, right = two[0], two[0], two[1], two[1]
	case json.Unmarshal(cfg.Padding, &four) == nil && len(four) == 2 && len(four[0]) == 2 && len(four[1]) == 2:
		top, bottom, left, right = four[0][0], four[0][1], four[1][0], four[1][1]
	default:
		return tensor{}, fmt.Errorf("padding %s: want n, [h, w] or [[top, bottom], [left, right]]", cfg.Padding)
	}
	x, err := l.imageInput(in[0], cfg.DataFormat)
	if err != nil {
		return tensor{}, err
	}
	pads := l.c.ints(l.keras+"/pads", []int64{0, 0, top, left, 0, 0, bottom, right})
	l.c.node(l.out, "Pad", []string{x.name, pads}, map[string]any{"mode": "constant"})
	h, w, _ := hw(cfg.DataFormat)
	y := tensor{name: l.out, shape: slices.Clone(x.shape), perm: x.perm}
	if y.shape[h] > 0 {
		y.shape[h] += top + bottom
	}
	if y.shape[w] > 0 {
		y.shape[w] += left + right
	}
	return y, nil
}

func flatten(l *layerCtx, in []tensor) (tensor, error) {
	var cfg struct {
		DataFormat string `json:"data_format"`
	}
	if err := l.config(&cfg); err != nil {
		return tensor{}, err
	}
	x := in[0]
	order := identity(x.rank())
	if cfg.DataFormat == "channels_first" && x.rank() > 2 {
		// Keras flattens channels-first tensors in channels-last order.
		order = append(append([]int{0}, identity(x.rank())[2:]...), 1)
	}
	x = l.c.as(x, order)
	n := int64(1)
	for _, d := range x.shape[1:] {
		if d < 0 {
			n = -1
			break
		}
		n *= d
	}
	l.c.node(l.out, "Flatten", []string{x.name}, map[string]any{"axis": int64(1)})
	return tensor{name: l.out, shape: []int64{x.shape[0], n}}, nil
}

func reshape(l *layerCtx, in []tensor) (tensor, error) {
	var cfg struct {
		TargetShape []int64 `json:"target_shape"`
	}
	if err := l.config(&cfg); err != nil {
		return tensor{}, err
	}
	if len(cfg.TargetShape) == 0 {
		return tensor{}, fmt.Errorf("no target_shape")
	}
	x := l.c.as(in[0], nil)
	total := int64(1)
	for _, d := range x.shape[1:] {
		if d < 0 {
			total = -1
			break
		}
		total *= d
	}
	shape := append([]int64{x.shape[0]}, cfg.TargetShape...)
	free, known := -1, int64(1)
	for i, d := range cfg.TargetShape {
		switch {
		case d == -1 && free < 0:
			free = i + 1
		case d < 1:
			return tensor{}, fmt.Errorf("target_shape %v", cfg.TargetShape)
		default:
			known *= d
		}
	}
	if free > 0 && total > 0 {
		shape[free] = total / known
	}
	if total > 0 && free < 0 && known != total {
		return tensor{}, fmt.Errorf("cannot reshape %v to %v", x.shape[1:], cfg.TargetShape)
	}
	s := l.c.ints(l.keras+"/shape", append([]int64{0}, cfg.TargetShape...))
	l.c.node(l.out, "Reshape", []string{x.name, s}, nil)
	return tensor{name: l.out, shape: shape}, nil
}

// permute reorders the Keras axes: only how the stored tensor is read changes.
func permute(l *layerCtx, in []tensor) (tensor, error) {
	var cfg struct {
		Dims []int `json:"dims"`
	}
	if err := l.config(&cfg); err != nil {
		return tensor{}, err
	}
	x := in[0]
	p := append([]int{0}, cfg.Dims...)
	if len(p) != x.rank() {
		return tensor{}, fmt.Errorf("dims %v for a %d-D input", cfg.Dims, x.rank())
	}
	seen := make([]bool, len(p))
	for _, a := range p {
		if a < 0 || a >= len(p) || seen[a] {
			return tensor{}, fmt.Errorf("dims %v is not a permutation of 1..%d", cfg.Dims, len(p)-1)
		}
		seen[a] = true
	}
	cur := x.perm
	if cur == nil {
		cur = identity(x.rank())
	}
	y := tensor{name: l.out, shape: make([]int64, len(p)), perm: make([]int, len(p))}
	for k, a := range p {
		y.shape[k] = x.shape[a]
	}
	for j, a := range cur { // storage axis j holds old axis a = new axis k with p[k] == a
		y.perm[j] = slices.Index(p, a)
	}
	if isIdentity(y.perm) {
		y.perm = nil
	}
	l.c.node(l.out, "Identity", []string{x.name}, nil)
	return y, nil
}

func rescaling(l *layerCtx, in []tensor) (tensor, error) {
	var cfg struct {
		Scale  float64 `json:"scale"`
		Offset float64 `json:"offset"`
	}
	if err := l.config(&cfg); err != nil {
		return tensor{}, err
	}
	x := in[0]
	m := l.c.node(l.name("scale"), "Mul", []string{x.name, l.c.scalar(float32(cfg.Scale))}, nil)
	l.c.node(l.out, "Add", []string{m, l.c.scalar(float32(cfg.Offset))}, nil)
	return tensor{name: l.out, shape: x.shape, perm: x.perm}, nil
}

// merge converts the element-wise merge layers: every input is stored like the first.
func merge(op string) layerFunc {
	return func(l *layerCtx, in []tensor) (tensor, error) {
		if len(in) < 2 {
			return tensor{}, fmt.Errorf("wants at least 2 inputs, got %d", len(in))
		}
		if op == "Sub" && len(in) != 2 {
			return tensor{}, fmt.Errorf("wants 2 inputs, got %d", len(in))
		}
		first := in[0]
		names := []string{first.name}
		shape := slices.Clone(first.shape)
		for _, t := range in[1:] {
			if t.rank() != first.rank() {
				return tensor{}, fmt.Errorf("inputs of ranks %d and %d", first.rank(), t.rank())
			}
			t = l.c.as(t, first.perm)
			names = append(names, t.name)
			for i := range shape {
				if shape[i] == 1 || shape[i] < 0 {
					shape[i] = t.shape[i]
				}
			}
		}
		switch {
		case op == "Add" && len(names) > 2:
			l.c.node(l.out, "Sum", names, nil)
		case op == "Add" || op == "Sub" || op == "Mul":
			x := names[0]
			for i, n := range names[1:] {
				out := l.out
				if i < len(names)-2 {
					out = l.name(strings.ToLower(op))
				}
				x = l.c.node(out, op, []string{x, n}, nil)
			}
		default:
			l.c.node(l.out, op, names, nil)
		}
		return tensor{name: l.out, shape: shape, perm: first.perm}, nil
	}
}

func concatenate(l *layerCtx, in []tensor) (tensor, error) {
	var cfg struct {
		Axis *int `json:"axis"`
	}
	if err := l.config(&cfg); err != nil {
		return tensor{}, err
	}
	first := in[0]
	axis := -1
	if cfg.Axis != nil {
		axis = *cfg.Axis
	}
	if axis < 0 {
		axis += first.rank()
	}
	if axis < 1 || axis >= first.rank() {
		return tensor{}, fmt.Errorf("axis out of range for %d-D inputs", first.rank())
	}
	names := []string{first.name}
	shape := slices.Clone(first.shape)
	for _, t := range in[1:] {
		if t.rank() != first.rank() {
			return tensor{}, fmt.Errorf("inputs of ranks %d and %d", first.rank(), t.rank())
		}
		t = l.c.as(t, first.perm)
		names = append(names, t.name)
		if shape[axis] >= 0 && t.shape[axis] >= 0 {
			shape[axis] += t.shape[axis]
		} else {
			shape[axis] = -1
		}
	}
	l.c.node(l.out, "Concat", names, map[string]any{"axis": int64(first.axis(axis))})
	return tensor{name: l.out, shape: shape, perm: first.perm}, nil
}

// passThrough converts layers that act only while training: the identity.
func passThrough(l *layerCtx, in []tensor) (tensor, error) {
	x := in[0]
	l.c.node(l.out, "Identity", []string{x.name}, nil)
	return tensor{name: l.out, shape: x.shape, perm: x.perm}, nil
}
