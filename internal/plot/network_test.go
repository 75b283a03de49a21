package plot

import (
	"image/color"
	"testing"
)

// TestNetworkColors checks the colour of a box's kind band: the layer's own colour when
// given, the input's and the backbone's otherwise, grey for anything else.
func TestNetworkColors(t *testing.T) {
	red := color.RGBA{R: 0xd0, G: 0x10, B: 0x20, A: 0xff}
	tests := []struct {
		name  string
		layer NetLayer
		want  color.RGBA
	}{
		{"own colour", NetLayer{Name: "conv1", Kind: "conv", Color: red}, red},
		{"own colour wins over the kind's", NetLayer{Name: "x", Kind: "input", Color: red}, red},
		{"input", NetLayer{Name: "input", Kind: "input"}, seriesColor(8)},
		{"backbone", NetLayer{Name: "vgg16", Kind: "Backbone"}, color.RGBA{R: 0x2f, G: 0x4b, B: 0x7c, A: 0xff}},
		{"no colour", NetLayer{Name: "conv1", Kind: "conv"}, seriesColor(7)},
	}
	for _, tt := range tests {
		b, err := Network("", 6, []NetLayer{tt.layer})
		if err != nil {
			t.Fatal(err)
		}
		im := decodePNG(t, tt.name, b, 150, 100)
		// The band on the box's left: 6 pixels wide from the margin (20), below the title
		// (40 pixels), 66 high.
		r, g, bl, _ := im.At(23, 40+33).RGBA()
		got := color.RGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(bl >> 8), A: 0xff}
		if got != tt.want {
			t.Errorf("%s: band colour %v, want %v", tt.name, got, tt.want)
		}
	}
}
