package keras_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/internal/imgutil"
	"github.com/catdog-ml/catdog/internal/npy"
	"github.com/catdog-ml/catdog/internal/ort"
	"github.com/catdog-ml/catdog/keras"
	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/onnxtest"
)

// sharedModel returns the folder of one of the TensorFlow.js models in shared/models.
func sharedModel(t *testing.T, name string) string {
	t.Helper()
	return fixtures.Model(t, name)
}

// cases runs keras/testdata/make_cases.py into a new folder and returns it.
func cases(t *testing.T) string {
	t.Helper()
	py := fixtures.Python(t, "numpy", "torch")
	out := t.TempDir()
	script, err := filepath.Abs(filepath.Join("testdata", "make_cases.py"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, script, out)
	cmd.Dir = os.TempDir()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make_cases.py: %v\n%s", err, b)
	}
	return out
}

// run converts the model and runs it on onnxruntime on x, given and returned in Keras's
// layout (NHWC for 4-D tensors).
func run(t *testing.T, env *ort.Env, m *keras.Model, x []float32, shape []int) ([]float32, []int) {
	t.Helper()
	om, err := m.ONNX(keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := om.Inspect()
	if len(s.Inputs) != 1 || len(s.Outputs) != 1 {
		t.Fatalf("inputs %v outputs %v, want one each", s.Inputs, s.Outputs)
	}
	data, err := om.Encode()
	if err != nil {
		t.Fatal(err)
	}
	sess, err := env.NewSession(data, ort.SessionOptions{Provider: ort.ProviderCPU, Threads: 1,
		Inputs: []string{s.Inputs[0].Name}, Outputs: []string{s.Outputs[0].Name}})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	if len(shape) == 4 {
		x = nhwcToNCHW(x, shape)
		dims = []int64{dims[0], dims[3], dims[1], dims[2]}
	}
	y, yshape, err := sess.RunFloat32(x, dims...)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int, len(yshape))
	for i, d := range yshape {
		out[i] = int(d)
	}
	if len(out) == 4 {
		y = nchwToNHWC(y, out)
		out = []int{out[0], out[2], out[3], out[1]}
	}
	return y, out
}

func nhwcToNCHW(x []float32, s []int) []float32 {
	n, h, w, c := s[0], s[1], s[2], s[3]
	y := make([]float32, len(x))
	for i := range n {
		for yy := range h {
			for xx := range w {
				for k := range c {
					y[((i*c+k)*h+yy)*w+xx] = x[((i*h+yy)*w+xx)*c+k]
				}
			}
		}
	}
	return y
}

func nchwToNHWC(x []float32, s []int) []float32 {
	n, c, h, w := s[0], s[1], s[2], s[3]
	y := make([]float32, len(x))
	for i := range n {
		for k := range c {
			for yy := range h {
				for xx := range w {
					y[((i*h+yy)*w+xx)*c+k] = x[((i*c+k)*h+yy)*w+xx]
				}
			}
		}
	}
	return y
}

// TestCases converts every model that make_cases.py writes (each layer kind, padding at
// stride 2, depthwise and separable convolutions, batch norm, branches, nesting, quantized
// and sharded weights) and checks onnxruntime's output against PyTorch's, computed with
// its functional ops on the same weights; each converted model passes the ONNX checker.
func TestCases(t *testing.T) {
	fixtures.RequireORT(t)
	dir := cases(t)
	env, err := ort.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 15 {
		t.Errorf("make_cases.py wrote %d cases, want at least 15", len(entries))
	}
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			c := filepath.Join(dir, e.Name())
			var meta struct {
				Tolerance float64 `json:"tolerance"`
			}
			if b, err := os.ReadFile(filepath.Join(c, "case.json")); err != nil || json.Unmarshal(b, &meta) != nil {
				t.Fatalf("case.json: %v", err)
			}
			m, err := keras.Open(c)
			if err != nil {
				t.Fatal(err)
			}
			x, xs, err := npy.ReadFile[float32](filepath.Join(c, "input.npy"))
			if err != nil {
				t.Fatal(err)
			}
			want, ws, err := npy.ReadFile[float32](filepath.Join(c, "expected.npy"))
			if err != nil {
				t.Fatal(err)
			}
			got, gs := run(t, env, m, x, xs)
			if !slices.Equal(gs, ws) {
				t.Fatalf("output shape %v, want %v", gs, ws)
			}
			var worst float64
			for i := range want {
				d := math.Abs(float64(got[i]) - float64(want[i]))
				if !(d <= worst) { // NaN-safe
					worst = d
				}
			}
			if !(worst <= meta.Tolerance) {
				t.Errorf("largest difference from PyTorch %.3g, tolerance %.3g", worst, meta.Tolerance)
			}
			om, err := m.ONNX(keras.Options{})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "model.onnx")
			if err := om.Write(path); err != nil {
				t.Fatal(err)
			}
			onnxtest.CheckModel(t, path)
		})
	}
}

// TestMobileNetImageNet converts the real tfjs-models MobileNet v1 0.75 and classifies
// shared photos into ImageNet's 1000 classes: most dogs get a dog breed (151-268) among
// their top 5, most cats a domestic cat (281-285).
func TestMobileNetImageNet(t *testing.T) {
	fixtures.RequireORT(t)
	m, err := keras.Open(sharedModel(t, "mobilenet_v1_0.75_224"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Params() != 2_601_976 {
		t.Errorf("%d weights, want MobileNet v1 0.75's 2,601,976", m.Params())
	}
	env, err := ort.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	om, err := m.ONNX(keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := om.Encode()
	s := om.Inspect()
	if got := s.Inputs[0].Shape.String(); got != "(N, 3, 224, 224)" || s.Outputs[0].Shape.String() != "(N, 1000)" {
		t.Fatalf("input %s output %s", got, s.Outputs[0].Shape)
	}
	sess, err := env.NewSession(data, ort.SessionOptions{Provider: ort.ProviderCPU, Inputs: []string{s.Inputs[0].Name}, Outputs: []string{s.Outputs[0].Name}})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	const perClass = 40
	photos := fixtures.PhotoFiles(t, "dogs-vs-cats/train", perClass)
	hits := map[string]int{}
	for ci, class := range []string{"cat", "dog"} {
		files := photos[ci*perClass : (ci+1)*perClass]
		x := make([]float32, perClass*3*224*224)
		rgb := make([]uint8, 224*224*3)
		for i, f := range files[:perClass] {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := imgutil.DecodeResize(bytes.NewReader(b), 224, imgutil.Bilinear, rgb); err != nil {
				t.Fatal(err)
			}
			img := x[i*3*224*224:]
			for p := range 224 * 224 {
				for c := range 3 {
					img[c*224*224+p] = float32(rgb[3*p+c])/127.5 - 1
				}
			}
		}
		probs, _, err := sess.RunFloat32(x, perClass, 3, 224, 224)
		if err != nil {
			t.Fatal(err)
		}
		for i := range perClass {
			p := probs[i*1000 : (i+1)*1000]
			var sum float64
			for _, v := range p {
				sum += float64(v)
			}
			if math.Abs(sum-1) > 1e-3 {
				t.Fatalf("probabilities sum to %v", sum)
			}
			for _, k := range top(p, 5) {
				if class == "dog" && k >= 151 && k <= 268 || class == "cat" && k >= 281 && k <= 285 {
					hits[class]++
					break
				}
			}
		}
	}
	t.Logf("top 5 holds the right ImageNet animal for %d of %d cats and %d of %d dogs", hits["cat"], perClass, hits["dog"], perClass)
	if hits["cat"] < perClass*7/10 || hits["dog"] < perClass*8/10 {
		t.Errorf("top 5 right for %d cats and %d dogs of %d each: the conversion is wrong", hits["cat"], hits["dog"], perClass)
	}
}

func top(p []float32, k int) []int {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
	return idx[:k]
}

// TestTeachableMachine converts a real Teachable Machine export (nested Sequential models
// around a functional MobileNetV2, ZeroPadding2D, ReLU(max_value=6), Add) and checks the
// graph: one NCHW input, the 5-class softmax output, every weight used.
func TestTeachableMachine(t *testing.T) {
	m, err := keras.Open(sharedModel(t, "teachable-machine-export"))
	if err != nil {
		t.Fatal(err)
	}
	om, err := m.ONNX(keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := om.Inspect()
	if len(s.Inputs) != 1 || s.Inputs[0].Shape.String() != "(N, 3, 224, 224)" {
		t.Errorf("inputs %v", s.Inputs)
	}
	if len(s.Outputs) != 1 || s.Outputs[0].Name != "dense_Dense2" || s.Outputs[0].Shape.String() != "(N, 5)" {
		t.Errorf("outputs %v", s.Outputs)
	}
	var weights int64
	for _, tn := range om.Graph().GetInitializer() {
		if tn.GetDataType() == int32(onnx.Float) && len(tn.GetDims()) > 0 {
			n := int64(1)
			for _, d := range tn.GetDims() {
				n *= d
			}
			weights += n
		}
	}
	if weights != int64(m.Params()) {
		t.Errorf("the graph holds %d weight values, the model %d", weights, m.Params())
	}
	// The base can be cut at its last activation: (N, 1280, 7, 7).
	c, err := om.Cut("out_relu")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Inspect().Outputs[0].Shape.String(); got != "(N, 1280, 7, 7)" {
		t.Errorf("cut at out_relu: %s", got)
	}
}

// copyDir copies a model folder into a new folder of the test's.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestBadModels: each damaged or foreign model is a clear error naming what is wrong.
func TestBadModels(t *testing.T) {
	src := sharedModel(t, "darknet_tiny")
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   []string
		format bool // wraps ErrFormat
	}{
		{"truncated shard", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "group5-shard1of1")
			st, _ := os.Stat(p)
			if err := os.Truncate(p, st.Size()-10); err != nil {
				t.Fatal(err)
			}
		}, []string{"group5-shard1of1", "truncated"}, true},
		{"shard too long", func(t *testing.T, dir string) {
			f, _ := os.OpenFile(filepath.Join(dir, "group2-shard1of1"), os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte{1, 2, 3, 4})
			f.Close()
		}, []string{"group2-shard1of1", "extra bytes"}, true},
		{"missing shard", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "group7-shard1of1"))
		}, []string{"group7-shard1of1", "no such file"}, true},
		{"shard path outside", func(t *testing.T, dir string) {
			edit(t, dir, `"group1-shard1of1"`, `"../group1-shard1of1"`)
		}, []string{"../group1-shard1of1", "leaves the model's folder"}, true},
		{"shard linked to a file outside", func(t *testing.T, dir string) {
			// The probe's case: a shard symlinked to /etc/passwd, here to a file of the
			// shard's exact size outside the folder, so that no size check can stop it.
			p := filepath.Join(dir, "group5-shard1of1")
			st, _ := os.Stat(p)
			secret := filepath.Join(t.TempDir(), "secret")
			os.WriteFile(secret, bytes.Repeat([]byte("root:x:0:0:"), int(st.Size())/11+1)[:st.Size()], 0o644)
			os.Remove(p)
			if err := os.Symlink(secret, p); err != nil {
				t.Fatal(err)
			}
		}, []string{"group5-shard1of1", "leads outside", "through a symbolic link"}, true},
		{"shard linked to /dev/zero", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "group5-shard1of1")
			os.Remove(p)
			os.Symlink("/dev/zero", p)
		}, []string{"group5-shard1of1", "leads outside"}, true},
		{"shard is a FIFO", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "group5-shard1of1")
			os.Remove(p)
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Skip(err)
			}
		}, []string{"group5-shard1of1", "named pipe (FIFO)"}, true},
		{"sparse shard of a declared 4 GiB", func(t *testing.T, dir string) {
			edit(t, dir, `"shape": [3, 3, 3, 16]`, `"shape": [1024, 1024, 1024, 1]`)
			if err := os.Truncate(filepath.Join(dir, "group16-shard1of1"), 4<<30); err != nil {
				t.Skip(err)
			}
		}, []string{"declares 4.0 GiB of weights, more than the"}, true},
		{"not json", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, keras.ModelFile), []byte("\x89PNG..."), 0o644)
		}, []string{"not JSON"}, true},
		{"graph model", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, keras.ModelFile), []byte(`{"format": "graph-model", "weightsManifest": []}`), 0o644)
		}, []string{"no modelTopology"}, true},
		{"unsupported layer", func(t *testing.T, dir string) {
			edit(t, dir, `"class_name": "LeakyReLU", "config": {"name": "leaky_re_lu_3"`, `"class_name": "LSTM", "config": {"name": "leaky_re_lu_3"`)
		}, []string{`layer "leaky_re_lu_3"`, "class LSTM is not supported"}, false},
		{"missing weight", func(t *testing.T, dir string) {
			edit(t, dir, `"name": "conv2d_4/kernel"`, `"name": "conv2d_4/kernel_renamed"`)
		}, []string{`layer "conv2d_4" (Conv2D)`, `no weight "conv2d_4/kernel"`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, src)
			tt.damage(t, dir)
			m, err := keras.Open(dir)
			if err == nil {
				_, err = m.ONNX(keras.Options{})
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if errors.Is(err, keras.ErrFormat) != tt.format {
				t.Errorf("errors.Is(err, ErrFormat) = %v", !tt.format)
			}
			var ue *keras.UnsupportedError
			if strings.Contains(tt.name, "unsupported") && (!errors.As(err, &ue) || ue.Class != "LSTM") {
				t.Errorf("error %v is not an *UnsupportedError for LSTM", err)
			}
		})
	}
}

// edit replaces old by new in dir/model.json (written by the Python converter with ": "
// and ", " separators).
func edit(t *testing.T, dir, old, new string) {
	t.Helper()
	p := filepath.Join(dir, keras.ModelFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("model.json has no %s", old)
	}
	if err := os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDownload serves a shared model from a local HTTP server: Download gets model.json
// and every shard into a folder that Open reads as the original; a server that breaks off
// a shard, or lacks one, leaves nothing behind.
func TestDownload(t *testing.T) {
	src := sharedModel(t, "mobilenet_v1_0.75_224")
	want, err := keras.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	var broken, missing string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/models/mobilenet/")
		if strings.Contains(name, "/") || name == "" {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil || name == missing {
			http.NotFound(w, r)
			return
		}
		if name == broken {
			b = b[:len(b)/2]
		}
		w.Write(b)
	}))
	defer srv.Close()
	url := srv.URL + "/models/mobilenet/model.json"

	cache := t.TempDir()
	dir := filepath.Join(cache, "mobilenet")
	var last, total int64
	err = keras.Download(t.Context(), url, dir, keras.DownloadOptions{Progress: func(d, tot int64) { last, total = d, tot }})
	if err != nil {
		t.Fatal(err)
	}
	got, err := keras.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.SHA256() != want.SHA256() || len(got.Files) != 56 {
		t.Errorf("downloaded model: %d files, SHA-256 %s; want 56 files, %s", len(got.Files), got.SHA256(), want.SHA256())
	}
	if last != total || total < 10_000_000 {
		t.Errorf("progress ended at %d of %d bytes", last, total)
	}
	if err := keras.Download(t.Context(), url, dir, keras.DownloadOptions{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second download into the same folder: %v", err)
	}

	for _, tc := range []struct{ broken, missing, want string }{
		{broken: "group3-shard1of1", want: "truncated"},
		{missing: "group9-shard1of1", want: "404"},
	} {
		broken, missing = tc.broken, tc.missing
		dir := filepath.Join(cache, "bad")
		err := keras.Download(t.Context(), url, dir, keras.DownloadOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("broken %q missing %q: error %v, want %q", tc.broken, tc.missing, err, tc.want)
		}
		entries, _ := os.ReadDir(cache)
		for _, e := range entries {
			if e.Name() != "mobilenet" {
				t.Errorf("left behind: %s", e.Name())
			}
		}
	}
}
