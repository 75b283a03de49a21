package finetune

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
)

// torchSoftmaxSteps replays catdog's training steps of a softmax model in PyTorch: the
// network built from catdog's layer spec by bench/parity/torch_ref.py (which leaves the
// final softmax out: the loss takes logits), catdog's initial weights (load_catdog), the
// same batches, nn.CrossEntropyLoss with the class weights when given, and catdog's SGD or
// Adam. It prints the loss of each step, the weights after the last one in catdog's order
// and layout, and the softmax probabilities of the first batch in inference mode.
const torchSoftmaxSteps = `
import json, sys, math, numpy as np, torch, torch.nn as nn
d = sys.argv[1]
sys.path.insert(0, sys.argv[2])
import torch_ref
cfg = json.load(open(d + "/cfg.json"))
torch.set_num_threads(1)
model = torch_ref.build(cfg["spec"], tuple(cfg["input"]))
torch_ref.load_catdog(model, d)
x = torch.from_numpy(np.fromfile(d + "/x.bin", dtype="<f4").reshape([-1, cfg["batch"]] + cfg["input"]))
y = torch.from_numpy(np.fromfile(d + "/y.bin", dtype="<f4").reshape(-1, cfg["batch"])).long()
w = torch.tensor(cfg["weights"], dtype=torch.float32) if cfg["weights"] else None
criterion = nn.CrossEntropyLoss(weight=w)
params = [p for p in model.parameters()]
m1 = [torch.zeros_like(p) for p in params]
m2 = [torch.zeros_like(p) for p in params]
lr0, b1, b2, eps = cfg["lr"], 0.9, 0.999, 1e-7
losses = []
for t in range(1, cfg["steps"] + 1):
    b = (t - 1) % x.shape[0]
    model.train()
    for p in params:
        p.grad = None
    loss = criterion(model(x[b]), y[b])
    loss.backward()
    losses.append(loss.item())
    with torch.no_grad():
        if cfg["optimizer"] == "adam":
            lr = lr0 * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            for p, m, v in zip(params, m1, m2):
                m.mul_(b1).add_(p.grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                p.sub_(lr * m / (v.sqrt() + eps))
        else:
            for p, vel in zip(params, m1):
                vel.mul_(cfg["momentum"]).sub_(lr0 * p.grad)
                p.add_(vel)
out = []
for m in model.modules():
    if isinstance(m, nn.Conv2d):
        out += m.weight.detach().reshape(-1).tolist() + m.bias.detach().tolist()
    elif isinstance(m, nn.Linear):
        out += m.weight.detach().t().reshape(-1).tolist() + m.bias.detach().tolist()
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        out += m.weight.detach().tolist() + m.bias.detach().tolist() + m.running_mean.tolist() + m.running_var.tolist()
model.eval()
with torch.no_grad():
    probs = torch.softmax(model(x[0]), dim=1)
print(json.dumps({"losses": losses, "params": out, "probs": probs.reshape(-1).tolist()}))
`

// TestSoftmaxTrainingMatchesPyTorch trains small networks of 3, 4 and 5 classes (dense C
// and softmax, categorical cross-entropy, with and without class weights) for some SGD and
// Adam steps in catdog and replays the same steps, from the same weights on the same
// batches, in PyTorch with nn.CrossEntropyLoss(weight=...): the loss of every step, the
// weights after the last one and the inference probabilities must agree to float
// tolerance. It is TestTrainingMatchesPyTorch for the softmax output.
func TestSoftmaxTrainingMatchesPyTorch(t *testing.T) {
	py := fixtures.Python(t, "torch", "numpy")
	for _, c := range []struct {
		name         string
		classes      int
		weights      []float64
		optimizer    string
		lr, momentum float64
	}{
		{"3-sgd", 3, nil, "sgd", 0.05, 0.9},
		{"3-adam-weighted", 3, []float64{0.5, 2, 1.25}, "adam", 0.003, 0},
		{"4-adam", 4, nil, "adam", 0.003, 0},
		{"4-sgd-weighted", 4, []float64{1, 3, 0.25, 2}, "sgd", 0.05, 0.9},
		{"5-sgd-balanced", 5, BalancedWeights([]int{9, 3, 5, 1, 6}), "sgd", 0.05, 0.9},
		{"5-adam-weighted", 5, []float64{2, 1, 0.5, 1, 4}, "adam", 0.003, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			softmaxAgainstTorch(t, py, c.classes, c.weights, c.optimizer, c.lr, c.momentum)
		})
	}
}

func softmaxAgainstTorch(t *testing.T, py string, classes int, weights []float64, optimizer string, lr, momentum float64) {
	const batch, batches, steps, size = 8, 3, 12, 6
	input := []int{3, size, size}
	// Batch norm first: after a convolution's ReLU, a channel positive everywhere would make
	// the batch norm cancel the convolution's bias, whose gradient, then rounding noise
	// about 0, Adam turns into steps of up to the learning rate (TestTrainingMatchesPyTorch).
	layers := append([]Layer{BatchNorm(), Conv(4, 3, 1), ReLU(), MaxPool(2), Flatten(), Dense(8), ReLU()}, OutputLayers(classes)...)
	m, err := NewModel("softmax-parity", input, layers, GlorotUniform, uint64(classes))
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
	}
	var meta []entry
	var flat []float32
	for _, p := range m.params {
		meta = append(meta, entry{p.Name, p.Shape})
		flat = append(flat, p.Data...)
	}
	x, _ := randomBatch(m, batches*batch, 11)
	rng := rand.New(rand.NewPCG(uint64(classes), 7))
	y := make([]float32, batches*batch)
	for i := range y {
		y[i] = float32(rng.IntN(classes))
	}

	gr, err := m.compile(batch, true, weights)
	if err != nil {
		t.Fatal(err)
	}
	defer gr.close()
	opt, err := newOptimizer(optimizer, lr, momentum, gr.learn)
	if err != nil {
		t.Fatal(err)
	}
	per := prod(input)
	grads := make([][]float32, len(gr.grads))
	losses := make([]float64, steps)
	for s := range steps {
		b := s % batches
		if _, err := gr.run(x[b*batch*per:(b+1)*batch*per], y[b*batch:(b+1)*batch]); err != nil {
			t.Fatal(err)
		}
		losses[s] = float64(gr.loss.Value().Data().(float32))
		for i, g := range gr.grads {
			_, d, err := float32s(g.Value(), "gradient")
			if err != nil {
				t.Fatal(err)
			}
			grads[i] = d
		}
		opt.step(gr.learn, grads)
	}
	ev, err := m.build(batch, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.close()
	logits, err := ev.run(x[:batch*per], nil)
	if err != nil {
		t.Fatal(err)
	}
	obj := objective{classes: classes}
	var probs []float32
	for i := range batch {
		probs = obj.probs(probs, logits[i*classes:(i+1)*classes])
	}

	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{"spec": SpecString(layers), "input": input, "batch": batch, "lr": lr, "momentum": momentum,
		"optimizer": optimizer, "steps": steps, "weights": weights})
	js, _ := json.Marshal(meta)
	files := map[string][]byte{"cfg.json": cfg, "params.json": js, "params.bin": floatBytes(flat), "x.bin": floatBytes(x), "y.bin": floatBytes(y)}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ref, err := filepath.Abs(filepath.Join("..", "bench", "parity"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", torchSoftmaxSteps, dir, ref)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pytorch: %v", err)
	}
	var got struct {
		Losses, Params, Probs []float64
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("pytorch output: %v: %s", err, out)
	}
	if len(got.Losses) != steps || len(got.Probs) != len(probs) {
		t.Fatalf("PyTorch gave %d losses and %d probabilities, want %d and %d", len(got.Losses), len(got.Probs), steps, len(probs))
	}

	lossDiff := 0.0
	for s, loss := range losses {
		d := math.Abs(loss - got.Losses[s])
		lossDiff = max(lossDiff, d)
		if d > 2e-5*max(1, math.Abs(loss)) {
			t.Errorf("step %d: loss %.7f in catdog, %.7f in PyTorch", s+1, loss, got.Losses[s])
		}
	}
	k, worst, where := 0, 0.0, ""
	for _, p := range m.params {
		for i, v := range p.Data {
			if k >= len(got.Params) {
				t.Fatalf("PyTorch gave %d weight values, catdog has more", len(got.Params))
			}
			d := math.Abs(float64(v) - got.Params[k])
			if d > worst {
				worst, where = d, fmt.Sprintf("%s[%d]", p.Name, i)
			}
			if d > 1e-4*max(1, math.Abs(got.Params[k])) {
				t.Errorf("%s[%d] = %v after %d steps in catdog, %v in PyTorch", p.Name, i, v, steps, got.Params[k])
			}
			k++
		}
	}
	if k != len(got.Params) {
		t.Errorf("catdog has %d weight values, PyTorch %d", k, len(got.Params))
	}
	probDiff := 0.0
	for i, v := range probs {
		probDiff = max(probDiff, math.Abs(float64(v)-got.Probs[i]))
	}
	if probDiff > 1e-5 {
		t.Errorf("inference probabilities differ by up to %.2g", probDiff)
	}
	t.Logf("%d classes, weights %v, %d %s steps: largest loss difference %.2g, largest weight difference %.2g (%s), largest probability difference %.2g",
		classes, weights, steps, optimizer, lossDiff, worst, where, probDiff)
}
