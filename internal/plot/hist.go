package plot

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// HistSeries is one named set of values for Histogram.
type HistSeries struct {
	Name   string
	Values []float64
}

// Histogram draws the distribution of each series as a histogram of bins bins (0 means
// 30) over a common range, the series' bars side by side within each bin (never on top of
// one another), counts marked in whole numbers, and returns it as PNG bytes.
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
		{0x4c, 0x72, 0xb0, 0xff}, {0xdd, 0x84, 0x52, 0xff}, {0x55, 0xa8, 0x68, 0xff}, {0xc4, 0x4e, 0x52, 0xff},
	}
	p := newChart(title, xlabel, "count")
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
		// Series i takes the i-th slice of each bin.
		k := float64(len(series))
		hb := make([]plotter.HistogramBin, bins)
		for b := range hb {
			from := lo + float64(b)*width + float64(i)*width/k
			hb[b] = plotter.HistogramBin{Min: from, Max: from + width/k, Weight: counts[b]}
		}
		h := &plotter.Histogram{Bins: hb, Width: width / k, FillColor: colors[i%len(colors)], LineStyle: plotter.DefaultLineStyle}
		h.LineStyle.Width = 0
		p.Add(h)
		if s.Name != "" {
			p.Legend.Add(fmt.Sprintf("%s (n=%d)", s.Name, len(s.Values)), h)
		}
	}
	p.Y.Min, p.Y.Max = 0, top*1.3 // room for the legend
	p.Y.Tick.Marker = countTicks{}
	p.X.Tick.Marker = countTicks{}
	return render(p, 6*vg.Inch, 3.5*vg.Inch)
}

// countTicks marks whole counts only: about six round values, no "750.00".
type countTicks struct{}

// Ticks implements plot.Ticker.
func (countTicks) Ticks(lo, hi float64) []gplot.Tick {
	step := countStep(hi - lo)
	var ts []gplot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+1e-9; v += step {
		ts = append(ts, gplot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
	}
	return ts
}

// countStep is the smallest of 1, 2, 5, 10, 20, 50... that cuts span into at most six.
func countStep(span float64) float64 {
	for mag := 1.0; mag < 1e15; mag *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if span/(m*mag) <= 6 {
				return m * mag
			}
		}
	}
	return 1e15
}
