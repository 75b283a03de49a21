package imgutil

import (
	"fmt"
	"image"
	"math"
	"strings"

	"github.com/catdog-ml/catdog/internal/userfile"
)

// Resizer decodes and resizes images, keeping its scratch memory from one call to the
// next. The zero value is ready to use. A Resizer is not safe for concurrent use: give
// each goroutine its own.
type Resizer struct {
	// MaxPixels limits the declared width x height of decoded images; 0 means MaxPixels.
	MaxPixels int

	tmp    []uint8     // horizontal pass output
	out    [3][]uint8  // resized planes
	src    [3][]uint8  // deinterleaved source planes (non-YCbCr images)
	acc    []int32     // vertical pass accumulators
	wcache [2]*weights // last weight tables, reused when the geometry repeats
}

// DecodeResize decodes the image in data (checking its declared size first) and resizes it
// to size x size RGB into dst (size*size*3 bytes, HWC order). It returns the image's
// header information, which holds the original size.
func (z *Resizer) DecodeResize(data []byte, size int, filter Filter, dst []uint8) (Config, error) {
	if err := checkArgs(size, filter, dst); err != nil {
		return Config{}, err
	}
	cfg, cost, err := DecodeCost(data) // the header, read once
	if err != nil {
		return cfg, err
	}
	limit := z.MaxPixels
	if limit <= 0 {
		limit = MaxPixels
	}
	// Over the pixel limit, decodeChecked says so; under it, an image may still cost too much.
	if cost > MaxDecodeBytes && int64(cfg.Width)*int64(cfg.Height) <= int64(limit) {
		return cfg, fmt.Errorf("%w: decoding this %dx%d %s would take about %s, over the %s one image may take",
			ErrTooLarge, cfg.Width, cfg.Height, strings.ToUpper(cfg.Format), userfile.Bytes(cost), userfile.Bytes(MaxDecodeBytes))
	}
	img, cfg, err := decodeChecked(data, cfg, z.MaxPixels)
	if err != nil {
		return cfg, err
	}
	return cfg, z.Resize(img, size, filter, dst)
}

// MaxDecodeBytes bounds the memory decoding and resizing one image may take, as DecodeCost
// estimates it from the header before anything is decoded: 1 GiB, more than a 50-megapixel
// 16-bit RGBA PNG takes. What it refuses (ErrTooLarge) is the image under the pixel limit
// whose shape or encoding costs far more than its pixels: a 1 x 50,000,000 PNG, whose
// resizing would hold 50,000,000 rows, or a progressive CMYK JPEG of over 39 megapixels.
const MaxDecodeBytes = 1 << 30

// maxResize is the largest side the resampler itself makes.
const maxResize = 4096

func checkArgs(size int, filter Filter, dst []uint8) error {
	if size < 1 || size > maxResize {
		return fmt.Errorf("imgutil: size %d outside 1..%d", size, maxResize)
	}
	if filter < 0 || int(filter) >= len(filterNames) {
		return fmt.Errorf("imgutil: unknown filter %d", int(filter))
	}
	if len(dst) < size*size*3 {
		return fmt.Errorf("imgutil: destination holds %d bytes, need %d for %dx%dx3", len(dst), size*size*3, size, size)
	}
	return nil
}

// plane is one 8-bit channel.
type plane struct {
	pix       []uint8
	w, h, str int
}

func (p plane) ok() bool {
	return p.w > 0 && p.h > 0 && p.str >= p.w && len(p.pix) >= (p.h-1)*p.str+p.w
}

// Resize resizes img to size x size RGB into dst (size*size*3 bytes, HWC order).
func (z *Resizer) Resize(img image.Image, size int, filter Filter, dst []uint8) error {
	if err := checkArgs(size, filter, dst); err != nil {
		return err
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return fmt.Errorf("imgutil: %w", ErrEmpty)
	}
	if int64(b.Dx())*int64(b.Dy()) > 1<<31 {
		return fmt.Errorf("imgutil: %w: %dx%d", ErrTooLarge, b.Dx(), b.Dy())
	}
	if s := scratch(int64(b.Dx()), int64(b.Dy())); s > MaxDecodeBytes {
		return fmt.Errorf("imgutil: %w: resizing a %dx%d image would take about %s, over the %s one image may take", ErrTooLarge, b.Dx(), b.Dy(), userfile.Bytes(s), userfile.Bytes(MaxDecodeBytes))
	}
	n := size * size
	for i := range z.out {
		z.out[i] = grow(z.out[i], n)
	}
	dst = dst[:n*3]
	switch m := img.(type) {
	case *image.YCbCr:
		if y, cb, cr, ok := ycbcrPlanes(m); ok {
			z.resizePlane(y, size, filter, z.out[0])
			z.resizePlane(cb, size, filter, z.out[1])
			z.resizePlane(cr, size, filter, z.out[2])
			ycbcrToRGB(dst, z.out[0], z.out[1], z.out[2])
			return nil
		}
	case *image.Gray:
		p := plane{m.Pix, b.Dx(), b.Dy(), m.Stride}
		if p.ok() {
			z.resizePlane(p, size, filter, z.out[0])
			for i, v := range z.out[0] {
				dst[3*i], dst[3*i+1], dst[3*i+2] = v, v, v
			}
			return nil
		}
	}
	p := z.rgbPlanes(img)
	for c := range 3 {
		z.resizePlane(p[c], size, filter, z.out[c])
	}
	r, g, bl := z.out[0], z.out[1], z.out[2]
	for i := range n {
		dst[3*i], dst[3*i+1], dst[3*i+2] = r[i], g[i], bl[i]
	}
	return nil
}

func grow(b []uint8, n int) []uint8 {
	if cap(b) < n {
		return make([]uint8, n)
	}
	return b[:n]
}

// ycbcrPlanes returns the three planes of m at their own resolutions.
func ycbcrPlanes(m *image.YCbCr) (y, cb, cr plane, ok bool) {
	r := m.Rect
	if r.Min != (image.Point{}) {
		return y, cb, cr, false
	}
	w, h := r.Dx(), r.Dy()
	cw, ch := w, h
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422:
		cw = (w + 1) / 2
	case image.YCbCrSubsampleRatio420:
		cw, ch = (w+1)/2, (h+1)/2
	case image.YCbCrSubsampleRatio440:
		ch = (h + 1) / 2
	case image.YCbCrSubsampleRatio411:
		cw = (w + 3) / 4
	case image.YCbCrSubsampleRatio410:
		cw, ch = (w+3)/4, (h+1)/2
	default:
		return y, cb, cr, false
	}
	y = plane{m.Y, w, h, m.YStride}
	cb = plane{m.Cb, cw, ch, m.CStride}
	cr = plane{m.Cr, cw, ch, m.CStride}
	return y, cb, cr, y.ok() && cb.ok() && cr.ok()
}

// ycbcrToRGB converts full-resolution planes to interleaved RGB with the same integer
// arithmetic as color.YCbCrToRGB.
func ycbcrToRGB(dst, ys, cbs, crs []uint8) {
	cbs, crs = cbs[:len(ys)], crs[:len(ys)]
	dst = dst[:3*len(ys)]
	for i, yv := range ys {
		yy1 := int32(yv) * 0x10101
		cb1 := int32(cbs[i]) - 128
		cr1 := int32(crs[i]) - 128
		r := yy1 + 91881*cr1
		if uint32(r)&0xff000000 == 0 {
			r >>= 16
		} else {
			r = ^(r >> 31)
		}
		g := yy1 - 22554*cb1 - 46802*cr1
		if uint32(g)&0xff000000 == 0 {
			g >>= 16
		} else {
			g = ^(g >> 31)
		}
		b := yy1 + 116130*cb1
		if uint32(b)&0xff000000 == 0 {
			b >>= 16
		} else {
			b = ^(b >> 31)
		}
		d := dst[3*i : 3*i+3 : 3*i+3]
		d[0], d[1], d[2] = uint8(r), uint8(g), uint8(b)
	}
}

// rgbPlanes splits any image into R, G and B planes, compositing over white.
func (z *Resizer) rgbPlanes(img image.Image) [3]plane {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	for i := range z.src {
		z.src[i] = grow(z.src[i], w*h)
	}
	R, G, B := z.src[0], z.src[1], z.src[2]
	switch m := img.(type) {
	case *image.RGBA: // premultiplied: c + (255 - a) is c over white
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range w {
				p := row[4*x : 4*x+4 : 4*x+4]
				wa := 255 - p[3]
				i := y*w + x
				R[i], G[i], B[i] = p[0]+wa, p[1]+wa, p[2]+wa
			}
		}
	case *image.NRGBA:
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range w {
				p := row[4*x : 4*x+4 : 4*x+4]
				a := uint32(p[3])
				wa := (255 - a) * 255
				i := y*w + x
				R[i] = uint8((uint32(p[0])*a + wa + 127) / 255)
				G[i] = uint8((uint32(p[1])*a + wa + 127) / 255)
				B[i] = uint8((uint32(p[2])*a + wa + 127) / 255)
			}
		}
	default:
		for y := range h {
			for x := range w {
				r, g, bl, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				wa := 0xffff - a
				i := y*w + x
				R[i], G[i], B[i] = uint8((r+wa)>>8), uint8((g+wa)>>8), uint8((bl+wa)>>8)
			}
		}
	}
	return [3]plane{{R, w, h, w}, {G, w, h, w}, {B, w, h, w}}
}

// weights is a resampling table from in samples to out samples.
type weights struct {
	in, out int
	filter  Filter
	start   []int   // first source sample of each output sample
	count   []int   // number of source samples
	stride  int     // coefficients per output sample in coef
	coef    []int32 // fixed point, precisionBits fractional bits
}

const precisionBits = 22

func kernel(f Filter) (support float64, k func(float64) float64) {
	switch f {
	case CatmullRom:
		return 2, func(x float64) float64 {
			const a = -0.5
			x = math.Abs(x)
			switch {
			case x < 1:
				return ((a+2)*x-(a+3))*x*x + 1
			case x < 2:
				return (((x-5)*x+8)*x - 4) * a
			}
			return 0
		}
	default:
		return 1, func(x float64) float64 {
			x = math.Abs(x)
			if x < 1 {
				return 1 - x
			}
			return 0
		}
	}
}

// makeWeights builds the table mapping in samples to out samples. Sample i covers
// [i, i+1) in its own coordinates; output sample j is centred at (j+0.5)*in/out.
func makeWeights(in, out int, f Filter) *weights {
	w := &weights{in: in, out: out, filter: f, start: make([]int, out), count: make([]int, out)}
	scale := float64(in) / float64(out)
	if f == Nearest {
		w.stride = 1
		w.coef = make([]int32, out)
		for j := range out {
			s := int((float64(j) + 0.5) * scale)
			w.start[j], w.count[j], w.coef[j] = min(s, in-1), 1, 1<<precisionBits
		}
		return w
	}
	support, k := kernel(f)
	fs := max(scale, 1)
	support *= fs
	w.stride = int(math.Ceil(support))*2 + 1
	w.coef = make([]int32, out*w.stride)
	tmp := make([]float64, w.stride)
	for j := range out {
		center := (float64(j) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		if hi-lo > w.stride {
			hi = lo + w.stride
		}
		sum := 0.0
		for x := lo; x < hi; x++ {
			v := k((float64(x) - center + 0.5) / fs)
			tmp[x-lo] = v
			sum += v
		}
		// Trim zero weights at both ends.
		for lo < hi && tmp[0] == 0 {
			copy(tmp, tmp[1:hi-lo])
			lo++
		}
		for hi > lo && tmp[hi-lo-1] == 0 {
			hi--
		}
		if hi == lo || sum == 0 { // cannot happen with these kernels; stay safe
			c := min(max(int(center), 0), in-1)
			w.start[j], w.count[j], w.coef[j*w.stride] = c, 1, 1<<precisionBits
			continue
		}
		w.start[j], w.count[j] = lo, hi-lo
		for x := range hi - lo {
			w.coef[j*w.stride+x] = int32(math.Round(tmp[x] / sum * (1 << precisionBits)))
		}
	}
	return w
}

// weightsFor returns a table, reusing the last ones built.
func (z *Resizer) weightsFor(in, out int, f Filter) *weights {
	for _, w := range z.wcache {
		if w != nil && w.in == in && w.out == out && w.filter == f {
			return w
		}
	}
	w := makeWeights(in, out, f)
	z.wcache[1] = z.wcache[0]
	z.wcache[0] = w
	return w
}

func clamp8(v int32) uint8 {
	v >>= precisionBits
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}

// resizePlane resamples p to size x size into dst: rows first, then columns.
func (z *Resizer) resizePlane(p plane, size int, f Filter, dst []uint8) {
	wx := z.weightsFor(p.w, size, f)
	wy := z.weightsFor(p.h, size, f)
	// Horizontal pass: p.h rows of size samples.
	z.tmp = grow(z.tmp, p.h*size)
	tmp := z.tmp
	const half = 1 << (precisionBits - 1)
	if p.w == size {
		for y := range p.h {
			copy(tmp[y*size:(y+1)*size], p.pix[y*p.str:y*p.str+p.w])
		}
	} else {
		for y := range p.h {
			src := p.pix[y*p.str : y*p.str+p.w]
			row := tmp[y*size : (y+1)*size]
			for j := range row {
				s, n := wx.start[j], wx.count[j]
				c := wx.coef[j*wx.stride:][:n]
				px := src[s:][:n]
				acc := int32(half)
				if n == 2 { // upscaling: most outputs mix two samples
					acc += int32(px[0])*c[0] + int32(px[1])*c[1]
				} else {
					for k := range c {
						acc += int32(px[k]) * c[k]
					}
				}
				row[j] = clamp8(acc)
			}
		}
	}
	// Vertical pass.
	dst = dst[:size*size]
	if p.h == size {
		copy(dst, tmp[:size*size])
		return
	}
	if cap(z.acc) < size {
		z.acc = make([]int32, size)
	}
	acc := z.acc[:size]
	for j := range size {
		s, n := wy.start[j], wy.count[j]
		c := wy.coef[j*wy.stride:][:n]
		out := dst[j*size:][:size]
		row0 := tmp[s*size:][:size]
		switch n {
		case 1:
			c0 := c[0]
			for i, v := range row0 {
				out[i] = clamp8(half + int32(v)*c0)
			}
			continue
		case 2: // upscaling: two rows, one pass
			c0, c1 := c[0], c[1]
			row1 := tmp[(s+1)*size:][:size]
			for i, v := range row0 {
				out[i] = clamp8(half + int32(v)*c0 + int32(row1[i])*c1)
			}
			continue
		}
		// First tap initialises, middle taps add, last tap adds and clamps.
		c0 := c[0]
		for i, v := range row0 {
			acc[i] = half + int32(v)*c0
		}
		for k := 1; k < n-1; k++ {
			ck := c[k]
			row := tmp[(s+k)*size:][:size]
			for i, v := range row {
				acc[i] += int32(v) * ck
			}
		}
		cl := c[n-1]
		last := tmp[(s+n-1)*size:][:size]
		for i, v := range last {
			out[i] = clamp8(acc[i] + int32(v)*cl)
		}
	}
}
