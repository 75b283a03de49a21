package finetune

import (
	"reflect"
	"testing"
)

// TestKindsTable checks that every entry of the kinds table is whole: named by its kind,
// with a syntax, a forward, an export and an opaque colour; that no spec name or ONNX op
// is claimed twice; and that each kind's parameter count (checked against MaxParams before
// allocating) is what its init makes.
func TestKindsTable(t *testing.T) {
	names, ops := map[string]Kind{}, map[string]Kind{}
	for _, k := range kinds {
		if len(k.names) == 0 || k.names[0] != string(k.kind) {
			t.Errorf("kind %s: names %v, want the kind first", k.kind, k.names)
		}
		for _, n := range k.names {
			if other, ok := names[n]; ok {
				t.Errorf("spec name %q is read as %s and as %s", n, other, k.kind)
			}
			names[n] = k.kind
		}
		for _, o := range k.onnx.ops {
			if other, ok := ops[o]; ok {
				t.Errorf("ONNX op %s is read as %s and as %s", o, other, k.kind)
			}
			ops[o] = k.kind
		}
		if k.syntax == "" || k.forward == nil || k.export == nil {
			t.Errorf("kind %s: syntax %q, forward set %v, export set %v", k.kind, k.syntax, k.forward != nil, k.export != nil)
		}
		if k.color.A != 0xff {
			t.Errorf("kind %s: colour %v is not opaque", k.kind, k.color)
		}
		if got := KindColor(k.kind); got != k.color {
			t.Errorf("KindColor(%s) = %v, want %v", k.kind, got, k.color)
		}
		if kindOf(k.kind) == nil || kindNamed(string(k.kind)) == nil {
			t.Errorf("kind %s: not found by kindOf or kindNamed", k.kind)
		}
	}
	if c := KindColor("backbone"); c != nil {
		t.Errorf("KindColor(backbone) = %v, want nil: the picture colours it", c)
	}

	tests := []struct {
		spec  string
		input []int
	}{
		{"conv:6:3:1,bn,relu,maxpool:2,residual:8,relu6,conv:8:1:0,residual:8,maxpool:3,dropout:0.3,gap,dense:6,sigmoid,bn,dense:5:relu,dense:1:sigmoid", []int{3, 12, 12}},
		{"conv:4,relu,maxpool,conv:4:5:0,relu,flatten,dense:4,bn,relu,dropout:0.2,dense:1:sigmoid", []int{3, 12, 12}},
		{"bn,dense:3,relu6,dense:1:sigmoid", []int{7}},
		{"flatten,dense:6:relu,dense:4:softmax", []int{2, 3, 3}},
		{"conv:4,dwconv,bn,relu6,dwconv:5:0,relu,gap,dense:1:sigmoid", []int{3, 9, 9}},
	}
	seen := map[Kind]bool{}
	for _, tt := range tests {
		layers, err := ParseLayers(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := ParseLayers(SpecString(layers)); err != nil || !reflect.DeepEqual(again, layers) {
			t.Errorf("%s: SpecString reads back as %v, %v", tt.spec, again, err)
		}
		m, err := NewModel("kinds", tt.input, layers, "", 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range m.units {
			seen[u.Kind] = true
			made := 0
			for _, p := range u.weights() {
				made += p.Size()
			}
			var counted int64
			if u.info.weights != nil {
				counted = u.info.weights(u.Layer, u.in)
			}
			if counted != int64(made) {
				t.Errorf("%s: %s counts %d weights, its init makes %d", tt.spec, u.Layer, counted, made)
			}
		}
	}
	for _, k := range kinds {
		if !seen[k.kind] {
			t.Errorf("kind %s is in no network of the test: add it to one", k.kind)
		}
	}
}
