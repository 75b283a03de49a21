package plot

import (
	"fmt"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Score is one model's bar in a Scores chart.
type Score struct {
	Name string
	// Value is the model's score in [0, 1] (test accuracy, say).
	Value float64
	// Reference is a published score for a comparable model, drawn as a marker; NaN or 0
	// means none.
	Reference float64
	// Low and High, when High > 0, bound the score's 95 % interval, drawn as an error bar.
	Low, High float64
}

// Scores draws one horizontal bar per model in the given order from the top, each
// labelled with its value as a percentage, its 95 % interval as an error bar, published
// references as triangles and chance, the score of guessing (0.5 for two classes, 1/C for
// C), as a dashed line. It returns PNG bytes.
func Scores(title, refName string, chance float64, scores []Score) ([]byte, error) {
	if len(scores) == 0 {
		return nil, fmt.Errorf("plot: score chart without scores")
	}
	if math.IsNaN(chance) || chance <= 0 || chance >= 1 {
		return nil, fmt.Errorf("plot: chance %v is not in (0, 1)", chance)
	}
	n := len(scores)
	vals := make(plotter.Values, n)
	names := make([]string, n)
	var refs plotter.XYs
	var errs []errXY
	labels := plotter.XYLabels{}
	for i, s := range scores {
		if math.IsNaN(s.Value) || s.Value < 0 || s.Value > 1 {
			return nil, fmt.Errorf("plot: score %v of %q is not in [0, 1]", s.Value, s.Name)
		}
		y := float64(n - 1 - i) // first on top
		vals[n-1-i] = s.Value
		names[n-1-i] = s.Name
		if s.High > 0 {
			errs = append(errs, errXY{x: s.Value, y: y, lo: s.Value - s.Low, hi: s.High - s.Value})
		}
		// The label goes right of the bar, its error bar and a reference marker close by.
		end := max(s.Value, s.High)
		if r := s.Reference; r > s.Value-0.02 && r < end+0.09 {
			end = max(end, r+0.01)
		}
		at := end + 0.012
		labels.XYs = append(labels.XYs, plotter.XY{X: at, Y: y})
		labels.Labels = append(labels.Labels, fmt.Sprintf("%.1f %%", 100*s.Value))
		if s.Reference > 0 && !math.IsNaN(s.Reference) {
			refs = append(refs, plotter.XY{X: s.Reference, Y: y})
		}
	}
	p := newChart(title, "test accuracy", "")
	p.Y.Tick.Marker = nominal{names: names}
	p.Y.Tick.Label.Font.Size = vg.Points(10)
	p.Y.Padding = 0
	p.X.Tick.Marker = percentTicks{}
	guess, err := plotter.NewLine(plotter.XYs{{X: chance, Y: -0.5}, {X: chance, Y: float64(n) - 0.5}})
	if err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	guess.Color = seriesColor(7)
	guess.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	bars, err := plotter.NewBarChart(vals, vg.Points(16))
	if err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	bars.Horizontal = true
	bars.Color = seriesColor(0)
	bars.LineStyle.Width = 0
	p.Add(bars)
	p.Add(guess)
	p.Legend.Add("ours", bars)
	lab, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i].XAlign = draw.XLeft
		lab.TextStyle[i].YAlign = draw.YCenter
		lab.TextStyle[i].Font.Size = vg.Points(9)
		lab.TextStyle[i].Font.Typeface, lab.TextStyle[i].Font.Variant = "Liberation", "Sans"
		lab.TextStyle[i].Color = textGray
	}
	p.Add(lab)
	if len(errs) > 0 {
		eb, err := plotter.NewXErrorBars(errBars(errs))
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		eb.LineStyle.Color = textGray
		eb.LineStyle.Width = vg.Points(1.2)
		eb.CapWidth = vg.Points(6)
		p.Add(eb)
		p.Legend.Add("95 % interval", errThumb{eb.LineStyle})
	}
	if len(refs) > 0 {
		sc, err := plotter.NewScatter(refs)
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: seriesColor(1), Radius: vg.Points(5), Shape: draw.PyramidGlyph{}}
		p.Add(sc)
		p.Legend.Add(refName, sc)
	}
	p.Legend.Add(fmt.Sprintf("chance (%.3g %%)", 100*chance), guess)
	p.X.Min, p.X.Max = 0, 1.12
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
	legend := p.Legend
	legend.Padding = vg.Points(3)
	p.Legend = gplot.NewLegend()
	legend.Top, legend.Left = true, true
	w, h := 6.2*vg.Inch, vg.Length(1.2+0.34*float64(n))*vg.Inch
	lw := vg.Points(130)
	c := newCanvas(w+lw, h)
	dc := draw.New(c)
	p.Draw(draw.Crop(dc, 0, -lw, 0, 0))
	legend.Draw(draw.Crop(dc, w+vg.Points(6), 0, 0, -vg.Points(30)))
	return encode(c)
}

// errThumb draws an error bar's legend entry: a horizontal line with end caps.
type errThumb struct{ style draw.LineStyle }

// Thumbnail implements plot.Thumbnailer.
func (e errThumb) Thumbnail(c *draw.Canvas) {
	y := (c.Min.Y + c.Max.Y) / 2
	h := (c.Max.Y - c.Min.Y) / 3
	c.StrokeLine2(e.style, c.Min.X, y, c.Max.X, y)
	c.StrokeLine2(e.style, c.Min.X, y-h, c.Min.X, y+h)
	c.StrokeLine2(e.style, c.Max.X, y-h, c.Max.X, y+h)
}

// errXY is one bar's value and interval, as errBars gives them to plotter.XErrorBars.
type errXY struct{ x, y, lo, hi float64 }

type errBars []errXY

func (e errBars) Len() int                        { return len(e) }
func (e errBars) XY(i int) (float64, float64)     { return e[i].x, e[i].y }
func (e errBars) XError(i int) (float64, float64) { return e[i].lo, e[i].hi }

// percentTicks marks every 10 % up to 100 %.
type percentTicks struct{}

// Ticks implements plot.Ticker.
func (percentTicks) Ticks(lo, hi float64) []gplot.Tick {
	var ts []gplot.Tick
	for v := math.Ceil(lo*10) / 10; v <= min(hi, 1)+1e-9; v += 0.1 {
		ts = append(ts, gplot.Tick{Value: v, Label: fmt.Sprintf("%.0f %%", 100*v)})
	}
	return ts
}
