package plot

import (
	"fmt"
	"math"

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
	// LegendBottom puts the legend in the lower right corner (curves that rise).
	LegendBottom bool
}

// Curves draws each series as a line (with dots when there are few points) and returns
// the chart as PNG bytes.
func Curves(title, xlabel, ylabel string, opts CurveOptions, series ...Series) ([]byte, error) {
	if len(series) == 0 {
		return nil, fmt.Errorf("plot: curves without series")
	}
	p := newChart(title, xlabel, ylabel)
	legend := p.Legend
	legend.Padding = vg.Points(3)
	legend.Top = !opts.LegendBottom
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
			xys = append(xys, plotter.XY{X: s.X[j], Y: s.Y[j]})
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
	width := legendWidth(legend, series)
	c := newCanvas(w+width, h)
	dc := draw.New(c)
	p.Draw(draw.Crop(dc, 0, -width, 0, 0))
	legend.Left = true
	legend.Top = true
	legend.Draw(draw.Crop(dc, w+vg.Points(4), 0, 0, -vg.Points(28)))
	return encode(c)
}

// legendWidth is how wide a legend beside the plot must be for the series' names.
func legendWidth(l gplot.Legend, series []Series) vg.Length {
	widest := vg.Length(0)
	for _, s := range series {
		widest = max(widest, l.TextStyle.Rectangle(s.Name).Max.X)
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
