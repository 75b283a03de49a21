package backbones_test

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/internal/ort"
	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/onnxtest"
)

// torchExport builds a small torchvision-style VGG (features, adaptive average pool,
// classifier with dropout) with fixed seed, exports it with torch.onnx at opset 12 and a
// fixed batch of 1, and saves a batch of 2 inputs and their model.features(x) output as raw
// little-endian float32.
const torchExport = `
import sys, torch, torch.nn as nn
torch.manual_seed(0)
def block(i, o, n):
    layers = []
    for k in range(n):
        layers += [nn.Conv2d(i if k == 0 else o, o, 3, padding=1), nn.ReLU(inplace=True)]
    return layers + [nn.MaxPool2d(2, 2)]
class VGG(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(*block(3, 8, 2), *block(8, 16, 2), *block(16, 16, 3))
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(nn.Linear(16 * 2 * 2, 32), nn.ReLU(True), nn.Dropout(), nn.Linear(32, 10))
    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))
m = VGG().eval()
out = sys.argv[1]
torch.onnx.export(m, torch.rand(1, 3, 64, 64), out + "/vgg.onnx", opset_version=12,
                  input_names=["data"], output_names=["logits"])
x = torch.randn(2, 3, 64, 64)
with torch.no_grad():
    f = m.features(x)
x.numpy().astype("<f4").tofile(out + "/x.bin")
f.numpy().astype("<f4").tofile(out + "/features.bin")
print(tuple(f.shape))
`

func readFloats(t *testing.T, path string) []float32 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return out
}

// TestImportTorchExport imports a model exported by PyTorch (its own node names, opset 12,
// batch fixed to 1, a classifier to cut away), finds the cut structurally and checks that
// onnxruntime on the cut model, with a batch of 2, gives PyTorch's features.
func TestImportTorchExport(t *testing.T) {
	py := onnxtest.PythonWith(t, "torch")
	env, err := ort.Open()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("onnxruntime not available: %v", err)
	}
	defer env.Close()
	dir := t.TempDir()
	if out, err := onnxtest.RunWith(t, py, torchExport, dir); err != nil {
		t.Fatalf("torch export: %v\n%s", err, out)
	}
	spec := backbones.Spec{
		Name: "torch-vgg", InputSize: 64, Layout: backbones.NCHW, Channels: backbones.RGB, Scale: 1.0 / 255,
		Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225},
	}
	opts := backbones.Options{CacheDir: filepath.Join(dir, "store")}
	if _, err := backbones.Import(ctx, filepath.Join(dir, "vgg.onnx"), spec, false, opts); err != nil {
		t.Fatal(err)
	}
	bb, err := backbones.Load(ctx, "torch-vgg", opts)
	if err != nil {
		t.Fatal(err)
	}
	if bb.Output != "/features/features.16/MaxPool_output_0" {
		t.Errorf("cut at %q, want the last MaxPool's output", bb.Output)
	}
	if got := onnx.Shape(bb.Spec.OutputShape).String(); got != "(N, 16, 8, 8)" {
		t.Errorf("features %s, want (N, 16, 8, 8)", got)
	}
	cut := filepath.Join(dir, "cut.onnx")
	if err := bb.Model.Write(cut); err != nil {
		t.Fatal(err)
	}
	onnxtest.CheckModel(t, cut)

	data, _ := bb.Model.Encode()
	sess, err := env.NewSession(data, ort.SessionOptions{Provider: ort.ProviderCPU, Threads: 1, Inputs: []string{bb.Input}, Outputs: []string{bb.Output}})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	got, shape, err := sess.RunFloat32(readFloats(t, filepath.Join(dir, "x.bin")), 2, 3, 64, 64)
	if err != nil {
		t.Fatal(err)
	}
	want := readFloats(t, filepath.Join(dir, "features.bin"))
	if onnx.Shape(shape).String() != "(2, 16, 8, 8)" || len(got) != len(want) {
		t.Fatalf("shape %v, %d values, want %d", shape, len(got), len(want))
	}
	worst, norm := 0.0, 0.0
	for i := range want {
		worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
		norm = math.Max(norm, math.Abs(float64(want[i])))
	}
	t.Logf("largest feature %g, largest difference %g", norm, worst)
	if norm < 0.01 {
		t.Fatalf("PyTorch's features are all near zero (%g): the comparison would prove nothing", norm)
	}
	if worst > 1e-4 {
		t.Errorf("onnxruntime and PyTorch differ by up to %g", worst)
	}
}
