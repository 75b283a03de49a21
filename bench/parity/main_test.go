package main

import (
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
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
