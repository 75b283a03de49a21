package classifier

import (
	"image/color"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/internal/imgutil"
)

var tenClasses = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// grayMeta is the metadata of a GrayModel of these classes.
func grayMeta(classes []string) map[string]string {
	return map[string]string{exported.MetaInputSize: "32", exported.MetaResizeFilter: "bilinear",
		exported.MetaLabels: exported.EncodeLabels(classes)}
}

// TestPredictClasses: a model of ten classes gives the most probable one, the
// probabilities of all ten in label order, and Top in order of probability.
func TestPredictClasses(t *testing.T) {
	fixtures.RequireORT(t)
	c, err := Load(fixtures.GrayModel(t, 32, tenClasses), WithProvider("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !slices.Equal(c.Labels(), tenClasses) || c.InputSize() != 32 {
		t.Fatalf("labels %v size %d", c.Labels(), c.InputSize())
	}
	c.Labels()[0] = "changed" // a copy
	if c.Labels()[0] != "airplane" {
		t.Fatal("Labels returns the classifier's own slice")
	}
	for k := range tenClasses {
		// A little off the band's centre, so that its neighbours are not tied.
		v := uint8(fixtures.GrayCentre(k, 10) + 4)
		img := uniform(40, 30, color.Gray{v})
		p, err := c.Predict(img)
		if err != nil {
			t.Fatal(err)
		}
		px := make([]uint8, 32*32*3)
		if err := imgutil.ResizeImage(img, 32, imgutil.Bilinear, px); err != nil {
			t.Fatal(err)
		}
		want := fixtures.GrayScores(px, 10)
		if p.Class != k || p.Label != tenClasses[k] || p.Probability != p.Probabilities[k] || p.Confidence != p.Probability {
			t.Errorf("gray %d: %+v, want class %d (%s) with its probability", v, p, k, tenClasses[k])
		}
		if len(p.Probabilities) != 10 {
			t.Fatalf("gray %d: %d probabilities, want 10", v, len(p.Probabilities))
		}
		var sum float64
		for j, q := range p.Probabilities {
			sum += float64(q)
			if math.Abs(float64(q)-want[j]) > 1e-5 {
				t.Errorf("gray %d: probability of %s %v, want %v", v, tenClasses[j], q, want[j])
			}
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Errorf("gray %d: probabilities sum to %v", v, sum)
		}
		top := p.Top(3)
		// Above the centre: the band above is nearer than the one below.
		wantTop := []int{k, min(k+1, 9), max(k-1, 0)}
		if k == 0 {
			wantTop = []int{0, 1, 2}
		}
		if k == 9 {
			wantTop = []int{9, 8, 7}
		}
		if len(top) != 3 {
			t.Fatalf("Top(3) = %v", top)
		}
		for i, tp := range top {
			if tp.Class != wantTop[i] || tp.Label != tenClasses[wantTop[i]] || tp.Probability != p.Probabilities[wantTop[i]] {
				t.Errorf("gray %d: Top(3) = %+v, want classes %v", v, top, wantTop)
			}
		}
		all := p.Top(0)
		if len(all) != 10 || len(p.Top(11)) != 10 || !slices.IsSortedFunc(all, func(a, b ClassProbability) int {
			return -cmpFloat(a.Probability, b.Probability)
		}) {
			t.Errorf("gray %d: Top(0) = %v, want all ten by probability", v, all)
		}
	}
}

func cmpFloat(a, b float32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestBinaryProbabilities: a two-class prediction has Probabilities [1-p, p] and Top, and
// a prediction made by hand its own class as Top.
func TestBinaryProbabilities(t *testing.T) {
	fixtures.RequireORT(t)
	c, err := Load(meanModel(t, 32, stdMeta("32")), WithProvider("cpu"), WithThreshold(0.9))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := c.Predict(uniform(32, 32, color.Gray{170}))
	if err != nil {
		t.Fatal(err)
	}
	// p(cat) about 0.79: under the threshold, so a dog, but cat is the more probable.
	if p.Label != "dog" || !slices.Equal(p.Probabilities, []float32{1 - p.Probability, p.Probability}) {
		t.Fatalf("%+v", p)
	}
	top := p.Top(5)
	if len(top) != 2 || top[0].Label != "cat" || top[0].Class != 1 || top[0].Probability != p.Probability || top[1].Label != "dog" {
		t.Errorf("Top(5) = %+v", top)
	}
	hand := Prediction{Label: "cat", Class: 1, Probability: 0.9, Confidence: 0.9}
	if got := hand.Top(3); len(got) != 1 || got[0] != (ClassProbability{Label: "cat", Class: 1, Probability: 0.9}) {
		t.Errorf("Top of a Prediction made by hand: %+v", got)
	}
}

// TestClassesErrors: what Load and the predictions refuse of a model of many classes.
func TestClassesErrors(t *testing.T) {
	fixtures.RequireORT(t)
	three := []string{"red", "green", "blue"}
	tests := []struct {
		name   string
		opts   fixtures.GrayOpts
		load   []Option
		errHas string // at Load, or at the first prediction when atRun
		atRun  bool
	}{
		{"no labels", fixtures.GrayOpts{Classes: 3, Meta: map[string]string{exported.MetaInputSize: "32"}},
			nil, "no catdog.labels metadata", false},
		{"two labels", fixtures.GrayOpts{Classes: 3, Meta: grayMeta([]string{"dog", "cat"})},
			nil, "three classes or more", false},
		{"labels repeated", fixtures.GrayOpts{Classes: 3, Meta: grayMeta([]string{"a", "b", "a"})},
			nil, "repeated", false},
		{"more labels than the declared width", fixtures.GrayOpts{Classes: 3, Meta: grayMeta(tenClasses)},
			nil, "names 10 classes", false},
		{"fewer labels than the width, known at run", fixtures.GrayOpts{Classes: 10, Width: -1, Meta: grayMeta(three)},
			nil, "names 3 classes", true},
		{"a threshold", fixtures.GrayOpts{Classes: 3, Meta: grayMeta(three)},
			[]Option{WithThreshold(0.7)}, "threshold applies to a model of two classes", false},
		{"scores, not probabilities", fixtures.GrayOpts{Classes: 3, Meta: grayMeta(three), Scores: true},
			nil, "not a probability", true},
		// exp(-d²) at gray 200, between two bands: each in (0, 1], summing to about 0.4.
		{"rows that do not sum to 1", fixtures.GrayOpts{Classes: 3, Meta: grayMeta(three), Exp: true},
			nil, "sums to", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Size = 32
			c, err := Load(fixtures.GrayModelWith(t, tc.opts), append([]Option{WithProvider("cpu")}, tc.load...)...)
			if !tc.atRun {
				if err == nil {
					c.Close()
					t.Fatal("Load succeeded, want an error")
				}
				if !strings.Contains(err.Error(), tc.errHas) {
					t.Errorf("error %q does not contain %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, err = c.Predict(uniform(32, 32, color.Gray{200}))
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("Predict: %v, want an error saying %q", err, tc.errHas)
			}
		})
	}
	// Labels JSON-encoded (a name with a comma), and the width unknown until run: fine.
	names := []string{"a, b", "c", "d"}
	c, err := Load(fixtures.GrayModelWith(t, fixtures.GrayOpts{Size: 32, Classes: 3, Width: -1, Meta: grayMeta(names)}), WithProvider("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := c.Predict(uniform(32, 32, color.Gray{10}))
	if err != nil || p.Label != "a, b" || !slices.Equal(c.Labels(), names) {
		t.Errorf("labels %q: %+v, %v", c.Labels(), p, err)
	}
}
