package keras

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/catdog-ml/catdog/internal/half"
	"github.com/catdog-ml/catdog/internal/userfile"
)

// ModelFile is the name of a TensorFlow.js layers model's description.
const ModelFile = "model.json"

// ErrFormat is wrapped by the errors of Open for files that are not a TensorFlow.js layers
// model, or whose weights do not match their manifest.
var ErrFormat = errors.New("keras: not a valid TensorFlow.js layers model")

// Model is a TensorFlow.js layers model read from disk: the Keras description of its layers
// and every weight, dequantized to float32.
type Model struct {
	// Path is the model.json read.
	Path string
	// Format, GeneratedBy and ConvertedBy are model.json's fields of those names (often empty
	// in older files).
	Format, GeneratedBy, ConvertedBy string
	// KerasVersion and Backend say what wrote the topology ("2.1.4", "tfjs-layers 1.7.4").
	KerasVersion, Backend string
	// Files are model.json and the weight shards, in manifest order, with their sizes and
	// SHA-256.
	Files []File

	root    layerJSON
	weights map[string]*Weight
	order   []string // manifest order
}

// File is one file of a model: its name relative to the model's folder, size and SHA-256.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Weight is one named weight array of the manifest, dequantized.
type Weight struct {
	// Name is the manifest's name, such as "conv1/kernel".
	Name string
	// Shape is Keras's shape (a Conv2D kernel is (kh, kw, in, out)).
	Shape []int
	// Stored is how the values were stored: "float32", "float16", "uint8" or "uint16"
	// (quantized, value = q*scale + min), or another dtype for non-float weights.
	Stored string
	// Data holds the values, row-major; nil for non-float weights.
	Data []float32
}

// modelJSON is model.json.
type modelJSON struct {
	Format          string          `json:"format"`
	GeneratedBy     string          `json:"generatedBy"`
	ConvertedBy     string          `json:"convertedBy"`
	ModelTopology   json.RawMessage `json:"modelTopology"`
	WeightsManifest []groupJSON     `json:"weightsManifest"`
}

// topologyJSON is either style of modelTopology: the Python converter's
// {keras_version, backend, model_config: {class_name, config}} or tfjs-layers'
// {class_name, config, keras_version, backend}.
type topologyJSON struct {
	KerasVersion string          `json:"keras_version"`
	Backend      string          `json:"backend"`
	ModelConfig  *layerJSON      `json:"model_config"`
	ClassName    string          `json:"class_name"`
	Config       json.RawMessage `json:"config"`
}

type groupJSON struct {
	Paths   []string     `json:"paths"`
	Weights []weightJSON `json:"weights"`
}

type weightJSON struct {
	Name         string            `json:"name"`
	Shape        []int             `json:"shape"`
	DType        string            `json:"dtype"`
	Quantization *quantizationJSON `json:"quantization"`
}

type quantizationJSON struct {
	DType string   `json:"dtype"`
	Scale *float32 `json:"scale"`
	Min   *float32 `json:"min"`
}

// stored returns the dtype the bytes hold and its size in bytes.
func (w weightJSON) stored() (string, int, error) {
	dt := w.DType
	if w.Quantization != nil {
		dt = w.Quantization.DType
	}
	switch dt {
	case "float32", "int32":
		return dt, 4, nil
	case "float16", "uint16", "int16":
		return dt, 2, nil
	case "uint8", "int8", "bool":
		return dt, 1, nil
	}
	return dt, 0, fmt.Errorf("weight %q: dtype %q is not supported (want float32, or float16, uint8 or uint16 quantization)", w.Name, dt)
}

func (w weightJSON) count() (int, error) {
	n := 1
	for _, d := range w.Shape {
		if d < 0 || (d > 0 && n > math.MaxInt32/d) {
			return 0, fmt.Errorf("weight %q: shape %v is not a valid size", w.Name, w.Shape)
		}
		n *= d
	}
	return n, nil
}

// Open reads the TensorFlow.js layers model at path: a model.json file or the folder that
// holds one. It reads every shard the manifest names, checks that each weight group's
// shards hold exactly the bytes the manifest describes, and dequantizes the weights.
// model.json and its shards may take 4 GiB together; see OpenMax.
func Open(path string) (*Model, error) { return OpenMax(path, 0) }

// OpenMax is Open with a limit of maxBytes (0 or less: 4 GiB) on model.json
// and its shards together. Each shard must be a regular file inside the model's folder,
// symbolic links included (userfile.OpenIn), and the shards' sizes are checked against the
// manifest and the limit before any of them is read.
func OpenMax(path string, maxBytes int64) (*Model, error) {
	maxBytes = userfile.ModelLimit(maxBytes)
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, ModelFile)
	}
	data, err := userfile.ReadFile(path, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("keras: %w", err)
	}
	return parse(path, data, maxBytes-int64(len(data)))
}

// parse decodes model.json (data, read from path) and reads the shards beside it, which may
// take budget bytes together.
func parse(path string, data []byte, budget int64) (*Model, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrFormat, path, fmt.Sprintf(format, args...))
	}
	var mj modelJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&mj); err != nil {
		return nil, fmt.Errorf("%w: %s: not JSON as TensorFlow.js writes it: %w", ErrFormat, path, err)
	}
	if len(mj.ModelTopology) == 0 || string(mj.ModelTopology) == "null" {
		return nil, fail("no modelTopology (a graph model or another kind of JSON file? catdog reads Keras layers models)")
	}
	var top topologyJSON
	if err := json.Unmarshal(mj.ModelTopology, &top); err != nil {
		return nil, fmt.Errorf("%w: %s: modelTopology: %w", ErrFormat, path, err)
	}
	m := &Model{
		Path: path, Format: mj.Format, GeneratedBy: mj.GeneratedBy, ConvertedBy: mj.ConvertedBy,
		KerasVersion: top.KerasVersion, Backend: top.Backend, weights: map[string]*Weight{},
	}
	switch {
	case top.ModelConfig != nil:
		m.root = *top.ModelConfig
	case top.ClassName != "":
		m.root = layerJSON{ClassName: top.ClassName, Config: top.Config}
	default:
		return nil, fail("modelTopology has neither model_config nor class_name")
	}
	if m.root.ClassName == "" || len(m.root.Config) == 0 {
		return nil, fail("the model has no class_name or no config")
	}
	m.Files = append(m.Files, fileOf(ModelFile, data))

	var total int64
	for g, group := range mj.WeightsManifest {
		n, err := group.bytes()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: weight group %d: %w", ErrFormat, path, g+1, err)
		}
		total += n
	}
	if total > budget {
		return nil, fail("its weights manifest declares %s of weights, more than the %s left of the limit (raise the limit, --max-model-bytes, to read it)", userfile.Bytes(total), userfile.Bytes(max(budget, 0)))
	}
	dir := filepath.Dir(path)
	for g, group := range mj.WeightsManifest {
		if err := m.readGroup(dir, g+1, group); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrFormat, path, err)
		}
	}
	return m, nil
}

func fileOf(name string, data []byte) File {
	sum := sha256.Sum256(data)
	return File{Name: name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
}

// bytes is what the group's weights take in its shards, as the manifest declares them.
func (group groupJSON) bytes() (int64, error) {
	var want int64
	for _, w := range group.Weights {
		_, size, err := w.stored()
		if err != nil {
			return 0, err
		}
		n, err := w.count()
		if err != nil {
			return 0, err
		}
		want += int64(n) * int64(size)
	}
	return want, nil
}

// readGroup reads one weight group: its shards, concatenated, hold its weights in order.
// The shards' sizes must add up to what the manifest declares before any is read.
func (m *Model) readGroup(dir string, g int, group groupJSON) error {
	if len(group.Paths) == 0 && len(group.Weights) > 0 {
		return fmt.Errorf("weight group %d names no shard file", g)
	}
	want, err := group.bytes()
	if err != nil {
		return err
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var have int64
	var sizes []string
	for _, p := range group.Paths {
		if err := checkShardPath(p); err != nil {
			return fmt.Errorf("weight group %d: %w", g, err)
		}
		f, err := userfile.OpenIn(dir, p)
		if err != nil {
			return fmt.Errorf("weight group %d: shard %s: %w", g, p, err)
		}
		files = append(files, f)
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("weight group %d: shard %s: %w", g, p, err)
		}
		have += st.Size()
		sizes = append(sizes, fmt.Sprintf("%s %d bytes", p, st.Size()))
	}
	if have != want {
		what := "a shard is truncated or missing"
		if have > want {
			what = "a shard holds extra bytes"
		}
		return fmt.Errorf("weight group %d: its shards hold %d bytes (%s) but its %d weights need %d: %s",
			g, have, strings.Join(sizes, ", "), len(group.Weights), want, what)
	}
	buf := make([]byte, 0, want)
	for i, f := range files {
		data, err := io.ReadAll(io.LimitReader(f, want-int64(len(buf))+1))
		if err != nil {
			return fmt.Errorf("weight group %d: shard %s: %w", g, group.Paths[i], err)
		}
		buf = append(buf, data...)
		m.Files = append(m.Files, fileOf(group.Paths[i], data))
	}
	if int64(len(buf)) != want {
		return fmt.Errorf("weight group %d: its shards changed while they were read (%d bytes, %d expected)", g, len(buf), want)
	}
	off := 0
	for _, w := range group.Weights {
		dt, size, _ := w.stored()
		n, _ := w.count()
		raw := buf[off : off+n*size]
		off += n * size
		if _, dup := m.weights[w.Name]; dup {
			return fmt.Errorf("weight %q is listed twice in the manifest", w.Name)
		}
		wt := &Weight{Name: w.Name, Shape: append([]int(nil), w.Shape...), Stored: dt}
		if w.DType == "float32" || w.DType == "" {
			d, err := dequantize(w, dt, raw, n)
			if err != nil {
				return err
			}
			wt.Data = d
		}
		m.weights[w.Name] = wt
		m.order = append(m.order, w.Name)
	}
	return nil
}

// checkShardPath refuses shard paths that would leave the model's folder.
func checkShardPath(p string) error {
	clean := path.Clean(p)
	if p == "" || path.IsAbs(p) || filepath.IsAbs(p) || clean == ".." || strings.HasPrefix(clean, "../") || strings.ContainsAny(p, "\\:?#") {
		return fmt.Errorf("shard path %q leaves the model's folder", p)
	}
	return nil
}

// dequantize decodes n values of a float32 weight stored as dt.
func dequantize(w weightJSON, dt string, raw []byte, n int) ([]float32, error) {
	out := make([]float32, n)
	var scale, min float32
	if q := w.Quantization; q != nil && (dt == "uint8" || dt == "uint16" || dt == "int8" || dt == "int16") {
		if q.Scale == nil || q.Min == nil {
			return nil, fmt.Errorf("weight %q: %s quantization without scale and min", w.Name, dt)
		}
		scale, min = *q.Scale, *q.Min
	}
	switch dt {
	case "float32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case "float16":
		for i := range out {
			out[i] = half.ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case "uint8":
		for i := range out {
			out[i] = float32(raw[i])*scale + min
		}
	case "int8":
		for i := range out {
			out[i] = float32(int8(raw[i]))*scale + min
		}
	case "uint16":
		for i := range out {
			out[i] = float32(binary.LittleEndian.Uint16(raw[2*i:]))*scale + min
		}
	case "int16":
		for i := range out {
			out[i] = float32(int16(binary.LittleEndian.Uint16(raw[2*i:])))*scale + min
		}
	default:
		return nil, fmt.Errorf("weight %q: float32 values stored as %s are not supported", w.Name, dt)
	}
	return out, nil
}

// Weights returns the weights in manifest order.
func (m *Model) Weights() []*Weight {
	out := make([]*Weight, len(m.order))
	for i, n := range m.order {
		out[i] = m.weights[n]
	}
	return out
}

// Params returns the number of weight values of the model.
func (m *Model) Params() int {
	n := 0
	for _, w := range m.weights {
		k := 1
		for _, d := range w.Shape {
			k *= d
		}
		n += k
	}
	return n
}

// SHA256 returns one checksum for the whole model: the SHA-256 of the lines
// "<sha256>  <file>" (as sha256sum prints them) of model.json and every shard, in manifest
// order. It changes when any byte of any file changes.
func (m *Model) SHA256() string {
	h := sha256.New()
	for _, f := range m.Files {
		fmt.Fprintf(h, "%s  %s\n", f.SHA256, f.Name)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ShardNames returns the shard file names the model.json in data lists, in manifest order,
// and the bytes its weights need in all, without reading the shards (for downloads).
func ShardNames(data []byte) ([]string, int64, error) {
	var mj modelJSON
	if err := json.Unmarshal(data, &mj); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if len(mj.ModelTopology) == 0 || string(mj.ModelTopology) == "null" {
		return nil, 0, fmt.Errorf("%w: no modelTopology", ErrFormat)
	}
	var names []string
	var total int64
	seen := map[string]bool{}
	for g, group := range mj.WeightsManifest {
		for _, p := range group.Paths {
			if err := checkShardPath(p); err != nil {
				return nil, 0, fmt.Errorf("%w: weight group %d: %w", ErrFormat, g+1, err)
			}
			if !seen[p] {
				seen[p] = true
				names = append(names, p)
			}
		}
		n, err := group.bytes()
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %w", ErrFormat, err)
		}
		total += n
	}
	return names, total, nil
}

// lookup finds the weight of layer (called inside the nested models path, outermost first)
// named what ("kernel", "gamma"...). Converters name weights "<layer>/<what>", sometimes
// behind the names of enclosing models or with a ":0" suffix: the most specific name wins
// (all of path, then less of it, then the bare name), then a unique name ending in
// "/<layer>/<what>"; two such names are an error.
func (m *Model) lookup(path []string, layer, what string) (*Weight, error) {
	base := layer + "/" + what
	for i := 0; i <= len(path); i++ {
		name := strings.Join(append(append([]string(nil), path[i:]...), base), "/")
		for _, n := range []string{name, name + ":0"} {
			if w, ok := m.weights[n]; ok {
				return w, nil
			}
		}
	}
	var cands []string
	for n := range m.weights {
		t := strings.TrimSuffix(n, ":0")
		if strings.HasSuffix(t, "/"+base) {
			cands = append(cands, n)
		}
	}
	switch len(cands) {
	case 0:
		return nil, fmt.Errorf("no weight %q in the manifest", base)
	case 1:
		return m.weights[cands[0]], nil
	}
	sort.Strings(cands)
	return nil, fmt.Errorf("weight %q is ambiguous: the manifest has %s", base, strings.Join(cands, ", "))
}
