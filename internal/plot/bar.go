package plot

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

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

// BarSeries is one named set of values for GroupedBars, one value per label.
type BarSeries struct {
	Name   string
	Values []float64
}

// GroupedBars draws one group of horizontal bars per label, the labels from the top down
// and in each group one bar per series in the series' colours (precision, recall and F1
// per class, say), each bar's value written at its end, the legend beside the plot. The
// values axis starts at 0 and, when every value lies in [0, 1], ends at 1. Long labels are
// cut to 28 characters. It returns PNG bytes.
func GroupedBars(title, xlabel string, labels []string, series ...BarSeries) ([]byte, error) {
	if len(labels) == 0 || len(series) == 0 {
		return nil, fmt.Errorf("plot: grouped bars need labels and series, got %d and %d", len(labels), len(series))
	}
	n, unit, top := len(labels), true, 0.0
	for _, s := range series {
		if len(s.Values) != n {
			return nil, fmt.Errorf("plot: series %q has %d values for %d labels", s.Name, len(s.Values), n)
		}
		for _, v := range s.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return nil, fmt.Errorf("plot: series %q has the value %v; want finite values from 0", s.Name, v)
			}
			unit = unit && v <= 1
			top = max(top, v)
		}
	}
	p := newChart(title, xlabel, "")
	legend := p.Legend
	const barH = 11.0 // points
	groupH := vg.Points(barH*float64(len(series)) + 8)
	for k, s := range series {
		vals := make(plotter.Values, n)
		for i, v := range s.Values {
			vals[n-1-i] = v // the first label at the top
		}
		bars, err := plotter.NewBarChart(vals, vg.Points(barH))
		if err != nil {
			return nil, fmt.Errorf("plot: series %q: %w", s.Name, err)
		}
		bars.Horizontal = true
		bars.Color = seriesColor(k)
		bars.LineStyle.Width = 0
		bars.Offset = vg.Points(barH * (float64(len(series)-1)/2 - float64(k)))
		p.Add(bars)
		legend.Add(s.Name, bars)
		xys := make(plotter.XYs, n)
		texts := make([]string, n)
		for i, v := range vals {
			xys[i] = plotter.XY{X: v, Y: float64(i)}
			texts[i] = trimFloat(v)
		}
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		for i := range lab.TextStyle {
			lab.TextStyle[i] = textStyle(8, textGray, false)
			lab.TextStyle[i].XAlign = draw.XLeft
		}
		lab.Offset = vg.Point{X: vg.Points(3), Y: bars.Offset}
		p.Add(lab)
	}
	names := make([]string, n)
	for i, l := range labels {
		names[n-1-i] = shortName(l)
	}
	p.Y.Tick.Marker = nominal{names: names}
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
	p.Y.Padding = 0
	p.Y.Tick.Label.Font.Size = vg.Points(10)
	p.X.Min = 0
	if unit {
		p.X.Max = 1.12 // room for the values written after the bars
		p.X.Tick.Marker = stepTicks(0.2)
	} else {
		p.X.Max = max(top, 1e-9) * 1.15
		p.X.Tick.Marker = niceTicks{}
	}
	entries := make([]string, len(series))
	for k, s := range series {
		entries[k] = s.Name
	}
	width := legendWidth(legend, entries)
	l := fitData(p, 5*vg.Inch, vg.Length(n)*groupH)
	c := newCanvas(l.W+width+2*margin, l.H+2*margin)
	dc := pad(draw.New(c))
	p.Draw(draw.Crop(dc, 0, -width, 0, 0))
	legend.Left, legend.Top = true, true
	legend.Padding = vg.Points(2)
	legend.Draw(draw.Crop(dc, l.W+vg.Points(4), 0, 0, -vg.Points(24)))
	return encode(c)
}
