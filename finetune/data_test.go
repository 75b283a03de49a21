package finetune

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeSource has n samples per split of one value each: the sample's row; labels are 1
// for the first half of each split and 0 for the rest (as prepared splits list cats first).
type fakeSource struct{ n int }

func (f fakeSource) shape() []int   { return []int{1} }
func (f fakeSource) len(string) int { return f.n }
func (f fakeSource) close() error   { return nil }
func (f fakeSource) labels(string) []uint8 {
	l := make([]uint8, f.n)
	for i := range l[:f.n/2] {
		l[i] = 1
	}
	return l
}
func (f fakeSource) read(_ string, rows []int, x, y []float32, _ func([]uint8, int)) error {
	for i, r := range rows {
		x[i] = float32(r)
		y[i] = 0
		if r < f.n/2 {
			y[i] = 1
		}
	}
	return nil
}

func TestLimitKeepsBothClasses(t *testing.T) {
	src := limit(fakeSource{n: 100}, 10)
	if n := src.len(Train); n != 10 {
		t.Fatalf("limited split has %d samples, want 10", n)
	}
	labels := src.labels(Test)
	var cats int
	for _, l := range labels {
		cats += int(l)
	}
	if cats != 5 {
		t.Errorf("%d cats among %d limited samples (%v), want 5", cats, len(labels), labels)
	}
	x, y := make([]float32, 3), make([]float32, 3)
	if err := src.read(Valid, []int{0, 5, 9}, x, y, nil); err != nil {
		t.Fatal(err)
	}
	if x[0] != 0 || x[1] != 50 || x[2] != 90 || y[0] != 1 || y[1] != 0 {
		t.Errorf("rows 0, 5, 9 of the limited split read as %v with labels %v, want [0 50 90] [1 0 0]", x, y)
	}
	if limit(fakeSource{n: 4}, 10).len(Train) != 4 {
		t.Error("a limit above the split size changed the split")
	}
}

func TestLatestRun(t *testing.T) {
	runs := t.TempDir()
	for _, d := range []string{"vgg3-20260101-000000", "vgg3-20260102-000000", "vgg3-20260103-000000", "vgg3-dropout-20270101-000000"} {
		dir := filepath.Join(runs, d, "checkpoint")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if d != "vgg3-20260103-000000" { // finished: no checkpoint
			if err := os.WriteFile(filepath.Join(dir, checkpointFile), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct{ name, want string }{
		{"vgg3", "vgg3-20260102-000000"},
		{"vgg3-dropout", "vgg3-dropout-20270101-000000"},
		{"vgg1", ""},
	}
	for _, tt := range tests {
		got, err := latestRun(runs, tt.name)
		if tt.want == "" {
			if err == nil {
				t.Errorf("latestRun(%q) = %s, want an error", tt.name, got)
			}
			continue
		}
		if err != nil || filepath.Base(got) != tt.want {
			t.Errorf("latestRun(%q) = %s, %v; want %s", tt.name, got, err, tt.want)
		}
	}
}
