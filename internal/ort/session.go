package ort

import (
	"fmt"
	"strings"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// Execution providers accepted by SessionOptions.Provider.
const (
	ProviderAuto = "auto" // CUDA when the library is a CUDA build and the machine has a GPU, else CPU
	ProviderCUDA = "cuda" // CUDA or an error
	ProviderCPU  = "cpu"
)

// SessionOptions configure a session. The zero value means: auto provider, every core,
// all graph optimisations.
type SessionOptions struct {
	// Provider is "auto" (default), "cuda" or "cpu".
	Provider string
	// Threads is the intra-op thread count; 0 means every core (runtime.NumCPU).
	Threads int
	// Optimization is the graph optimisation level: "all" (default), "extended", "basic" or
	// "disable".
	Optimization string
	// Inputs and Outputs name the graph's tensors fed and fetched by Run, in order.
	Inputs, Outputs []string
}

// Session is an onnxruntime inference session with dynamic input shapes.
// Run may be called from several goroutines at once (onnxruntime sessions are thread-safe
// for Run); Close must not race with Run.
type Session struct {
	s *onnxruntime.DynamicAdvancedSession
	// Provider is the execution provider actually used: "cuda" or "cpu".
	Provider string
	// Fallback explains why "auto" ended on CPU with a CUDA build of onnxruntime (empty when
	// it did not fall back, with a CPU build, and after the first fallback of the process):
	// callers show it to the user.
	Fallback string
	inputs   []string
	outputs  []string
}

// ParseProvider checks an execution provider name.
func ParseProvider(s string) (string, error) {
	switch p := strings.ToLower(strings.TrimSpace(s)); p {
	case "", ProviderAuto:
		return ProviderAuto, nil
	case ProviderCUDA, ProviderCPU:
		return p, nil
	default:
		return "", fmt.Errorf("unknown execution provider %q: want auto, cuda or cpu", s)
	}
}

func parseOptimization(s string) (onnxruntime.GraphOptimizationLevel, error) {
	switch strings.ToLower(s) {
	case "", "all":
		return onnxruntime.GraphOptimizationLevelEnableAll, nil
	case "extended":
		return onnxruntime.GraphOptimizationLevelEnableExtended, nil
	case "basic":
		return onnxruntime.GraphOptimizationLevelEnableBasic, nil
	case "disable", "none", "off":
		return onnxruntime.GraphOptimizationLevelDisableAll, nil
	}
	return 0, fmt.Errorf("unknown graph optimisation level %q: want all, extended, basic or disable", s)
}

// NewSession opens a session on the ONNX model in data (the serialised ModelProto).
func (e *Env) NewSession(data []byte, opts SessionOptions) (*Session, error) {
	return e.newSession(opts, func(so *onnxruntime.SessionOptions) (*onnxruntime.DynamicAdvancedSession, error) {
		return onnxruntime.NewDynamicAdvancedSessionWithONNXData(data, opts.Inputs, opts.Outputs, so)
	})
}

// NewSessionFromFile opens a session on the ONNX model file at path.
func (e *Env) NewSessionFromFile(path string, opts SessionOptions) (*Session, error) {
	return e.newSession(opts, func(so *onnxruntime.SessionOptions) (*onnxruntime.DynamicAdvancedSession, error) {
		return onnxruntime.NewDynamicAdvancedSession(path, opts.Inputs, opts.Outputs, so)
	})
}

type opener func(*onnxruntime.SessionOptions) (*onnxruntime.DynamicAdvancedSession, error)

func (e *Env) newSession(opts SessionOptions, open opener) (*Session, error) {
	provider, err := ParseProvider(opts.Provider)
	if err != nil {
		return nil, err
	}
	if len(opts.Inputs) == 0 || len(opts.Outputs) == 0 {
		return nil, fmt.Errorf("onnxruntime session: input and output names are required")
	}
	if provider == ProviderCPU || provider == ProviderAuto && !e.CUDABuild() {
		s, err := e.tryOpen(opts, false, open)
		if err != nil {
			return nil, err
		}
		return &Session{s: s, Provider: ProviderCPU, inputs: opts.Inputs, outputs: opts.Outputs}, nil
	}
	s, cudaErr := e.tryOpen(opts, true, open)
	if cudaErr == nil {
		return &Session{s: s, Provider: ProviderCUDA, inputs: opts.Inputs, outputs: opts.Outputs}, nil
	}
	if provider == ProviderCUDA {
		return nil, fmt.Errorf("execution provider cuda: %w (use --ep cpu or auto, or point %s at an onnxruntime build with CUDA)", cudaErr, LibraryEnv)
	}
	s, err = e.tryOpen(opts, false, open)
	if err != nil {
		return nil, err
	}
	sess := &Session{s: s, Provider: ProviderCPU, inputs: opts.Inputs, outputs: opts.Outputs}
	if firstFallback() {
		sess.Fallback = "CUDA is not available (" + firstLine(cudaErr.Error()) + "): running on CPU"
	}
	return sess, nil
}

// errCUDA marks a failure to add the CUDA provider, as opposed to a bad model.
type errCUDA struct{ err error }

func (e errCUDA) Error() string { return e.err.Error() }
func (e errCUDA) Unwrap() error { return e.err }

func (e *Env) tryOpen(opts SessionOptions, cuda bool, open opener) (*onnxruntime.DynamicAdvancedSession, error) {
	so, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnxruntime session options: %w", err)
	}
	defer so.Destroy()
	threads := opts.Threads
	if threads <= 0 {
		threads = Threads()
	}
	if err := so.SetIntraOpNumThreads(threads); err != nil {
		return nil, fmt.Errorf("onnxruntime threads: %w", err)
	}
	level, err := parseOptimization(opts.Optimization)
	if err != nil {
		return nil, err
	}
	if err := so.SetGraphOptimizationLevel(level); err != nil {
		return nil, fmt.Errorf("onnxruntime graph optimisation: %w", err)
	}
	if cuda {
		co, err := onnxruntime.NewCUDAProviderOptions()
		if err != nil {
			return nil, errCUDA{err}
		}
		err = so.AppendExecutionProviderCUDA(co)
		co.Destroy()
		if err != nil {
			return nil, errCUDA{err}
		}
	}
	s, err := open(so)
	if err != nil {
		if cuda {
			return nil, errCUDA{err}
		}
		return nil, fmt.Errorf("onnxruntime: opening model: %w", err)
	}
	return s, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Run runs the model on inputs (in SessionOptions.Inputs order) and fills outputs (in
// SessionOptions.Outputs order). A nil output is allocated by onnxruntime; the caller then
// owns it and must Destroy it.
func (s *Session) Run(inputs, outputs []onnxruntime.Value) error {
	if err := s.s.Run(inputs, outputs); err != nil {
		return fmt.Errorf("onnxruntime run: %w", err)
	}
	return nil
}

// RunFloat32 feeds one float32 tensor and returns the first output as float32 data and its
// shape. It is the common case for catdog's models.
func (s *Session) RunFloat32(input []float32, shape ...int64) ([]float32, []int64, error) {
	in, err := onnxruntime.NewTensor(onnxruntime.NewShape(shape...), input)
	if err != nil {
		return nil, nil, fmt.Errorf("input tensor %v: %w", shape, err)
	}
	defer in.Destroy()
	outs := make([]onnxruntime.Value, len(s.outputs))
	if err := s.Run([]onnxruntime.Value{in}, outs); err != nil {
		return nil, nil, err
	}
	defer func() {
		for _, o := range outs {
			if o != nil {
				o.Destroy()
			}
		}
	}()
	t, ok := outs[0].(*onnxruntime.Tensor[float32])
	if !ok {
		return nil, nil, fmt.Errorf("output %q is %T, want a float32 tensor", s.outputs[0], outs[0])
	}
	data := append([]float32(nil), t.GetData()...)
	return data, []int64(t.GetShape().Clone()), nil
}

// Metadata returns the model's custom metadata (metadata_props).
func (s *Session) Metadata() (map[string]string, error) {
	md, err := s.s.GetModelMetadata()
	if err != nil {
		return nil, fmt.Errorf("model metadata: %w", err)
	}
	defer md.Destroy()
	keys, err := md.GetCustomMetadataMapKeys()
	if err != nil {
		return nil, fmt.Errorf("model metadata: %w", err)
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		v, _, err := md.LookupCustomMetadataMap(k)
		if err != nil {
			return nil, fmt.Errorf("model metadata %q: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// Close releases the session.
func (s *Session) Close() error {
	if s == nil || s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	return err
}

// IO describes a model input or output.
type IO struct {
	Name  string
	Shape []int64 // -1 for dynamic dimensions
	Type  string  // onnxruntime element type name
}

// Describe returns the inputs and outputs of a serialised model, as onnxruntime sees them.
func (e *Env) Describe(data []byte) (inputs, outputs []IO, err error) {
	in, out, err := onnxruntime.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return nil, nil, fmt.Errorf("reading model inputs and outputs: %w", err)
	}
	conv := func(xs []onnxruntime.InputOutputInfo) []IO {
		r := make([]IO, len(xs))
		for i, x := range xs {
			r[i] = IO{Name: x.Name, Shape: []int64(x.Dimensions.Clone()), Type: x.DataType.String()}
		}
		return r
	}
	return conv(in), conv(out), nil
}
