package plot

import (
	"fmt"
	"image"
	"image/color"
	"strings"

	xdraw "golang.org/x/image/draw"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// GridImage is one photo of an image grid: RGB pixels in height×width×3 order (HWC,
// uint8), and a caption of one or more lines.
type GridImage struct {
	Pixels        []uint8
	Width, Height int
	Caption       string
	// Highlight draws a red frame around the photo (a wrong prediction, say).
	Highlight bool
}

// ImageGrid lays photos out in rows of cols, each scaled to fit a square of thumb
// pixels with its caption under it and an optional title above, and returns PNG bytes.
func ImageGrid(title string, cols, thumb int, images []GridImage) ([]byte, error) {
	if len(images) == 0 {
		return nil, fmt.Errorf("plot: image grid without images")
	}
	if cols < 1 || thumb < 8 {
		return nil, fmt.Errorf("plot: image grid needs at least 1 column and 8-pixel thumbnails, got %d and %d", cols, thumb)
	}
	lines := 1
	for i, im := range images {
		if im.Width < 1 || im.Height < 1 || len(im.Pixels) != im.Width*im.Height*3 {
			return nil, fmt.Errorf("plot: image %d: %d bytes for %dx%d RGB", i, len(im.Pixels), im.Width, im.Height)
		}
		lines = max(lines, strings.Count(im.Caption, "\n")+1)
	}
	cols = min(cols, len(images))
	rows := (len(images) + cols - 1) / cols
	px := func(n float64) vg.Length { return vg.Length(n) * vg.Inch / dpi }
	const pad, lineH = 10.0, 17.0
	titleH := 0.0
	if title != "" {
		titleH = 34
	}
	// A cell is as wide as its photo or its widest caption line, whichever is wider: a long
	// class name must not run into the next caption.
	cellW, cellH := float64(thumb)+2*pad, float64(thumb)+pad+float64(lines)*lineH+2*pad
	for _, im := range images {
		for k, line := range strings.Split(im.Caption, "\n") {
			cellW = max(cellW, float64(textStyle(11, textGray, k == 0).Width(line)/px(1))+pad)
		}
	}
	w, h := float64(cols)*cellW, titleH+float64(rows)*cellH
	c := newCanvas(px(w), px(h))
	dc := draw.New(c)
	if title != "" {
		dc.FillText(textStyle(13, color.Black, false), vg.Point{X: px(w / 2), Y: px(h - titleH/2)}, title)
	}
	for i, im := range images {
		r, col := i/cols, i%cols
		// Cell's top-left in pixels from the image's top-left.
		left, top := float64(col)*cellW+(cellW-float64(thumb))/2, titleH+float64(r)*cellH+pad
		scaled := fit(im, thumb)
		sw, sh := float64(scaled.Bounds().Dx()), float64(scaled.Bounds().Dy())
		ox, oy := left+(float64(thumb)-sw)/2, top+(float64(thumb)-sh)/2
		rect := vg.Rectangle{Min: vg.Point{X: px(ox), Y: px(h - oy - sh)}, Max: vg.Point{X: px(ox + sw), Y: px(h - oy)}}
		c.DrawImage(rect, scaled)
		if im.Highlight {
			m := px(2)
			dc.StrokeLines(draw.LineStyle{Color: seriesColor(3), Width: vg.Points(2.5)}, []vg.Point{
				{X: rect.Min.X - m, Y: rect.Min.Y - m}, {X: rect.Max.X + m, Y: rect.Min.Y - m},
				{X: rect.Max.X + m, Y: rect.Max.Y + m}, {X: rect.Min.X - m, Y: rect.Max.Y + m},
				{X: rect.Min.X - m, Y: rect.Min.Y - m}})
		}
		for k, line := range strings.Split(im.Caption, "\n") {
			y := top + float64(thumb) + pad + float64(k)*lineH + lineH/2
			sty := textStyle(11, textGray, k == 0)
			dc.FillText(sty, vg.Point{X: px(left + float64(thumb)/2), Y: px(h - y)}, line)
		}
	}
	return encode(c)
}

// fit scales an HWC RGB photo to fit a side×side square, keeping its aspect ratio.
func fit(im GridImage, side int) image.Image {
	src := image.NewRGBA(image.Rect(0, 0, im.Width, im.Height))
	for i, j := 0, 0; i < len(im.Pixels); i, j = i+3, j+4 {
		src.Pix[j], src.Pix[j+1], src.Pix[j+2], src.Pix[j+3] = im.Pixels[i], im.Pixels[i+1], im.Pixels[i+2], 0xff
	}
	w, h := side, side
	if im.Width > im.Height {
		h = max(1, side*im.Height/im.Width)
	} else if im.Height > im.Width {
		w = max(1, side*im.Width/im.Height)
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Src, nil)
	return dst
}
