package main

import (
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/internal/gops"
)

// TestStreamMatchesGo checks that torch_ref.py's Stream draws what catdog's run draws from
// splitMix through math/rand/v2: permutations of several sizes (a power of two takes
// another path in Go), then Float64s, interleaved as in training.
func TestStreamMatchesGo(t *testing.T) {
	py := fixtures.Python(t, "torch", "numpy")
	const prog = `
import json, sys
sys.path.insert(0, "bench/parity")
from torch_ref import Stream
out = []
for seed in (0, 1, 12345, 2**64 - 1):
    s = Stream(seed)
    for n in (1, 2, 1024, 1800, 3):
        out.append(s.perm(n).tolist())
        out.append(s.float64s(5).tolist())
print(json.dumps(out))
`
	cmd := exec.Command(py, "-c", prog)
	cmd.Dir = "../.."
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	var got [][]float64
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var want [][]float64
	for _, seed := range []uint64{0, 1, 12345, 1<<64 - 1} {
		r := rand.New(&splitMix{state: seed})
		for _, n := range []int{1, 2, 1024, 1800, 3} {
			var p []float64
			for _, v := range r.Perm(n) {
				p = append(p, float64(v))
			}
			want = append(want, p)
			var f []float64
			for range 5 {
				f = append(f, r.Float64())
			}
			want = append(want, f)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("python gave %d lists, want %d", len(got), len(want))
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("list %d: python gave %d values, want %d", i, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("list %d, value %d: python drew %v, Go %v", i, j, got[i][j], want[i][j])
			}
		}
	}
}

// TestMaskMatchesGo checks that torch_ref.py's Mask draws catdog's dropout masks
// (gops.FillMask seeded by one Uint64 of the run's stream per mask and step): two steps of
// two masks, of more values than one of FillMask's parallel chunks.
func TestMaskMatchesGo(t *testing.T) {
	py := fixtures.Python(t, "torch", "numpy")
	const prog = `
import json, sys, torch
sys.path.insert(0, "bench/parity")
from torch_ref import Mask, Stream
s = Stream(77)
a, b = Mask(0.25, s), Mask(0.5, s)
out = []
for step in range(2):
    out.append(a(torch.ones(2, 3, 40, 40)).flatten().tolist())
    out.append(b(torch.ones(5, 7)).flatten().tolist())
print(json.dumps(out))
`
	cmd := exec.Command(py, "-c", prog)
	cmd.Dir = "../.."
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	var got [][]float32
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	r := &splitMix{state: 77}
	var want [][]float32
	for range 2 {
		for _, m := range []struct {
			n int
			p float64
		}{{2 * 3 * 40 * 40, 0.25}, {5 * 7, 0.5}} {
			d := make([]float32, m.n)
			gops.FillMask(d, m.p, r.Uint64())
			want = append(want, d)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("python gave %d masks, want %d", len(got), len(want))
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("mask %d: python gave %d values, want %d", i, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("mask %d, value %d: python %v, Go %v", i, j, got[i][j], want[i][j])
			}
		}
	}
}
