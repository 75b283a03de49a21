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
		{spec: "softmax", wantErr: "unknown layer"},
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
