package study

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/catdog-ml/catdog/backbones"
)

// TestPlanAtHand checks that a rung run only when its weights are at hand costs nothing in
// the time-left estimate when they are not (it will be listed as not run), and its
// extraction when they are in the cache.
func TestPlanAtHand(t *testing.T) {
	cache := t.TempDir()
	s := &study{opts: Options{Backbone: backbones.Options{CacheDir: cache}}, p: Quick()}
	cost := func() float64 {
		p := newPlan(s, 3000, 12000)
		for i, n := range p.names {
			if n == "vgg16-head" {
				return p.costs[i]
			}
		}
		t.Fatalf("no vgg16-head in the plan %v", p.names)
		return 0
	}
	if c := cost(); c > 1 {
		t.Errorf("vgg16-head without weights costs %v s in the estimate, want at most 1", c)
	}
	spec, err := backbones.Lookup("vgg16", s.opts.Backbone)
	if err != nil {
		t.Fatal(err)
	}
	path, err := backbones.ModelPath(spec, s.opts.Backbone)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c := cost(); c < 600 {
		t.Errorf("vgg16-head with weights in the cache costs %v s in the estimate, want its extraction (over 600 s)", c)
	}
}
