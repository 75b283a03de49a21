package plot

import (
	"bytes"
	"fmt"
	"image/color"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Bar draws a bar chart with one bar per label, each bar's value written above it, and
// returns it as PNG bytes.
func Bar(title, ylabel string, labels []string, values []float64) ([]byte, error) {
	if len(labels) != len(values) {
		return nil, fmt.Errorf("plot: %d labels for %d values", len(labels), len(values))
	}
	if len(values) == 0 {
		return nil, fmt.Errorf("plot: bar chart without values")
	}
	p := gplot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	bars, err := plotter.NewBarChart(plotter.Values(values), vg.Points(40))
	if err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	bars.Color = color.RGBA{R: 0x4c, G: 0x72, B: 0xb0, A: 0xff}
	bars.LineStyle.Width = 0
	p.Add(bars)
	p.NominalX(labels...)
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
	p.Y.Max = top * 1.15
	if p.Y.Max == 0 {
		p.Y.Max = 1
	}
	xys := make(plotter.XYs, len(values))
	texts := make([]string, len(values))
	for i, v := range values {
		xys[i].X, xys[i].Y = float64(i), v+top*0.02
		texts[i] = trimFloat(v)
	}
	lab, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
	if err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i].XAlign = draw.XCenter
	}
	p.Add(lab)
	width := vg.Length(max(4, 1.2*float64(len(values)))) * vg.Inch
	c := vgimg.PngCanvas{Canvas: vgimg.New(width, 3.5*vg.Inch)}
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plot: encoding PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// trimFloat formats v without useless decimals: 12500, 0.25.
func trimFloat(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.3g", v)
}
