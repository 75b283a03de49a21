package plot

import (
	"fmt"
	"math"
	"slices"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one named line: Y against X (epochs, say).
type Series struct {
	Name string
	X, Y []float64
	// Dashed draws the line dashed (training curves beside solid validation ones).
	Dashed bool
	// Color picks the palette colour; 0 means the series' position (first series first
	// colour), n > 0 the n-th colour, so that related series can share one.
	Color int
}

// CurveOptions tune Curves. The zero value means automatic ranges.
type CurveOptions struct {
	// YMin and YMax fix the y range when YMax > YMin (0 to 1 for accuracies, say).
	YMin, YMax float64
	// LegendOutside puts the legend to the right of the plot instead of over it: for
	// many series.
	LegendOutside bool
}

// Curves draws each series as a line (with dots when there are few points) and returns
// the chart as PNG bytes. With an automatic y range, a few values far above the rest (one
// diverging run among several) do not squash the others: the scale stops above the bulk
// of the values and the points beyond it are drawn on its edge as triangles, the legend
// saying how high they went.
func Curves(title, xlabel, ylabel string, opts CurveOptions, series ...Series) ([]byte, error) {
	if len(series) == 0 {
		return nil, fmt.Errorf("plot: curves without series")
	}
	ceil, peak := math.Inf(1), 0.0
	if opts.YMax <= opts.YMin {
		ceil, peak = outlierCeiling(series)
	}
	var beyond plotter.XYs
	p := newChart(title, xlabel, ylabel)
	legend := p.Legend
	legend.Padding = vg.Points(3)
	legend.Top = true
	most := 0
	for i, s := range series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("plot: series %q has %d x and %d y values", s.Name, len(s.X), len(s.Y))
		}
		xys := make(plotter.XYs, 0, len(s.X))
		for j := range s.X {
			if math.IsNaN(s.Y[j]) || math.IsInf(s.Y[j], 0) {
				continue
			}
			y := s.Y[j]
			if y > ceil {
				y = ceil
				beyond = append(beyond, plotter.XY{X: s.X[j], Y: ceil})
			}
			xys = append(xys, plotter.XY{X: s.X[j], Y: y})
		}
		if len(xys) == 0 {
			continue
		}
		most = max(most, len(xys))
		col := seriesColor(i)
		if s.Color > 0 {
			col = seriesColor(s.Color - 1)
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("plot: series %q: %w", s.Name, err)
		}
		l.Color = col
		l.Width = vg.Points(2)
		if s.Dashed {
			l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		}
		p.Add(l)
		thumbs := []gplot.Thumbnailer{l}
		if len(xys) <= 30 {
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, fmt.Errorf("plot: series %q: %w", s.Name, err)
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
			p.Add(sc)
			thumbs = append(thumbs, sc)
		}
		if s.Name != "" {
			legend.Add(s.Name, thumbs...)
		}
	}
	if most == 0 {
		return nil, fmt.Errorf("plot: curves %q have no finite points", title)
	}
	if opts.YMax > opts.YMin {
		p.Y.Min, p.Y.Max = opts.YMin, opts.YMax
	}
	if len(beyond) > 0 {
		p.Y.Max = ceil
		sc, err := plotter.NewScatter(beyond)
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: textGray, Radius: vg.Points(4), Shape: draw.PyramidGlyph{}}
		p.Add(sc)
		note := fmt.Sprintf("beyond the scale (up to %.3g)", peak)
		legend.Add(note, sc)
		series = append(series, Series{Name: note}) // for the legend's width
	}
	p.Y.Tick.Marker = niceTicks{}
	if most <= 30 {
		p.X.Tick.Marker = integerTicks{}
		p.X.Padding = vg.Points(8)
	}
	w, h := 5.4*vg.Inch, 3.6*vg.Inch
	if !opts.LegendOutside {
		legend.XOffs, legend.YOffs = -vg.Points(8), vg.Points(8)
		if legend.Top {
			legend.YOffs = -vg.Points(8)
		}
		p.Legend = legend
		return render(p, w, h)
	}
	names := make([]string, len(series))
	for i, s := range series {
		names[i] = s.Name
	}
	width := legendWidth(legend, names)
	c := newCanvas(w+width, h)
	dc := draw.New(c)
	p.Draw(draw.Crop(dc, 0, -width, 0, 0))
	legend.Left = true
	legend.Top = true
	legend.Draw(draw.Crop(dc, w+vg.Points(4), 0, 0, -vg.Points(28)))
	return encode(c)
}

// outlierCeiling returns where an automatic y scale should stop so that a few values far
// above the others do not squash them (+Inf when none are), and the highest value.
func outlierCeiling(series []Series) (ceil, peak float64) {
	var ys []float64
	for _, s := range series {
		for _, y := range s.Y {
			if !math.IsNaN(y) && !math.IsInf(y, 0) {
				ys = append(ys, y)
			}
		}
	}
	if len(ys) < 10 {
		return math.Inf(1), 0
	}
	slices.Sort(ys)
	lo, q, peak := ys[0], ys[len(ys)*9/10], ys[len(ys)-1]
	// Far above: beyond the 90th percentile by more than the bulk's own spread, twice over.
	if q > lo && peak > q+2*(q-lo) {
		return q + 0.5*(q-lo), peak
	}
	return math.Inf(1), peak
}

// legendWidth is how wide a legend beside the plot must be for the entries' names.
func legendWidth(l gplot.Legend, names []string) vg.Length {
	widest := vg.Length(0)
	for _, s := range names {
		widest = max(widest, l.TextStyle.Rectangle(s).Max.X)
	}
	return widest + l.ThumbnailWidth + vg.Points(24)
}

// integerTicks marks whole numbers only (epochs), at most about ten of them.
type integerTicks struct{}

// Ticks implements plot.Ticker.
func (integerTicks) Ticks(lo, hi float64) []gplot.Tick {
	step := math.Max(1, math.Ceil((hi-lo)/10))
	var ts []gplot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+1e-9; v += step {
		ts = append(ts, gplot.Tick{Value: v, Label: fmt.Sprintf("%d", int(v))})
	}
	return ts
}
