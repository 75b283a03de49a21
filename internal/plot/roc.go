package plot

import (
	"fmt"
	"unicode/utf8"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ROCCurve is one model's ROC curve, or one class's against the rest: true against false
// positive rates, and its area.
type ROCCurve struct {
	Name     string
	FPR, TPR []float64
	AUC      float64
}

// ROC draws ROC curves over the chance diagonal, each named with its AUC in the legend,
// and returns the chart as PNG bytes. Up to four curves with short names share the plot
// with their legend; more (one per class of a one-vs-rest chart, say), or longer names,
// put the legend beside the plot, names cut to 28 characters. Colours repeat after ten
// curves, dashed the second time round.
func ROC(title string, curves ...ROCCurve) ([]byte, error) {
	if len(curves) == 0 {
		return nil, fmt.Errorf("plot: ROC chart without curves")
	}
	p := newChart(title, "false positive rate", "true positive rate")
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1.01
	p.X.Tick.Marker, p.Y.Tick.Marker = stepTicks(0.2), stepTicks(0.2)
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	diag.Color = seriesColor(7)
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(diag)
	legend := p.Legend // drawn over the plot or beside it
	outside := len(curves) > 4
	var names []string
	for i, c := range curves {
		if len(c.FPR) != len(c.TPR) || len(c.FPR) < 2 {
			return nil, fmt.Errorf("plot: ROC curve %q needs as many (at least 2) false as true positive rates, got %d and %d", c.Name, len(c.FPR), len(c.TPR))
		}
		xys := make(plotter.XYs, len(c.FPR))
		for j := range xys {
			xys[j] = plotter.XY{X: c.FPR[j], Y: c.TPR[j]}
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("plot: ROC curve %q: %w", c.Name, err)
		}
		l.Color = seriesColor(i)
		l.Width = vg.Points(2)
		if i/10%2 == 1 {
			l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		}
		p.Add(l)
		name := fmt.Sprintf("AUC %.3f", c.AUC)
		if c.Name != "" {
			name = fmt.Sprintf("%s (AUC %.3f)", shortName(c.Name), c.AUC)
			outside = outside || utf8.RuneCountInString(c.Name) > 16
		}
		names = append(names, name)
		legend.Add(name, l)
	}
	legend.Add("chance (AUC 0.5)", diag)
	names = append(names, "chance (AUC 0.5)")
	w, h := 4.6*vg.Inch, 4.4*vg.Inch
	if !outside {
		legend.Top = false
		legend.XOffs = -vg.Points(6)
		legend.YOffs = vg.Points(6)
		p.Legend = legend
		c := newCanvas(w, h)
		p.Draw(pad(draw.New(c)))
		return encode(c)
	}
	legend.Left, legend.Top = true, true
	legend.Padding = vg.Points(2)
	width := legendWidth(legend, names)
	// Tall enough for the legend's entries.
	h = max(h, vg.Length(len(names))*(legend.TextStyle.Height("Ag")+legend.Padding)+vg.Points(60))
	c := newCanvas(w+width, h)
	dc := pad(draw.New(c))
	p.Draw(draw.Crop(dc, 0, -width, 0, 0))
	legend.Draw(draw.Crop(dc, w+vg.Points(4)-margin, 0, 0, -vg.Points(24)))
	return encode(c)
}
