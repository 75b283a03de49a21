package finetune

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseLayers(t *testing.T) {
	tests := []struct {
		spec    string
		want    []Layer
		wantErr string
	}{
		{spec: DefaultHead, want: []Layer{Flatten(), Dense(128), ReLU(), Dropout(0.5), Dense(1), Sigmoid()}},
		{spec: "gap, dense:1:sigmoid", want: []Layer{GlobalAvgPool(), Dense(1), Sigmoid()}},
		{spec: "conv:16,bn,relu,maxpool,conv:8:5,conv:4:1:0,maxpool:3,residual:8", want: []Layer{
			Conv(16, 3, 1), BatchNorm(), ReLU(), MaxPool(2), Conv(8, 5, 2), Conv(4, 1, 0), MaxPool(3), Residual(8)}},
		{spec: "", wantErr: "empty"},
		{spec: "dense", wantErr: "want 1 to 1 numbers"},
		{spec: "dense:x", wantErr: "not a non-negative whole number"},
		{spec: "dense:0", wantErr: "at least 1 unit"},
		{spec: "dense:4:tanh", wantErr: "unknown activation"},
		{spec: "dropout:1", wantErr: "[0, 1)"},
		{spec: "dropout", wantErr: "dropout:P"},
		{spec: "relu:2", wantErr: "takes no arguments"},
		{spec: "tanh", wantErr: "unknown layer"},
		{spec: "gap,dense:5:softmax", want: []Layer{GlobalAvgPool(), Dense(5), Softmax()}},
		{spec: "flatten,dense:3,softmax", want: []Layer{Flatten(), Dense(3), Softmax()}},
		{spec: "softmax:3", wantErr: "takes no arguments"},
		{spec: "maxpool:0", wantErr: "at least 1"},
	}
	for _, tt := range tests {
		got, err := ParseLayers(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseLayers(%q): error %v, want one containing %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseLayers(%q): %v", tt.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseLayers(%q) = %v, want %v", tt.spec, got, tt.want)
		}
		// The spec string reads back to the same layers.
		again, err := ParseLayers(SpecString(got))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("ParseLayers(SpecString(%v)) = %v, %v", got, again, err)
		}
	}
}

func TestNewModelErrors(t *testing.T) {
	tests := []struct {
		input   []int
		spec    string
		wantErr string
	}{
		{[]int{3, 8, 8}, "flatten,dense:1", "last layer must be sigmoid"},
		{[]int{3, 8, 8}, "flatten,dense:2:sigmoid", "one value per sample"},
		{[]int{3, 8, 8}, "dense:1:sigmoid", "add flatten or gap"},
		{[]int{10}, "conv:4,gap,dense:1:sigmoid", "needs (C, H, W)"},
		{[]int{3, 2, 2}, "conv:4:5:0,flatten,dense:1:sigmoid", "does not fit"},
		{[]int{3, 1, 1}, "maxpool,flatten,dense:1:sigmoid", "does not fit"},
		{[]int{3, 0, 4}, "flatten,dense:1:sigmoid", "empty dimension"},
		{[]int{3, 4}, "flatten,dense:1:sigmoid", "want (C, H, W) or (D)"},
		{[]int{3, 8, 8}, "flatten,dense:2:softmax", "three values per sample or more"},
		{[]int{3, 8, 8}, "flatten,dense:1:softmax", "three values per sample or more"},
		{[]int{3, 8, 8}, "flatten,dense:4,softmax,dense:4:softmax", "softmax is only the last layer"},
		{[]int{3, 8, 8}, "flatten,dense:4,softmax,dense:1:sigmoid", "softmax is only the last layer"},
		{[]int{3, 8, 8}, "flatten,dense:4:relu", "or softmax (three classes or more)"},
	}
	for _, tt := range tests {
		layers, err := ParseLayers(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewModel("m", tt.input, layers, "", 1); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("NewModel(%v, %q): error %v, want one containing %q", tt.input, tt.spec, err, tt.wantErr)
		}
	}
}

// TestTooBig: a head that would not fit in memory is refused before allocating it.
func TestTooBig(t *testing.T) {
	layers, err := ParseLayers("flatten,dense:99999999:relu,dense:1:sigmoid")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewModel("head", []int{768}, layers, "", 1); err == nil || !strings.Contains(err.Error(), "too big") {
		t.Errorf("a dense layer of 99,999,999 units: %v", err)
	}
}

// TestOutputLayers checks the output layers of each number of classes, WithClasses and
// the models they make.
func TestOutputLayers(t *testing.T) {
	body := []Layer{Flatten(), Dense(8), ReLU()}
	for _, tt := range []struct {
		classes int
		want    string
	}{
		{2, "dense:1,sigmoid"},
		{3, "dense:3,softmax"},
		{10, "dense:10,softmax"},
	} {
		if got := SpecString(OutputLayers(tt.classes)); got != tt.want {
			t.Errorf("OutputLayers(%d) = %s, want %s", tt.classes, got, tt.want)
		}
		for _, from := range [][]Layer{OutputLayers(2), OutputLayers(5)} {
			layers, err := WithClasses(append(append([]Layer(nil), body...), from...), tt.classes)
			if err != nil {
				t.Fatal(err)
			}
			if want := SpecString(body) + "," + tt.want; SpecString(layers) != want {
				t.Errorf("WithClasses(..., %d) = %s, want %s", tt.classes, SpecString(layers), want)
			}
			m, err := NewModel("m", []int{2, 2, 2}, layers, "", 1)
			if err != nil {
				t.Fatal(err)
			}
			if m.Classes() != tt.classes {
				t.Errorf("%s: %d classes, want %d", SpecString(layers), m.Classes(), tt.classes)
			}
		}
	}
	for _, tt := range []struct {
		layers  []Layer
		classes int
		wantErr string
	}{
		{body, 3, "do not end with a dense layer"},
		{[]Layer{Dense(1), Sigmoid()}, 1, "two classes or more"},
		{[]Layer{ReLU(), Sigmoid()}, 3, "do not end with a dense layer"},
	} {
		if _, err := WithClasses(tt.layers, tt.classes); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("WithClasses(%s, %d): %v, want an error containing %q", SpecString(tt.layers), tt.classes, err, tt.wantErr)
		}
	}
}

func TestBalancedWeights(t *testing.T) {
	// scikit-learn: compute_class_weight("balanced", classes=[0, 1, 2], y=[0]*6 + [1]*3 + [2]*1)
	got := BalancedWeights([]int{6, 3, 1})
	want := []float64{10.0 / 18, 10.0 / 9, 10.0 / 3}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BalancedWeights = %v, want %v", got, want)
	}
	if got := BalancedWeights([]int{4, 0}); !reflect.DeepEqual(got, []float64{0.5, 1}) {
		t.Errorf("BalancedWeights with an empty class = %v, want [0.5 1]", got)
	}
}
