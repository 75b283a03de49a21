package plot

import (
	"fmt"
	"image/color"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ConfusionMatrix draws counts[t][p] (true class t predicted as p, classes in order) as a
// heat map: rows are the true classes from the top, columns the predicted ones, each cell
// shaded by its share of its row (blue on the diagonal, where the prediction is right, red
// elsewhere) and labelled with the count, and with that share while the cells are large
// enough (up to eight classes). Cells shrink as classes are added (a 10×10 matrix is
// about 7 inches wide), long names are cut and slanted. It returns PNG bytes.
func ConfusionMatrix(title string, classes []string, counts [][]int) ([]byte, error) {
	return confusion(title, classes, counts, false)
}

// ConfusionMatrixNormalized draws the matrix of ConfusionMatrix normalised by row
// (scikit-learn's confusion_matrix(normalize="true")): each cell is labelled with its
// share of its row, the samples of that true class (the diagonal is each class's recall),
// and with its count while the cells are large enough. It returns PNG bytes.
func ConfusionMatrixNormalized(title string, classes []string, counts [][]int) ([]byte, error) {
	return confusion(title, classes, counts, true)
}

func confusion(title string, classes []string, counts [][]int, normalized bool) ([]byte, error) {
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
	m := cells{counts: counts, normalized: normalized, cell: 1.4 * vg.Inch}
	if n > 3 {
		m.cell = vg.Length(min(1, max(7.2/float64(n), 0.3))) * vg.Inch
	}
	p := newChart(title, "predicted", "true")
	p.Add(m)
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
	names := make([]string, n)
	rev := make([]string, n)
	for i, c := range classes {
		names[i] = shortName(c)
		rev[n-1-i] = names[i]
	}
	p.X.Tick.Marker = nominal{names: names}
	p.Y.Tick.Marker = nominal{names: rev}
	p.X.Padding, p.Y.Padding = 0, 0
	p.X.Tick.Label.Font.Size = vg.Points(11)
	p.Y.Tick.Label.Font.Size = vg.Points(11)
	widest := vg.Length(0)
	for _, s := range names {
		widest = max(widest, p.X.Tick.Label.Width(s))
	}
	if widest > 0.9*m.cell {
		slantTicks(&p.X)
	}
	side := vg.Length(n) * m.cell
	l := fitData(p, side, side)
	// A slanted name may reach left of the y axis's labels: widen the canvas for it.
	left := vg.Length(0)
	for i, s := range names {
		r := p.X.Tick.Label.Rectangle(s)
		left = max(left, -r.Min.X-l.Left-(vg.Length(i)+0.5)*m.cell+vg.Points(4))
	}
	c := newCanvas(l.W+left+2*margin, l.H+2*margin)
	p.Draw(draw.Crop(pad(draw.New(c)), left, 0, 0, 0))
	return encode(c)
}

// cells draws the confusion matrix, row 0 at the top.
type cells struct {
	counts     [][]int
	normalized bool
	// cell is the side of a cell, which sets the size of the text in it.
	cell vg.Length
}

// Plot implements plot.Plotter.
func (m cells) Plot(c draw.Canvas, p *gplot.Plot) {
	tx, ty := p.Transforms(&c)
	n := len(m.counts)
	inches := float64(m.cell / vg.Inch)
	big := min(16, max(7, 16*inches)) // points
	small := min(11, max(6, 0.7*big))
	twoLines := inches >= 0.9
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
			c.StrokeLines(draw.LineStyle{Color: color.White, Width: vg.Points(min(2, 2*inches))},
				[]vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}, {X: x0, Y: y0}})
			if inches < 0.4 {
				continue // too small for text: the shades tell
			}
			ink, bold := color.Color(textGray), v > 0
			switch {
			case share > 0.55:
				ink = color.White
			case v == 0:
				ink = color.Gray{Y: 0xa0} // empty cells fade, the confusions stand out
			}
			first, second := m.texts(v, total, share, n)
			mid := vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}
			if !twoLines {
				c.FillText(textStyle(big, ink, bold), mid, first)
				continue
			}
			c.FillText(textStyle(big, ink, bold), vg.Point{X: mid.X, Y: mid.Y + vg.Points(big*0.55)}, first)
			c.FillText(textStyle(small, ink, false), vg.Point{X: mid.X, Y: mid.Y - vg.Points(small*0.9)}, second)
		}
	}
}

// texts are a cell's labels: the big one (the count, or the share of the row when
// normalised) and the small one under it when there is room.
func (m cells) texts(v, total int, share float64, n int) (first, second string) {
	pct := fmt.Sprintf("%.0f%%", 100*share)
	switch {
	case total == 0:
		pct = "–"
	case v > 0 && share < 0.005:
		pct = "<1%"
	case n <= 3:
		pct = fmt.Sprintf("%.1f%%", 100*share)
	case v < total && math.Round(100*share) == 100:
		pct = ">99%"
	}
	if !m.normalized {
		if n <= 3 {
			return fmt.Sprint(v), pct + " of row"
		}
		return fmt.Sprint(v), pct
	}
	if n <= 3 {
		return pct, fmt.Sprintf("%d of %d", v, total)
	}
	return pct, fmt.Sprint(v)
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
