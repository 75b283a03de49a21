package finetune

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
)

// torchMirror prints the kinds bench/parity/torch_ref.py knows (LAYERS), then, for each
// network of cfg.json, the inference logits of its build of the spec with catdog's weights
// (load_catdog) on x.bin.
const torchMirror = `
import json, sys, numpy as np, torch
d = sys.argv[1]
sys.path.insert(0, sys.argv[2])
import torch_ref
torch.set_num_threads(1)
cfg = json.load(open(d + "/cfg.json"))
out = {"kinds": sorted(torch_ref.LAYERS), "logits": []}
for i, net in enumerate(cfg["nets"]):
    model = torch_ref.build(net["spec"], tuple(net["input"]))
    torch_ref.load_catdog(model, "%s/net%d" % (d, i))
    model.eval()
    x = torch.from_numpy(np.fromfile("%s/net%d/x.bin" % (d, i), dtype="<f4").reshape([cfg["batch"]] + net["input"]))
    with torch.no_grad():
        out["logits"].append(model(x).reshape(-1).tolist())
print(json.dumps(out))
`

// TestTorchMirror checks bench/parity's PyTorch mirror against the kinds table: it knows
// exactly the kinds the table holds, and for networks that hold every kind (with and
// without the fused conv/dense ReLU and pool, batch norm on maps and on vectors, a
// residual block with and without projection) it computes catdog's inference logits from
// catdog's weights, with batch-norm statistics that are not the identity.
func TestTorchMirror(t *testing.T) {
	py := fixtures.Python(t, "torch", "numpy")
	const batch = 5
	nets := []struct {
		spec  string
		input []int
		scale float32 // of the input values, uniform in [0, scale)
	}{
		// Inputs up to 40 take values past ReLU6's 6.
		{"conv:6:3:1,bn,relu,maxpool:2,residual:8,relu6,conv:8:1:0,residual:8,maxpool:3,dropout:0.3,gap,dense:6,sigmoid,bn,dense:5:relu,dense:1:sigmoid", []int{3, 12, 12}, 40},
		{"conv:4,relu,maxpool,conv:4:3:0,relu,flatten,dense:4,bn,relu,dropout:0.2,dense:1:sigmoid", []int{3, 12, 12}, 1},
		{"flatten,dense:8:relu,dropout:0.5,dense:1:sigmoid", []int{8, 2, 2}, 1},
		// Three classes or more: the logits before the final softmax.
		{"conv:4,bn,relu,gap,dense:8:relu,dense:5:softmax", []int{3, 6, 6}, 1},
		// MobileNet's block: depthwise with batch norm and ReLU6, depthwise with a bias and ReLU.
		{"conv:4,relu,dwconv,bn,relu6,conv:6:1:0,dwconv:3:0,relu,gap,dense:1:sigmoid", []int{3, 7, 7}, 8},
	}
	covered := map[Kind]bool{}
	dir := t.TempDir()
	type entry struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
	}
	type netCfg struct {
		Spec  string `json:"spec"`
		Input []int  `json:"input"`
	}
	var cfgNets []netCfg
	var want [][]float32
	for i, n := range nets {
		layers, err := ParseLayers(n.spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			covered[l.Kind] = true
		}
		m, err := NewModel("mirror", n.input, layers, "", uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		// Batch norms that do something at inference: scale, shift, mean and variance.
		rng := rand.New(rand.NewPCG(uint64(i), 9))
		for _, p := range m.Params() {
			for j := range p.Data {
				switch {
				case strings.HasSuffix(p.Name, ".scale"), strings.HasSuffix(p.Name, ".running_var"):
					p.Data[j] = float32(0.5 + rng.Float64())
				case strings.HasSuffix(p.Name, ".shift"), strings.HasSuffix(p.Name, ".running_mean"), strings.HasSuffix(p.Name, ".bias"):
					p.Data[j] = float32(rng.Float64() - 0.5)
				}
			}
		}
		var meta []entry
		var bin []byte
		for _, p := range m.Params() {
			meta = append(meta, entry{p.Name, p.Shape})
			for _, v := range p.Data {
				bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(v))
			}
		}
		x, _ := randomBatch(m, batch, uint64(10+i))
		var xb []byte
		for j := range x {
			x[j] *= n.scale
			xb = binary.LittleEndian.AppendUint32(xb, math.Float32bits(x[j]))
		}
		sub := filepath.Join(dir, fmt.Sprintf("net%d", i))
		js, err := json.Marshal(meta)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string][]byte{"params.json": js, "params.bin": bin, "x.bin": xb} {
			if err := os.WriteFile(filepath.Join(sub, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		gr, err := m.build(batch, false)
		if err != nil {
			t.Fatal(err)
		}
		z, err := gr.run(x, nil)
		gr.close()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, append([]float32(nil), z...))
		cfgNets = append(cfgNets, netCfg{SpecString(layers), n.input})
	}
	var goKinds []string
	for _, k := range kinds {
		goKinds = append(goKinds, string(k.kind))
		if !covered[k.kind] {
			t.Errorf("kind %s is in no network of the test: add it to one", k.kind)
		}
	}
	slices.Sort(goKinds)

	cfg, err := json.Marshal(map[string]any{"batch": batch, "nets": cfgNets})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cfg.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("..", "bench", "parity"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", torchMirror, dir, script).CombinedOutput()
	if err != nil {
		t.Fatalf("torch_ref.py: %v\n%s", err, out)
	}
	var got struct {
		Kinds  []string    `json:"kinds"`
		Logits [][]float64 `json:"logits"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !slices.Equal(got.Kinds, goKinds) {
		t.Errorf("torch_ref.py's LAYERS knows %v, the kinds table %v: keep them in step", got.Kinds, goKinds)
	}
	if len(got.Logits) != len(want) {
		t.Fatalf("torch_ref.py gave %d networks' logits, want %d", len(got.Logits), len(want))
	}
	for i := range want {
		if len(got.Logits[i]) != len(want[i]) {
			t.Fatalf("%s: torch_ref.py gave %d logits, want %d", nets[i].spec, len(got.Logits[i]), len(want[i]))
		}
		for j, w := range want[i] {
			if d := math.Abs(got.Logits[i][j] - float64(w)); d > 1e-4*math.Max(1, math.Abs(float64(w))) {
				t.Errorf("%s, sample %d: PyTorch's logit %.6f, catdog's %.6f", nets[i].spec, j, got.Logits[i][j], w)
			}
		}
	}
}
