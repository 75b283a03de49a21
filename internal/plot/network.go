package plot

import (
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// NetLayer is one box of a network diagram.
type NetLayer struct {
	Name string
	// Kind labels the box's colour in the legend: the layer's kind, or input or backbone
	// for the boxes that are not layers.
	Kind string
	// Color fills the box: the one its layer kind's description gives
	// (finetune.KindColor). nil gives input and backbone boxes their own colours and any
	// other box grey.
	Color color.Color
	// Shape is the layer's output shape per sample, as text ("32×64×64").
	Shape string
	// Params counts the layer's weights.
	Params int
	// Frozen marks a layer whose weights training leaves alone.
	Frozen bool
}

// frozenNote labels the frozen swatch of a network diagram's legend.
const frozenNote = "frozen (not trained)"

// PaletteColor returns the i-th colour of the palette every chart draws with (the
// colour-blind-friendly "deep" palette of ten, cycling), for the layer kinds' colours.
func PaletteColor(i int) color.RGBA { return seriesColor(i) }

// boxColor returns the colour of l's box: its own, else that of the boxes that are not
// layers (input, backbone), else grey.
func boxColor(l NetLayer) color.RGBA {
	if l.Color != nil {
		return color.RGBAModel.Convert(l.Color).(color.RGBA)
	}
	switch strings.ToLower(l.Kind) {
	case "input":
		return seriesColor(8)
	case "backbone":
		return color.RGBA{R: 0x2f, G: 0x4b, B: 0x7c, A: 0xff}
	}
	return seriesColor(7)
}

// Network draws layers as a flow of boxes, left to right in rows of at most cols (6 if
// cols < 1): each box names the layer and shows its output shape and parameter count,
// coloured by kind; frozen layers are hatched and marked. It returns PNG bytes.
func Network(title string, cols int, layers []NetLayer) ([]byte, error) {
	if len(layers) == 0 {
		return nil, fmt.Errorf("plot: network diagram without layers")
	}
	if cols < 1 {
		cols = 6
	}
	cols = min(cols, len(layers))
	rows := (len(layers) + cols - 1) / cols
	px := func(n float64) vg.Length { return vg.Length(n) * vg.Inch / dpi }
	const boxW, boxH, gapX, gapY, margin, titleH, legendH = 150.0, 66.0, 34.0, 40.0, 20.0, 40.0, 40.0
	var kinds []string
	colors := map[string]color.RGBA{} // each kind's colour: its first box's
	anyFrozen := false
	for _, l := range layers {
		if k := strings.ToLower(l.Kind); k != "" {
			if _, seen := colors[k]; !seen {
				colors[k] = boxColor(l)
				kinds = append(kinds, k)
			}
		}
		anyFrozen = anyFrozen || l.Frozen
	}
	legendSty := textStyle(10, textGray, false)
	legendSty.XAlign = draw.XLeft
	legendW := 0.0
	for _, k := range kinds {
		legendW += 19 + legendSty.Rectangle(k).Max.X.Dots(dpi) + 16
	}
	if anyFrozen {
		legendW += 21 + legendSty.Rectangle(frozenNote).Max.X.Dots(dpi)
	}
	w := max(2*margin+float64(cols)*boxW+float64(cols-1)*gapX, 2*margin+legendW)
	h := titleH + float64(rows)*boxH + float64(rows-1)*gapY + legendH + margin
	c := newCanvas(px(w), px(h))
	dc := draw.New(c)
	// at converts pixel coordinates from the top-left corner to a canvas point.
	at := func(x, y float64) vg.Point { return vg.Point{X: px(x), Y: px(h - y)} }
	if title != "" {
		dc.FillText(textStyle(13, color.Black, false), at(w/2, titleH/2), title)
	}
	arrow := draw.LineStyle{Color: textGray, Width: vg.Points(1.2)}
	box := func(i int) (x, y float64) {
		return margin + float64(i%cols)*(boxW+gapX), titleH + float64(i/cols)*(boxH+gapY)
	}
	for i, l := range layers {
		x, y := box(i)
		drawBox(dc, at, x, y, boxW, boxH, l)
		if i+1 == len(layers) {
			break
		}
		nx, ny := box(i + 1)
		if ny == y { // same row: straight arrow
			drawArrow(dc, arrow, at(x+boxW, y+boxH/2), at(nx, ny+boxH/2))
			continue
		}
		// Next row: down from this box, back left, down into the next one.
		mid := y + boxH + gapY/2
		dc.StrokeLines(arrow, []vg.Point{at(x+boxW/2, y+boxH), at(x+boxW/2, mid), at(nx+boxW/2, mid)})
		drawArrow(dc, arrow, at(nx+boxW/2, mid), at(nx+boxW/2, ny))
	}
	// Legend: one swatch per kind present, and the frozen mark.
	lx, ly := margin, h-margin-legendH/2+6
	for _, k := range kinds {
		sw := []vg.Point{at(lx, ly-7), at(lx+14, ly-7), at(lx+14, ly+7), at(lx, ly+7)}
		dc.FillPolygon(colors[k], sw)
		dc.FillText(legendSty, at(lx+19, ly), k)
		lx += 19 + legendSty.Rectangle(k).Max.X.Dots(dpi) + 16
	}
	if anyFrozen {
		drawBox(dc, at, lx, ly-8, 16, 16, NetLayer{Kind: "backbone", Frozen: true, Name: " "})
		dc.FillText(legendSty, at(lx+21, ly), frozenNote)
	}
	return encode(c)
}

// drawBox draws one layer box with its top-left corner at (x, y) pixels.
func drawBox(dc draw.Canvas, at func(x, y float64) vg.Point, x, y, w, h float64, l NetLayer) {
	col := boxColor(l)
	outline := []vg.Point{at(x, y), at(x+w, y), at(x+w, y+h), at(x, y+h)}
	fill := blend(color.RGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}, col, 0.18)
	if l.Frozen {
		fill = color.RGBA{R: 0xee, G: 0xee, B: 0xee, A: 0xff}
	}
	dc.FillPolygon(fill, outline)
	if l.Frozen { // diagonal hatching, clipped to the box
		hatch := draw.LineStyle{Color: color.Gray{Y: 0xcc}, Width: vg.Points(0.8)}
		for d := 0.0; d < w+h; d += 9 {
			x0, y0 := x+d, y
			x1, y1 := x+d-h, y+h
			if x0 > x+w {
				y0 += x0 - (x + w)
				x0 = x + w
			}
			if x1 < x {
				y1 -= x - x1
				x1 = x
			}
			dc.StrokeLine2(hatch, at(x0, y0).X, at(x0, y0).Y, at(x1, y1).X, at(x1, y1).Y)
		}
	}
	// A coloured band on the left says the kind even on frozen boxes.
	dc.FillPolygon(col, []vg.Point{at(x, y), at(x+6, y), at(x+6, y+h), at(x, y+h)})
	border := draw.LineStyle{Color: col, Width: vg.Points(1.2)}
	if l.Frozen {
		border = draw.LineStyle{Color: textGray, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(4), vg.Points(2)}}
	}
	dc.StrokeLines(border, append(outline, outline[0]))
	if h < 30 { // legend swatch
		return
	}
	name := l.Name
	if name == "" {
		name = l.Kind
	}
	cx := x + 3 + w/2
	dc.FillText(textStyle(11, color.Black, true), at(cx, y+15), clip(name, 20))
	dc.FillText(textStyle(10, textGray, false), at(cx, y+33), clip(l.Shape, 24))
	params := "no weights"
	if l.Params > 0 {
		params = humanCount(l.Params) + " weights"
	}
	if l.Frozen {
		params += ", frozen"
	}
	dc.FillText(textStyle(10, textGray, false), at(cx, y+51), params)
}

// drawArrow draws a line from a to b with a small head at b.
func drawArrow(dc draw.Canvas, sty draw.LineStyle, a, b vg.Point) {
	dc.StrokeLines(sty, []vg.Point{a, b})
	d := b.Sub(a)
	n := vg.Length(1)
	if l := vg.Length(float64(d.X*d.X + d.Y*d.Y)); l > 0 {
		n = vg.Points(7) / vg.Length(math.Sqrt(float64(l)))
	}
	back := vg.Point{X: b.X - d.X*n, Y: b.Y - d.Y*n}
	perp := vg.Point{X: -d.Y * n / 2, Y: d.X * n / 2}
	dc.FillPolygon(sty.Color, []vg.Point{b, back.Add(perp), back.Sub(perp)})
}

// humanCount writes 1234 as "1,234" and 14714688 as "14.7M".
func humanCount(n int) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1000:
		return fmt.Sprintf("%d,%03d", n/1000, n%1000)
	}
	return fmt.Sprintf("%d", n)
}

// clip shortens s to at most n runes, with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
