package finetune

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
)

// torchGrads computes one batch's gradients with catdog's weights, photos and dropout masks
// in PyTorch, in float32 and in float64, with the network built from catdog's layer spec by
// bench/parity/torch_ref.py (dropout replaced by the given masks). It writes g32.bin and
// g64.bin: every trainable tensor's gradient in catdog's order and layout, as float64.
const torchGrads = `
import json, sys, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
d = sys.argv[1]
sys.path.insert(0, sys.argv[2])
import torch_ref
cfg = json.load(open(d + "/cfg.json"))
torch.set_num_threads(2)
class Mask(nn.Module):
    def forward(self, h):
        return h * self.m
def grads(dt):
    model = nn.Sequential(*[Mask() if isinstance(m, nn.Dropout) else m for m in torch_ref.build(cfg["spec"], tuple(cfg["input"]))])
    tensors, learn = [], []
    for m in model:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            tensors += [m.weight, m.bias]; learn += [m.weight, m.bias]
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            tensors += [m.weight, m.bias, m.running_mean, m.running_var]; learn += [m.weight, m.bias]
    flat, off = np.fromfile(d + "/params.bin", dtype="<f4"), 0
    with torch.no_grad():
        for t, shape in zip(tensors, cfg["shapes"]):
            n = int(np.prod(shape)); v = torch.from_numpy(flat[off:off + n].reshape(shape).copy()); off += n
            t.copy_(v.t() if tuple(v.shape) != tuple(t.shape) else v)
    model = model.to(dt)
    x = torch.from_numpy(np.fromfile(d + "/x.bin", dtype="<f4").reshape([cfg["batch"]] + cfg["input"])).to(dt)
    y = torch.from_numpy(np.fromfile(d + "/y.bin", dtype="<f4")).to(dt)
    mflat, moff, h = np.fromfile(d + "/masks.bin", dtype="<f4"), 0, x
    with torch.no_grad():
        for m in model:
            if isinstance(m, Mask):
                n = int(np.prod(h.shape)); m.m = torch.from_numpy(mflat[moff:moff + n].reshape(h.shape).copy()).to(dt); moff += n
            h = m(h)
    model.train()
    F.binary_cross_entropy_with_logits(model(x).squeeze(1), y).backward()
    return np.concatenate([(p.grad.t() if p.grad.dim() == 2 else p.grad).detach().double().contiguous().reshape(-1).numpy() for p in learn])
grads(torch.float32).astype("<f8").tofile(d + "/g32.bin")
grads(torch.float64).astype("<f8").tofile(d + "/g64.bin")
`

// TestGradientsAsAccurateAsPyTorch measures the gradients of vgg3-dropout-bn on one batch
// of real photos against PyTorch in float64, next to PyTorch in float32: catdog's error
// must be no larger than twice PyTorch's for every trainable tensor (plus 1e-7 of the
// gradient's size, for tensors PyTorch gets almost exactly). The first convolution's
// weights are the exception that is measured, not assumed: a 2x2 max-pool window whose two
// largest values differ by less than float32 rounding routes its gradient to either one, in
// either engine, so there both are held to 1e-3 of the largest gradient.
func TestGradientsAsAccurateAsPyTorch(t *testing.T) {
	py := fixtures.Python(t, "torch", "numpy")
	const size, batch = 64, 32
	src, err := openImages(preparePhotos(t, 40, size)) // 48 training photos
	if err != nil {
		t.Fatal(err)
	}
	defer src.close()
	rows := make([]int, batch)
	for i := range rows {
		rows[i] = i
	}
	x, y := make([]float32, batch*3*size*size), make([]float32, batch)
	if err := src.read(Train, rows, x, y, nil); err != nil { // as training reads them
		t.Fatal(err)
	}
	arch, err := Arch("vgg3-dropout-bn")
	if err != nil {
		t.Fatal(err)
	}
	m, err := arch.Model(size, GlorotUniform, 1)
	if err != nil {
		t.Fatal(err)
	}
	gr, err := m.build(batch, true)
	if err != nil {
		t.Fatal(err)
	}
	defer gr.close()
	gr.fillMasks(rand.New(rand.NewPCG(1, 2)).Uint64)
	if _, err := gr.run(x, y); err != nil {
		t.Fatal(err)
	}
	var shapes [][]int
	var params, masks []float32
	for _, p := range m.params {
		shapes = append(shapes, p.Shape)
		params = append(params, p.Data...)
	}
	for _, mk := range gr.masks {
		masks = append(masks, mk.t.Data().([]float32)...)
	}

	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{"input": []int{3, size, size}, "batch": batch, "shapes": shapes, "spec": SpecString(arch.Layers())})
	files := map[string][]byte{"cfg.json": cfg, "params.bin": floatBytes(params), "x.bin": floatBytes(x), "y.bin": floatBytes(y),
		"masks.bin": floatBytes(masks), "grads.py": []byte(torchGrads)}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ref, err := filepath.Abs(filepath.Join("..", "bench", "parity"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, filepath.Join(dir, "grads.py"), dir, ref)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pytorch: %v", err)
	}
	g32, g64 := readFloat64s(t, filepath.Join(dir, "g32.bin")), readFloat64s(t, filepath.Join(dir, "g64.bin"))

	// Each tensor's error is measured as the root mean square over its values, not their
	// largest: a bias of 32 values gives one noisy maximum, so a bound of "twice PyTorch's
	// largest error" moves with the photos drawn. The rounding error of the two engines is
	// compared over every value of the batch's gradients together (hundreds of thousands), and
	// each tensor is held within a few times PyTorch's error plus a float32 floor (1e-6 of its
	// own size), which a wrong gradient (an error the size of the gradient) cannot meet.
	k := 0
	var sumCat, sumTorch float64
	for i, p := range gr.learn {
		_, g, err := float32s(gr.grads[i].Value(), "gradient")
		if err != nil {
			t.Fatal(err)
		}
		if k+len(g) > len(g64) || len(g32) != len(g64) {
			t.Fatalf("PyTorch gave %d and %d gradient values, catdog has more", len(g32), len(g64))
		}
		var sqCat, sqTorch, sqExact float64
		for j, v := range g {
			exact := g64[k+j]
			sqCat += (float64(v) - exact) * (float64(v) - exact)
			sqTorch += (g32[k+j] - exact) * (g32[k+j] - exact)
			sqExact += exact * exact
		}
		k += len(g)
		sumCat += sqCat
		sumTorch += sqTorch
		nv := float64(len(g))
		rmsCat, rmsTorch, rms := math.Sqrt(sqCat/nv), math.Sqrt(sqTorch/nv), math.Sqrt(sqExact/nv)
		t.Logf("%-18s %6d values, rms gradient %.3g, rms error against float64: catdog %.2g, PyTorch float32 %.2g", p.Name, len(g), rms, rmsCat, rmsTorch)
		if limit := 4*rmsTorch + 1e-6*rms; rmsCat > limit {
			t.Errorf("%s: rms gradient error against float64 %.3g in catdog, %.3g in PyTorch float32 (rms gradient %.3g)", p.Name, rmsCat, rmsTorch, rms)
		}
		if rmsTorch > 1e-4*rms {
			t.Errorf("%s: PyTorch float32 is %.3g from float64 (rms gradient %.3g): the two PyTorch runs do not compute the same thing", p.Name, rmsTorch, rms)
		}
	}
	t.Logf("all %d gradient values: rms error catdog %.3g, PyTorch float32 %.3g", k, math.Sqrt(sumCat/float64(k)), math.Sqrt(sumTorch/float64(k)))
	if sumCat > 2*sumTorch {
		t.Errorf("over all %d gradient values catdog's rms error against float64 is %.3g, PyTorch float32's %.3g: more than 1.4 times", k, math.Sqrt(sumCat/float64(k)), math.Sqrt(sumTorch/float64(k)))
	}
	if k != len(g64) {
		t.Errorf("catdog has %d gradient values, PyTorch %d", k, len(g64))
	}
}

func readFloat64s(t *testing.T, path string) []float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(b)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return out
}
