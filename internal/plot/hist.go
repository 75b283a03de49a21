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

// HistSeries is one named set of values for Histogram.
type HistSeries struct {
	Name   string
	Values []float64
}

// Histogram draws the distribution of each series as a histogram of bins bins (0 means
// 30), overlaid in translucent colours with a legend, over a common range, and returns
// it as PNG bytes.
func Histogram(title, xlabel string, bins int, series ...HistSeries) ([]byte, error) {
	if bins <= 0 {
		bins = 30
	}
	lo, hi, n := 0.0, 0.0, 0
	for _, s := range series {
		for _, v := range s.Values {
			if n == 0 || v < lo {
				lo = v
			}
			if n == 0 || v > hi {
				hi = v
			}
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("plot: histogram without values")
	}
	if hi == lo {
		lo, hi = lo-0.5, hi+0.5
	}
	colors := []color.NRGBA{
		{0x4c, 0x72, 0xb0, 0x99}, {0xdd, 0x84, 0x52, 0x99}, {0x55, 0xa8, 0x68, 0x99}, {0xc4, 0x4e, 0x52, 0x99},
	}
	p := gplot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = "count"
	p.Legend.Top = true
	width := (hi - lo) / float64(bins)
	top := 0.0
	for i, s := range series {
		if len(s.Values) == 0 {
			continue
		}
		// Fixed bins over the common range so the series line up.
		counts := make([]float64, bins)
		for _, v := range s.Values {
			b := int((v - lo) / width)
			counts[min(max(b, 0), bins-1)]++
		}
		for _, c := range counts {
			top = max(top, c)
		}
		hb := make([]plotter.HistogramBin, bins)
		for b := range hb {
			hb[b] = plotter.HistogramBin{Min: lo + float64(b)*width, Max: lo + float64(b+1)*width, Weight: counts[b]}
		}
		h := &plotter.Histogram{Bins: hb, Width: width, FillColor: colors[i%len(colors)], LineStyle: plotter.DefaultLineStyle}
		h.LineStyle.Width = vg.Points(0.5)
		p.Add(h)
		if s.Name != "" {
			p.Legend.Add(fmt.Sprintf("%s (n=%d)", s.Name, len(s.Values)), h)
		}
	}
	p.Y.Min, p.Y.Max = 0, top*1.3 // room for the legend
	c := vgimg.PngCanvas{Canvas: vgimg.New(6*vg.Inch, 3.5*vg.Inch)}
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plot: encoding PNG: %w", err)
	}
	return buf.Bytes(), nil
}
