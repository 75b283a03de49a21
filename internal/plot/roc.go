package plot

import (
	"fmt"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// ROCCurve is one model's ROC curve: true against false positive rates, and its area.
type ROCCurve struct {
	Name     string
	FPR, TPR []float64
	AUC      float64
}

// ROC draws ROC curves over the chance diagonal, each named with its AUC in the legend,
// and returns the chart as PNG bytes.
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
		p.Add(l)
		name := fmt.Sprintf("AUC %.3f", c.AUC)
		if c.Name != "" {
			name = fmt.Sprintf("%s (AUC %.3f)", c.Name, c.AUC)
		}
		p.Legend.Add(name, l)
	}
	p.Legend.Add("chance (AUC 0.5)", diag)
	p.Legend.Top = false
	p.Legend.XOffs = -vg.Points(6)
	p.Legend.YOffs = vg.Points(6)
	return render(p, 4.6*vg.Inch, 4.4*vg.Inch)
}
