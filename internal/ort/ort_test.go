package ort

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/onnx/pb"
	"google.golang.org/protobuf/proto"
)

// requireLibrary skips when onnxruntime is not installed, except in CI where it fails.
func requireLibrary(t *testing.T) {
	t.Helper()
	if _, err := FindLibrary(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI: %v", err)
		}
		t.Skipf("onnxruntime: %v", err)
	}
}

func TestFindLibrary(t *testing.T) {
	root := t.TempDir()
	deps := filepath.Join(root, ".deps", "onnxruntime")
	if err := os.MkdirAll(deps, 0o755); err != nil {
		t.Fatal(err)
	}
	versioned := filepath.Join(deps, "libonnxruntime.so.1.30.0")
	if err := os.WriteFile(versioned, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	exeDir := filepath.Join(t.TempDir(), "bin")
	if err := os.MkdirAll(filepath.Join(exeDir, ".deps", "onnxruntime"), 0o755); err != nil {
		t.Fatal(err)
	}
	besideExe := filepath.Join(exeDir, ".deps", "onnxruntime", "libonnxruntime.so")
	if err := os.WriteFile(besideExe, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()

	tests := []struct {
		name, env, wd, exe string
		want               string // "" means an error is expected
		errHas             []string
	}{
		{name: "env wins", env: besideExe, wd: deep, want: besideExe},
		{name: "env missing", env: filepath.Join(empty, "nope.so"), wd: deep, errHas: []string{"ONNXRUNTIME_LIB", "nope.so"}},
		{name: "env is a folder", env: empty, wd: deep, errHas: []string{"is a folder"}},
		{name: "working dir upwards", wd: deep, want: versioned},
		{name: "beside the executable", wd: empty, exe: filepath.Join(exeDir, "catdog"), want: besideExe},
		{name: "nowhere", wd: empty, exe: filepath.Join(empty, "catdog"), errHas: []string{"bash scripts/setup.sh", "ONNXRUNTIME_LIB"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := findLibrary(tc.env, tc.wd, tc.exe)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("findLibrary = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("findLibrary = %q, want an error", got)
			}
			if !errors.Is(err, ErrNoLibrary) {
				t.Errorf("error %v does not wrap ErrNoLibrary", err)
			}
			for _, s := range tc.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestParseProvider(t *testing.T) {
	for in, want := range map[string]string{"": "auto", "AUTO": "auto", "cuda": "cuda", " cpu ": "cpu", "tpu": ""} {
		got, err := ParseProvider(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("ParseProvider(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// affineModel is y = x*2 + 1 on a float tensor (N, 3), opset 13, with one metadata entry.
func affineModel(t testing.TB) []byte {
	t.Helper()
	str, i64 := proto.String, proto.Int64
	f := proto.Int32(int32(pb.TensorProto_FLOAT))
	vi := func(name string) *pb.ValueInfoProto {
		return &pb.ValueInfoProto{Name: str(name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{
			ElemType: f,
			Shape: &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dimension{
				{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
				{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: 3}},
			}},
		}}}}
	}
	m := &pb.ModelProto{
		IrVersion:     i64(7),
		OpsetImport:   []*pb.OperatorSetIdProto{{Domain: str(""), Version: i64(13)}},
		MetadataProps: []*pb.StringStringEntryProto{{Key: str("catdog.test"), Value: str("yes")}},
		Graph: &pb.GraphProto{
			Name: str("affine"),
			Node: []*pb.NodeProto{
				{OpType: str("Mul"), Input: []string{"x", "two"}, Output: []string{"x2"}},
				{OpType: str("Add"), Input: []string{"x2", "one"}, Output: []string{"y"}},
			},
			Initializer: []*pb.TensorProto{
				{Name: str("two"), DataType: f, FloatData: []float32{2}},
				{Name: str("one"), DataType: f, FloatData: []float32{1}},
			},
			Input:  []*pb.ValueInfoProto{vi("x")},
			Output: []*pb.ValueInfoProto{vi("y")},
		},
	}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSessionRun(t *testing.T) {
	requireLibrary(t)
	env, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	// A second reference shares the environment; closing it must not end the first.
	env2, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := env2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := env2.Close(); err != nil { // twice is harmless
		t.Fatal(err)
	}

	model := affineModel(t)
	s, err := env.NewSession(model, SessionOptions{Provider: "cpu", Inputs: []string{"x"}, Outputs: []string{"y"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Provider != ProviderCPU || s.Fallback != "" {
		t.Errorf("provider %q fallback %q, want cpu and none", s.Provider, s.Fallback)
	}
	in := []float32{0, 1, 2, -1, 0.5, 10}
	out, shape, err := s.RunFloat32(in, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 2 || shape[0] != 2 || shape[1] != 3 {
		t.Fatalf("shape %v, want [2 3]", shape)
	}
	for i, x := range in {
		if out[i] != 2*x+1 {
			t.Errorf("y[%d] = %v, want %v", i, out[i], 2*x+1)
		}
	}
	md, err := s.Metadata()
	if err != nil || md["catdog.test"] != "yes" {
		t.Errorf("metadata %v, %v", md, err)
	}
	ins, outs, err := env.Describe(model)
	if err != nil || len(ins) != 1 || ins[0].Name != "x" || outs[0].Name != "y" || ins[0].Shape[0] != -1 {
		t.Errorf("Describe = %+v %+v %v", ins, outs, err)
	}
}

// TestProviderFallback: "auto" with a CPU build of onnxruntime (what setup.sh installs) runs
// on the CPU without a word; with a CUDA build on a machine without CUDA it runs on the CPU
// and says why, once a process; "cuda" then fails with a clear error.
func TestProviderFallback(t *testing.T) {
	requireLibrary(t)
	env, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	model := affineModel(t)
	opts := SessionOptions{Inputs: []string{"x"}, Outputs: []string{"y"}}
	if env.CUDABuild() {
		t.Skip("a CUDA build of onnxruntime: the CPU-build case is not this machine's")
	}
	s, err := env.NewSession(model, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s.Provider != ProviderCPU || s.Fallback != "" {
		t.Errorf("CPU build, auto: provider %q, notice %q; want cpu and no notice", s.Provider, s.Fallback)
	}

	// The same library seen as a CUDA build: a providers file beside it.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, cudaProvider), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cudaEnv := &Env{library: filepath.Join(dir, "libonnxruntime.so")} // not Closed: holds no reference
	process.mu.Lock()
	process.told = false
	process.mu.Unlock()
	var notices []string
	for range 2 {
		s, err := cudaEnv.NewSession(model, opts)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if s.Provider != ProviderCPU {
			t.Fatalf("provider %q, want cpu", s.Provider)
		}
		notices = append(notices, s.Fallback)
	}
	t.Logf("fallback: %s", notices[0])
	if !strings.Contains(notices[0], "CUDA is not available") || !strings.Contains(notices[0], "CPU") || notices[1] != "" {
		t.Errorf("notices %q: want one saying CUDA is missing and CPU is used, then none", notices)
	}
	opts.Provider = "cuda"
	if _, err := env.NewSession(model, opts); err == nil || !strings.Contains(err.Error(), "cuda") {
		t.Errorf("provider cuda without CUDA: err = %v, want a clear error", err)
	}
}

func TestBadModel(t *testing.T) {
	requireLibrary(t)
	env, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	_, err = env.NewSession([]byte("not a model"), SessionOptions{Provider: "cpu", Inputs: []string{"x"}, Outputs: []string{"y"}})
	if err == nil {
		t.Fatal("want an error for a corrupt model")
	}
}
