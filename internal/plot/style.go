package plot

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	xfont "golang.org/x/image/font"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// dpi is the resolution of every PNG the package writes.
const dpi = 96

// seriesColor returns the i-th colour of the palette shared by every chart (the
// colour-blind-friendly "deep" palette), cycling after ten.
func seriesColor(i int) color.RGBA {
	p := [...]uint32{0x4c72b0, 0xdd8452, 0x55a868, 0xc44e52, 0x8172b3, 0x937860, 0xda8bc3, 0x8c8c8c, 0xccb974, 0x64b5cd}
	c := p[i%len(p)]
	return color.RGBA{R: uint8(c >> 16), G: uint8(c >> 8), B: uint8(c), A: 0xff}
}

var (
	gridGray = color.Gray{Y: 0xe4}
	textGray = color.Gray{Y: 0x30}
)

// newChart returns a plot with the package's style: title, axis labels, light grid.
func newChart(title, xlabel, ylabel string) *gplot.Plot {
	p := gplot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, a := range []*gplot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(11)
		a.Tick.Label.Font.Size = vg.Points(9)
		a.Tick.Label.Color = textGray
		a.Color = textGray
		a.Tick.Color = textGray
	}
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font} {
		f.Typeface, f.Variant = "Liberation", "Sans"
	}
	g := plotter.NewGrid()
	g.Vertical.Color = gridGray
	g.Horizontal.Color = gridGray
	p.Add(g)
	return p
}

// stepTicks marks multiples of a step.
type stepTicks float64

// Ticks implements plot.Ticker.
func (s stepTicks) Ticks(lo, hi float64) []gplot.Tick {
	var ts []gplot.Tick
	decimals := max(0, int(-math.Floor(math.Log10(float64(s))+1e-9)))
	if r := float64(s) / math.Pow(10, math.Floor(math.Log10(float64(s))+1e-9)); math.Abs(r-math.Round(r)) > 1e-6 {
		decimals++ // 2.5, 0.25
	}
	for k := math.Ceil(lo / float64(s)); k*float64(s) <= hi+1e-9; k++ {
		v := k * float64(s)
		ts = append(ts, gplot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64)})
	}
	return ts
}

// niceTicks marks about six round values (steps of 1, 2 or 5 times a power of ten).
type niceTicks struct{}

// Ticks implements plot.Ticker.
func (niceTicks) Ticks(lo, hi float64) []gplot.Tick {
	if !(hi > lo) {
		return gplot.DefaultTicks{}.Ticks(lo, hi)
	}
	raw := (hi - lo) / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	return stepTicks(step).Ticks(lo, hi)
}

// textStyle is a Liberation Sans style of the given size and colour, centred on its point.
func textStyle(size float64, c color.Color, bold bool) draw.TextStyle {
	f := font.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Points(size)}
	if bold {
		f.Weight = xfont.WeightBold
	}
	return draw.TextStyle{
		Color:   c,
		Font:    f,
		XAlign:  draw.XCenter,
		YAlign:  draw.YCenter,
		Handler: gplot.DefaultTextHandler,
	}
}

// newCanvas returns a white PNG canvas of w×h inches.
func newCanvas(w, h vg.Length) *vgimg.Canvas {
	return vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
}

// encode writes the canvas as PNG bytes.
func encode(c *vgimg.Canvas) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plot: encoding PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// render draws p on a w×h canvas and encodes it.
func render(p *gplot.Plot, w, h vg.Length) ([]byte, error) {
	c := newCanvas(w, h)
	p.Draw(draw.New(c))
	return encode(c)
}

// margin is the blank border of the charts drawn by pad.
const margin = 6 * vg.Millimeter / 2 // 3 mm

// pad returns dc less a blank margin on every side, so that nothing touches the edges.
func pad(dc draw.Canvas) draw.Canvas { return draw.Crop(dc, margin, -margin, margin, -margin) }

// maxName is the most characters of a class name an axis or legend shows.
const maxName = 28

// shortName cuts a name longer than maxName characters, ending it with an ellipsis.
func shortName(s string) string {
	r := []rune(s)
	if len(r) <= maxName {
		return s
	}
	return string(r[:maxName-1]) + "…"
}

// layout is the canvas a plot needs for a data area of a given size.
type layout struct {
	// W and H are the canvas size; Left is where the data area starts from the canvas's
	// left edge (the width of the y axis, its labels and ticks).
	W, H, Left vg.Length
}

// fitData sizes a canvas so that p's data area is dataW×dataH: the space around it (the
// title, the axes with their labels and ticks) depends on the labels, not on the canvas.
func fitData(p *gplot.Plot, dataW, dataH vg.Length) layout {
	pw, ph := dataW+6*vg.Inch, dataH+6*vg.Inch
	probe := draw.New(vgimg.NewWith(vgimg.UseWH(pw, ph), vgimg.UseDPI(4)))
	da := p.DataCanvas(probe)
	return layout{
		W:    pw + dataW - (da.Max.X - da.Min.X),
		H:    ph + dataH - (da.Max.Y - da.Min.Y),
		Left: da.Min.X - probe.Min.X,
	}
}

// slantTicks slants an axis's tick labels by 45 degrees, each ending at its tick, for
// names too long to stand side by side.
func slantTicks(a *gplot.Axis) {
	a.Tick.Label.Rotation = math.Pi / 4
	a.Tick.Label.XAlign = draw.XRight
	a.Tick.Label.YAlign = draw.YTop
}
