package keras

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/catdog-ml/catdog/onnx"
)

// Options configure Model.ONNX.
type Options struct {
	// Name is the ONNX graph's name; empty means the Keras model's name.
	Name string
	// InputSize, when positive, is the height and width of the image inputs, replacing
	// what the Keras model says (some models leave them open).
	InputSize int
}

// ONNX converts the model into an ONNX graph (opset 13) that computes the same function,
// with the weights inside:
//   - image tensors are NCHW: a Keras input (N, H, W, C) becomes the ONNX input of the same
//     name with shape (N, C, H, W), and 4-D outputs are (N, C, H, W) (a model written
//     channels-first keeps its layout);
//   - every Keras layer's output is a tensor (and its last node) named after the layer, so
//     that the graph can be cut at any layer; a name already taken gets the enclosing
//     models' names in front ("model1/conv1"); a 4-D graph output that must be transposed
//     to NCHW is "<layer>/nchw";
//   - weights are initializers named "<layer>/<weight>", in ONNX's layouts.
//
// Layers that only act while training (Dropout, GaussianNoise...) become the identity. A
// layer this package does not convert is an error that names it and its class.
func (m *Model) ONNX(opts Options) (*onnx.Model, error) {
	c := &converter{m: m, opts: opts, names: map[string]bool{}, trans: map[string]tensor{}, inits: map[string]string{},
		cf: bytes.Contains(m.root.Config, []byte(`"channels_first"`))}
	name := opts.Name
	if name == "" {
		name = m.root.name()
	}
	if name == "" {
		name = "keras"
	}
	c.b = onnx.NewBuilder(name)
	outs, err := c.model(nil, m.root, nil)
	if err != nil {
		return nil, fmt.Errorf("keras: converting %s: %w", m.Path, err)
	}
	for _, t := range outs {
		if len(t.shape) == 4 && !c.cf {
			t = c.as(t, channelsFirst())
		} else {
			t = c.as(t, nil)
		}
		c.b.Output(t.name, t.name, onnx.Float, t.storageShape()...)
	}
	c.b.SetMetadata("keras.model", m.root.name())
	if m.KerasVersion != "" {
		c.b.SetMetadata("keras.version", m.KerasVersion)
	}
	c.b.SetMetadata("keras.sha256", m.SHA256())
	om, err := c.b.Model()
	if err != nil {
		return nil, fmt.Errorf("keras: converting %s: %w", m.Path, err)
	}
	return om, nil
}

// tensor is a Keras tensor as the ONNX graph holds it.
type tensor struct {
	name string
	// shape is Keras's shape: the batch (-1) first; -1 for an unknown dimension.
	shape []int64
	// perm says how the ONNX tensor stores it: storage axis i holds Keras axis perm[i];
	// nil means the same order.
	perm []int
}

// channelsFirst is the storage order of a channels-last 4-D tensor (N, H, W, C) kept as
// (N, C, H, W).
func channelsFirst() []int { return []int{0, 3, 1, 2} }

func (t tensor) rank() int { return len(t.shape) }

// axis returns the storage axis that holds Keras axis a.
func (t tensor) axis(a int) int {
	if t.perm == nil {
		return a
	}
	return slices.Index(t.perm, a)
}

func (t tensor) storageShape() []int64 {
	if t.perm == nil {
		return append([]int64(nil), t.shape...)
	}
	s := make([]int64, len(t.perm))
	for i, p := range t.perm {
		s[i] = t.shape[p]
	}
	return s
}

func isIdentity(p []int) bool {
	for i, v := range p {
		if v != i {
			return false
		}
	}
	return true
}

// converter builds one ONNX graph.
type converter struct {
	m     *Model
	b     *onnx.Builder
	opts  Options
	names map[string]bool   // node, tensor and initializer names taken
	trans map[string]tensor // transposed copies, by "name perm"
	inits map[string]string // initializers by what they hold
	// cf is set for models written channels-first: their 4-D inputs and outputs are
	// (N, C, H, W) in Keras already.
	cf bool
}

// unique returns name, or name behind the enclosing models' names, or with a number, so
// that it is not yet taken; and takes it.
func (c *converter) unique(path []string, name string) string {
	try := name
	for i := len(path) - 1; c.names[try] && i >= 0; i-- {
		try = strings.Join(path[i:], "/") + "/" + name
	}
	for n := 2; c.names[try]; n++ {
		try = name + "_" + strconv.Itoa(n)
	}
	c.names[try] = true
	return try
}

// as returns t stored in the order perm (nil: Keras's own order), adding a Transpose when
// it is stored otherwise.
func (c *converter) as(t tensor, perm []int) tensor {
	if perm == nil {
		perm = identity(t.rank())
	}
	cur := t.perm
	if cur == nil {
		cur = identity(t.rank())
	}
	if slices.Equal(cur, perm) {
		return t
	}
	key := t.name + fmt.Sprint(perm)
	if u, ok := c.trans[key]; ok {
		return u
	}
	p := make([]int64, len(perm))
	for i, a := range perm {
		p[i] = int64(slices.Index(cur, a))
	}
	suffix := "/transposed"
	switch {
	case slices.Equal(perm, channelsFirst()):
		suffix = "/nchw"
	case isIdentity(perm) && t.rank() == 4:
		suffix = "/nhwc"
	}
	name := c.unique(nil, t.name+suffix)
	c.b.Name(name).Transpose(t.name, p...)
	u := tensor{name: name, shape: t.shape, perm: perm}
	if isIdentity(perm) {
		u.perm = nil
	}
	c.trans[key] = u
	return u
}

func identity(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

// node adds one node with output name out.
func (c *converter) node(out, op string, inputs []string, attrs map[string]any) string {
	return c.b.Name(out).Node(op, inputs, attrs)
}

// init adds a float32 initializer once per key and returns its name.
func (c *converter) init(key string, path []string, name string, dims []int64, data []float32) string {
	if n, ok := c.inits[key]; ok {
		return n
	}
	n := c.unique(path, name)
	c.b.Initializer(n, dims, data)
	c.inits[key] = n
	return n
}

// scalar returns a float32 scalar initializer holding v.
func (c *converter) scalar(v float32) string {
	key := "scalar " + strconv.FormatFloat(float64(v), 'g', -1, 32)
	return c.init(key, nil, "const_"+strconv.FormatFloat(float64(v), 'g', -1, 32), nil, []float32{v})
}

// ints returns an int64 initializer.
func (c *converter) ints(name string, v []int64) string {
	n := c.unique(nil, name)
	c.b.InitializerInt64(n, []int64{int64(len(v))}, v)
	return n
}

// layerJSON is one layer of a Keras configuration.
type layerJSON struct {
	ClassName    string          `json:"class_name"`
	Name         string          `json:"name"`
	Config       json.RawMessage `json:"config"`
	InboundNodes json.RawMessage `json:"inbound_nodes"`
}

func (l layerJSON) name() string {
	if l.Name != "" {
		return l.Name
	}
	var c struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(l.Config, &c)
	return c.Name
}

func isModel(class string) bool {
	return class == "Sequential" || class == "Model" || class == "Functional"
}

// functionalJSON is the config of a functional model.
type functionalJSON struct {
	Name         string          `json:"name"`
	Layers       []layerJSON     `json:"layers"`
	InputLayers  json.RawMessage `json:"input_layers"`
	OutputLayers json.RawMessage `json:"output_layers"`
}

// ref names one output of one call of a layer.
type ref struct {
	layer        string
	node, tensor int
}

// parseRefs reads input_layers or output_layers: [[name, node, tensor], ...], or one
// [name, node, tensor].
func parseRefs(raw json.RawMessage) ([]ref, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("bad input or output list %s", short(raw))
	}
	if len(list) > 0 && list[0][0] == '"' {
		r, err := parseRef(raw)
		return []ref{r}, err
	}
	var out []ref
	for _, item := range list {
		r, err := parseRef(item)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// parseRef reads [name, node, tensor(, kwargs)].
func parseRef(raw json.RawMessage) (ref, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil || len(parts) < 3 {
		return ref{}, fmt.Errorf("bad layer reference %s", short(raw))
	}
	var r ref
	if json.Unmarshal(parts[0], &r.layer) != nil || json.Unmarshal(parts[1], &r.node) != nil || json.Unmarshal(parts[2], &r.tensor) != nil {
		return ref{}, fmt.Errorf("bad layer reference %s", short(raw))
	}
	return r, nil
}

// parseInbound reads a layer's inbound_nodes: one list of input references per call, in
// Keras 2's form [[[name, node, tensor, kwargs], ...], ...] or Keras 3's
// [{"args": [...], "kwargs": {...}}, ...] with keras_history in each tensor.
func parseInbound(raw json.RawMessage) ([][]ref, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var calls []json.RawMessage
	if err := json.Unmarshal(raw, &calls); err != nil {
		return nil, fmt.Errorf("bad inbound_nodes %s", short(raw))
	}
	var out [][]ref
	for _, call := range calls {
		var refs []ref
		if len(call) > 0 && call[0] == '{' {
			var k3 struct {
				Args json.RawMessage `json:"args"`
			}
			if err := json.Unmarshal(call, &k3); err != nil {
				return nil, fmt.Errorf("bad inbound node %s", short(call))
			}
			var err error
			if refs, err = kerasHistory(k3.Args, refs); err != nil {
				return nil, err
			}
		} else {
			var items []json.RawMessage
			if err := json.Unmarshal(call, &items); err != nil {
				return nil, fmt.Errorf("bad inbound node %s", short(call))
			}
			for _, it := range items {
				r, err := parseRef(it)
				if err != nil {
					return nil, err
				}
				refs = append(refs, r)
			}
		}
		out = append(out, refs)
	}
	return out, nil
}

// kerasHistory collects the keras_history of every Keras 3 tensor in raw, in order.
func kerasHistory(raw json.RawMessage, refs []ref) ([]ref, error) {
	if len(raw) == 0 {
		return refs, nil
	}
	switch raw[0] {
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		for _, it := range items {
			var err error
			if refs, err = kerasHistory(it, refs); err != nil {
				return nil, err
			}
		}
	case '{':
		var t struct {
			ClassName string `json:"class_name"`
			Config    struct {
				History json.RawMessage `json:"keras_history"`
			} `json:"config"`
		}
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, err
		}
		if t.ClassName == "__keras_tensor__" {
			r, err := parseRef(t.Config.History)
			if err != nil {
				return nil, err
			}
			refs = append(refs, r)
		}
	}
	return refs, nil
}

func short(raw json.RawMessage) string {
	s := string(raw)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// model converts a Sequential or functional model called on in (nil for the root model,
// whose inputs become the graph's inputs) and returns its outputs.
func (c *converter) model(path []string, l layerJSON, in []tensor) ([]tensor, error) {
	name := l.name()
	inner := append(append([]string(nil), path...), name)
	if l.ClassName == "Sequential" {
		return c.sequential(path, inner, l, in)
	}
	var f functionalJSON
	if err := json.Unmarshal(l.Config, &f); err != nil {
		return nil, fmt.Errorf("model %q: bad config: %w", name, err)
	}
	byName := map[string]layerJSON{}
	for _, ly := range f.Layers {
		byName[ly.name()] = ly
	}
	inputs, err := parseRefs(f.InputLayers)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", name, err)
	}
	outputs, err := parseRefs(f.OutputLayers)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", name, err)
	}
	if in != nil && len(in) != len(inputs) {
		return nil, fmt.Errorf("model %q takes %d inputs, called with %d", name, len(inputs), len(in))
	}
	done := map[ref]tensor{}
	for i, r := range inputs {
		ly, ok := byName[r.layer]
		if !ok || ly.ClassName != "InputLayer" {
			return nil, fmt.Errorf("model %q: input %q is not an InputLayer of the model", name, r.layer)
		}
		if in != nil {
			done[r] = in[i]
			continue
		}
		t, err := c.input(ly)
		if err != nil {
			return nil, fmt.Errorf("model %q: %w", name, err)
		}
		done[r] = t
	}
	// Convert every call of every layer once its inputs exist.
	type call struct {
		layer layerJSON
		node  int
		refs  []ref
	}
	var pending []call
	calls := map[string]int{}
	for _, ly := range f.Layers {
		if ly.ClassName == "InputLayer" {
			continue
		}
		nodes, err := parseInbound(ly.InboundNodes)
		if err != nil {
			return nil, fmt.Errorf("model %q: layer %q: %w", name, ly.name(), err)
		}
		for k, refs := range nodes {
			pending = append(pending, call{ly, k, refs})
		}
		calls[ly.name()] = len(nodes)
	}
	// Keras 2.2 and later number the calls of a nested model from 1 in a configuration
	// (its node 0 is its own construction), Keras 2.1 from 0: a reference one past the
	// calls listed says which.
	offset := map[string]int{}
	refsTo := append([]ref(nil), outputs...)
	for _, cl := range pending {
		refsTo = append(refsTo, cl.refs...)
	}
	for _, r := range refsTo {
		if ly, ok := byName[r.layer]; ok && isModel(ly.ClassName) && r.node >= calls[r.layer] {
			offset[r.layer] = 1
		}
	}
	for i := range pending {
		pending[i].node += offset[pending[i].layer.name()]
	}
	for len(pending) > 0 {
		var rest []call
		for _, cl := range pending {
			var args []tensor
			ready := true
			for _, r := range cl.refs {
				t, ok := done[r]
				if !ok {
					ready = false
					break
				}
				args = append(args, t)
			}
			if !ready {
				rest = append(rest, cl)
				continue
			}
			outs, err := c.layer(inner, cl.layer, args)
			if err != nil {
				return nil, err
			}
			for i, t := range outs {
				done[ref{cl.layer.name(), cl.node, i}] = t
			}
		}
		if len(rest) == len(pending) {
			var waiting []string
			for _, cl := range rest {
				waiting = append(waiting, cl.layer.name())
			}
			return nil, fmt.Errorf("model %q: layers %s wait for inputs that no layer makes", name, strings.Join(waiting, ", "))
		}
		pending = rest
	}
	var out []tensor
	for _, r := range outputs {
		t, ok := done[r]
		if !ok {
			return nil, fmt.Errorf("model %q: output %q is not made by any layer", name, r.layer)
		}
		out = append(out, t)
	}
	return out, nil
}

// sequential converts a Sequential model.
func (c *converter) sequential(path, inner []string, l layerJSON, in []tensor) ([]tensor, error) {
	name := l.name()
	layers, err := sequentialLayers(l)
	if err != nil {
		return nil, err
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("model %q has no layers", name)
	}
	if in == nil && layers[0].ClassName != "InputLayer" {
		iname, shape, err := findInput(l)
		if err != nil {
			return nil, err
		}
		t, err := c.newInput(iname, shape)
		if err != nil {
			return nil, err
		}
		in = []tensor{t}
	}
	if len(in) > 1 {
		return nil, fmt.Errorf("model %q (Sequential) called with %d inputs", name, len(in))
	}
	x := in
	for _, ly := range layers {
		if ly.ClassName == "InputLayer" {
			if x == nil {
				t, err := c.input(ly)
				if err != nil {
					return nil, fmt.Errorf("model %q: %w", name, err)
				}
				x = []tensor{t}
			}
			continue
		}
		if x, err = c.layer(inner, ly, x); err != nil {
			return nil, err
		}
		if len(x) != 1 {
			return nil, fmt.Errorf("model %q: layer %q gives %d outputs; a Sequential needs one", name, ly.name(), len(x))
		}
	}
	return x, nil
}

func sequentialLayers(l layerJSON) ([]layerJSON, error) {
	var layers []layerJSON
	if len(l.Config) > 0 && l.Config[0] == '[' {
		if err := json.Unmarshal(l.Config, &layers); err != nil {
			return nil, fmt.Errorf("model %q: bad layers: %w", l.name(), err)
		}
		return layers, nil
	}
	var cfg struct {
		Layers []layerJSON `json:"layers"`
	}
	if err := json.Unmarshal(l.Config, &cfg); err != nil {
		return nil, fmt.Errorf("model %q: bad config: %w", l.name(), err)
	}
	return cfg.Layers, nil
}

// inputConfig is the part of a layer config that declares an input.
type inputConfig struct {
	Name            string   `json:"name"`
	BatchInputShape []*int64 `json:"batch_input_shape"`
	BatchShape      []*int64 `json:"batch_shape"` // Keras 3
	DType           string   `json:"dtype"`
}

func (ic inputConfig) shape() []*int64 {
	if ic.BatchInputShape != nil {
		return ic.BatchInputShape
	}
	return ic.BatchShape
}

// findInput finds the input of a Sequential model that does not start with an InputLayer:
// the batch_input_shape of its first layer, looking inside nested models.
func findInput(l layerJSON) (string, []*int64, error) {
	switch {
	case l.ClassName == "InputLayer":
		var ic inputConfig
		_ = json.Unmarshal(l.Config, &ic)
		return ic.Name, ic.shape(), nil
	case l.ClassName == "Sequential":
		layers, err := sequentialLayers(l)
		if err != nil {
			return "", nil, err
		}
		if len(layers) == 0 {
			return "", nil, fmt.Errorf("model %q has no layers", l.name())
		}
		first := layers[0]
		if isModel(first.ClassName) || first.ClassName == "InputLayer" {
			return findInput(first)
		}
		var ic inputConfig
		_ = json.Unmarshal(first.Config, &ic)
		if ic.shape() == nil {
			return "", nil, fmt.Errorf("model %q: its first layer %q declares no batch_input_shape: the input shape is unknown", l.name(), first.name())
		}
		return first.name() + "_input", ic.shape(), nil
	case isModel(l.ClassName):
		var f functionalJSON
		if err := json.Unmarshal(l.Config, &f); err != nil {
			return "", nil, fmt.Errorf("model %q: bad config: %w", l.name(), err)
		}
		refs, err := parseRefs(f.InputLayers)
		if err != nil || len(refs) != 1 {
			return "", nil, fmt.Errorf("model %q: want one input", l.name())
		}
		for _, ly := range f.Layers {
			if ly.name() == refs[0].layer {
				return findInput(ly)
			}
		}
		return "", nil, fmt.Errorf("model %q: no input layer %q", l.name(), refs[0].layer)
	}
	return "", nil, fmt.Errorf("layer %q (%s) declares no input", l.name(), l.ClassName)
}

// input makes a graph input from an InputLayer.
func (c *converter) input(l layerJSON) (tensor, error) {
	var ic inputConfig
	if err := json.Unmarshal(l.Config, &ic); err != nil {
		return tensor{}, fmt.Errorf("input %q: bad config: %w", l.name(), err)
	}
	if ic.DType != "" && ic.DType != "float32" {
		return tensor{}, fmt.Errorf("input %q has dtype %s; catdog converts float32 models", l.name(), ic.DType)
	}
	return c.newInput(l.name(), ic.shape())
}

// newInput declares a graph input of Keras shape shape (batch first, nil = unknown).
func (c *converter) newInput(name string, shape []*int64) (tensor, error) {
	if len(shape) < 2 {
		return tensor{}, fmt.Errorf("input %q: shape %s: want a batch dimension and at least one more", name, dimsText(shape))
	}
	t := tensor{shape: make([]int64, len(shape))}
	t.shape[0] = -1
	for i, d := range shape[1:] {
		switch {
		case len(shape) == 4 && i < 2 && c.opts.InputSize > 0:
			t.shape[i+1] = int64(c.opts.InputSize)
		case d == nil || *d < 1:
			return tensor{}, fmt.Errorf("input %q: shape %s leaves dimension %d open (give the image size)", name, dimsText(shape), i+1)
		default:
			t.shape[i+1] = *d
		}
	}
	if len(shape) == 4 && !c.cf {
		t.perm = channelsFirst()
	}
	t.name = c.unique(nil, name)
	c.b.Input(t.name, onnx.Float, t.storageShape()...)
	return t, nil
}

func dimsText(shape []*int64) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = "None"
		if d != nil {
			parts[i] = strconv.FormatInt(*d, 10)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// layer converts one call of a layer (or nested model) on in.
func (c *converter) layer(path []string, l layerJSON, in []tensor) ([]tensor, error) {
	if isModel(l.ClassName) {
		return c.model(path, l, in)
	}
	conv, ok := layerKinds[l.ClassName]
	if !ok {
		name := l.name()
		if len(path) > 1 {
			name = strings.Join(append(append([]string(nil), path[1:]...), name), "/")
		}
		return nil, &UnsupportedError{Layer: name, Class: l.ClassName}
	}
	if len(in) == 0 {
		return nil, fmt.Errorf("layer %q (%s) has no input", l.name(), l.ClassName)
	}
	lc := &layerCtx{c: c, path: path, keras: l.name(), class: l.ClassName, cfg: l.Config}
	if len(path) > 1 {
		lc.where = strings.Join(path[1:], "/") + "/"
	}
	lc.out = c.unique(path, lc.keras)
	t, err := conv(lc, in)
	if err != nil {
		var ue *UnsupportedError
		if errors.As(err, &ue) {
			return nil, err
		}
		name := l.name()
		if len(path) > 1 { // inside a nested model: say which
			name = strings.Join(append(append([]string(nil), path[1:]...), name), "/")
		}
		return nil, fmt.Errorf("layer %q (%s): %w", name, l.ClassName, err)
	}
	return []tensor{t}, nil
}

// UnsupportedError is the error for a layer, or a setting of a layer, that catdog does not
// convert.
type UnsupportedError struct {
	Layer, Class string
	// Setting, if set, is what is not supported (otherwise the whole class).
	Setting string
}

func (e *UnsupportedError) Error() string {
	if e.Setting != "" {
		return fmt.Sprintf("layer %q (%s): %s is not supported", e.Layer, e.Class, e.Setting)
	}
	return fmt.Sprintf("layer %q: class %s is not supported (catdog converts %s)", e.Layer, e.Class, strings.Join(Supported(), ", "))
}

// Supported returns the Keras layer classes ONNX converts, sorted.
func Supported() []string {
	names := []string{"InputLayer", "Sequential", "Model", "Functional"}
	for k := range layerKinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// layerCtx is one layer call being converted.
type layerCtx struct {
	c     *converter
	path  []string // enclosing models
	keras string   // the layer's name
	class string
	cfg   json.RawMessage
	out   string // the ONNX name of the layer's output
	where string // the nested models it is in, "model1/" ("" at the top)
}

// config decodes the layer's config into v.
func (l *layerCtx) config(v any) error {
	if err := json.Unmarshal(l.cfg, v); err != nil {
		return fmt.Errorf("bad config: %w", err)
	}
	return nil
}

// unsupported reports a setting that is not converted.
func (l *layerCtx) unsupported(format string, args ...any) error {
	return &UnsupportedError{Layer: l.where + l.keras, Class: l.class, Setting: fmt.Sprintf(format, args...)}
}

// name returns the ONNX name of an intermediate result of the layer.
func (l *layerCtx) name(what string) string {
	return l.c.unique(l.path, l.keras+"/"+what)
}

// weight returns the layer's weight what ("kernel", "bias"...) and checks its shape.
func (l *layerCtx) weight(what string, shape ...int) (*Weight, error) {
	w, err := l.c.m.lookup(l.path, l.keras, what)
	if err != nil {
		return nil, err
	}
	if w.Data == nil {
		return nil, fmt.Errorf("weight %s is %s, not float32", w.Name, w.Stored)
	}
	if shape != nil && !slices.Equal(w.Shape, shape) {
		return nil, fmt.Errorf("weight %s has shape %v, the layer's config needs %v", w.Name, w.Shape, shape)
	}
	return w, nil
}

// init stores data (derived from weight w by transform) as an initializer.
func (l *layerCtx) init(w *Weight, transform string, dims []int64, data []float32) string {
	key := w.Name + " " + transform
	return l.c.init(key, l.path, l.keras+"/"+shortName(w.Name), dims, data)
}

// shortName is the last part of a weight name ("kernel" of "conv1/kernel:0").
func shortName(n string) string {
	n = strings.TrimSuffix(n, ":0")
	if i := strings.LastIndexByte(n, '/'); i >= 0 {
		return n[i+1:]
	}
	return n
}
