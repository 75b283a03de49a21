package plot

import (
	"fmt"
	"image/color"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ConfusionMatrix draws counts[t][p] (true class t predicted as p, classes in order) as a
// heat map: rows are the true classes from the top, columns the predicted ones, each cell
// shaded by its share of its row (blue on the diagonal, where the prediction is right, red
// elsewhere) and labelled with the count and that share. It returns PNG bytes.
func ConfusionMatrix(title string, classes []string, counts [][]int) ([]byte, error) {
	n := len(classes)
	if n == 0 || len(counts) != n {
		return nil, fmt.Errorf("plot: confusion matrix of %d rows for %d classes", len(counts), n)
	}
	for i, row := range counts {
		if len(row) != n {
			return nil, fmt.Errorf("plot: confusion matrix row %d has %d cells for %d classes", i, len(row), n)
		}
		for _, v := range row {
			if v < 0 {
				return nil, fmt.Errorf("plot: negative count %d in confusion matrix", v)
			}
		}
	}
	p := newChart(title, "predicted", "true")
	p.Add(cells{counts: counts})
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
	p.X.Tick.Marker = nominal{names: classes}
	rev := make([]string, n)
	for i, c := range classes {
		rev[n-1-i] = c
	}
	p.Y.Tick.Marker = nominal{names: rev}
	p.X.Padding, p.Y.Padding = 0, 0
	p.X.Tick.Label.Font.Size = vg.Points(11)
	p.Y.Tick.Label.Font.Size = vg.Points(11)
	side := vg.Length(1.4*float64(n)+1.3) * vg.Inch
	return render(p, side, side)
}

// cells draws the confusion matrix, row 0 at the top.
type cells struct{ counts [][]int }

// Plot implements plot.Plotter.
func (m cells) Plot(c draw.Canvas, p *gplot.Plot) {
	tx, ty := p.Transforms(&c)
	n := len(m.counts)
	for t, row := range m.counts {
		total := 0
		for _, v := range row {
			total += v
		}
		for pr, v := range row {
			share := 0.0
			if total > 0 {
				share = float64(v) / float64(total)
			}
			y := float64(n - 1 - t)
			x0, x1 := tx(float64(pr)-0.5), tx(float64(pr)+0.5)
			y0, y1 := ty(y-0.5), ty(y+0.5)
			hue := seriesColor(0) // right: blue
			if t != pr {
				hue = seriesColor(3) // wrong: red
			}
			fill := blend(color.RGBA{R: 0xf7, G: 0xf7, B: 0xf7, A: 0xff}, hue, share)
			c.FillPolygon(fill, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
			c.StrokeLines(draw.LineStyle{Color: color.White, Width: vg.Points(2)},
				[]vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}, {X: x0, Y: y0}})
			ink := color.Color(textGray)
			if share > 0.55 {
				ink = color.White
			}
			mid := vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}
			c.FillText(textStyle(16, ink, true), vg.Point{X: mid.X, Y: mid.Y + vg.Points(9)}, fmt.Sprintf("%d", v))
			c.FillText(textStyle(11, ink, false), vg.Point{X: mid.X, Y: mid.Y - vg.Points(10)}, fmt.Sprintf("%.1f%% of row", 100*share))
		}
	}
}

// blend mixes a towards b by t in [0, 1].
func blend(a, b color.RGBA, t float64) color.RGBA {
	mix := func(x, y uint8) uint8 { return uint8(float64(x) + (float64(y)-float64(x))*t + 0.5) }
	return color.RGBA{R: mix(a.R, b.R), G: mix(a.G, b.G), B: mix(a.B, b.B), A: 0xff}
}

// nominal ticks the whole numbers 0..len(names)-1 with names.
type nominal struct{ names []string }

// Ticks implements plot.Ticker.
func (n nominal) Ticks(lo, hi float64) []gplot.Tick {
	ts := make([]gplot.Tick, len(n.names))
	for i, s := range n.names {
		ts[i] = gplot.Tick{Value: float64(i), Label: s}
	}
	return ts
}
