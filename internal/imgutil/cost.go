package imgutil

import (
	"bytes"
	"encoding/binary"
)

// DecodeCost reads only the header of the image in data and estimates the memory, in
// bytes, that Resizer.DecodeResize holds at its peak to decode and resize it: the decoded
// image as its format's decoder allocates it (8 bytes a pixel for a 16-bit RGBA PNG, 1.5
// for a 4:2:0 JPEG), what the decoder adds on the way (an interlaced PNG's passes, a
// progressive JPEG's coefficients, a CMYK or RGB JPEG's conversion), the R, G and B planes
// the resizer makes of an image that is neither YCbCr nor 8-bit gray, and the resizer's
// scratch for any size up to MaxSize. The estimate errs on the high side. It leaves out
// data itself and the short-lived garbage of the conversion to RGB (for 16-bit and CMYK
// images, a few bytes a pixel that the Go heap holds until its next collection).
//
// It returns the header as DecodeConfig does, and its errors; the cost of an image that
// declares no pixels is 0. It does not check the image against a pixel limit.
func DecodeCost(data []byte) (Config, int64, error) {
	cfg, err := DecodeConfig(data)
	if err != nil {
		return cfg, 0, err
	}
	w, h := int64(cfg.Width), int64(cfg.Height)
	if w <= 0 || h <= 0 {
		return cfg, 0, nil
	}
	px := w * h
	var cost int64
	switch cfg.Format {
	case "jpeg":
		cost = jpegCost(data, w, h)
	case "png":
		cost = pngCost(data, w, h)
	case "gif":
		cost = px * (1 + 3) // the first frame, paletted (within the screen), then RGB planes
	case "bmp":
		cost = px * (4 + 3) // RGBA, NRGBA or paletted, then RGB planes
	case "webp":
		cost = webpCost(data, w, h)
	default: // a format registered elsewhere: as much as the costliest above
		cost = px * worstPerPixel
	}
	return cfg, cost + scratch(w, h), nil
}

// scratch is what a Resizer keeps to resize a w x h image to at most MaxSize: three
// output planes, the horizontal pass's h rows, and two tables of weights of at most 16
// bytes a source sample (CatmullRom's support).
func scratch(w, h int64) int64 {
	return 3*MaxSize*MaxSize + h*MaxSize + 2*16*(w+h) + 64<<10
}

// worstPerPixel is the most bytes per pixel any supported format costs: a progressive
// YCbCrK JPEG without subsampling (4 planes, 4 bytes of coefficients per sample, the CMYK
// image, RGB planes).
const worstPerPixel = 4*(1+4) + 4 + 3

// pngCost follows image/png: the image it allocates (by colour type, bit depth and whether
// a tRNS chunk comes before the pixels), once more for an interlaced image (the passes,
// then the whole), two rows of raw samples, and RGB planes unless the image is 8-bit gray.
func pngCost(data []byte, w, h int64) int64 {
	if len(data) < 33 {
		return w * h * worstPerPixel
	}
	depth, ctype, interlaced := data[24], data[25], data[28] == 1
	trns := false
	for i := 33; i+8 <= len(data); {
		n := int64(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		if typ == "IDAT" {
			break
		}
		if typ == "tRNS" {
			trns = true
		}
		if n > int64(len(data)) {
			break
		}
		i += 12 + int(n)
	}
	var per int64 // bytes per pixel of the decoded image
	planes := int64(3)
	switch ctype {
	case 0: // gray: Gray or Gray16; NRGBA or NRGBA64 with a transparent colour
		switch {
		case trns && depth == 16:
			per = 8
		case trns:
			per = 4
		case depth == 16:
			per = 2
		default:
			per, planes = 1, 0
		}
	case 3: // paletted
		per = 1
	case 2, 4, 6: // RGB, gray with alpha, RGBA: 8 or 16 bits a sample
		per = 4
		if depth == 16 {
			per = 8
		}
	default:
		per = 8
	}
	img := w * h * per
	if interlaced {
		img *= 2
	}
	return img + w*h*planes + 2*(8*w+1)
}

// jpegCost follows image/jpeg: the planes it allocates, padded to whole MCUs (a gray
// image, or YCbCr at its subsampling, plus the K plane of a 4-component image), a
// progressive image's coefficients (4 bytes a sample, kept until the end), and for a
// CMYK, YCbCrK or RGB image the 4-bytes-a-pixel image it converts to and the resizer's RGB
// planes. A header it cannot follow costs worstPerPixel a pixel.
func jpegCost(data []byte, w, h int64) int64 {
	worst := w * h * worstPerPixel
	jfif, adobe, transform := false, false, byte(0)
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xff {
			return worst
		}
		m := data[i+1]
		switch {
		case m == 0xff: // fill byte
			i++
			continue
		case m == 0x01 || m >= 0xd0 && m <= 0xd8: // markers without a segment
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return worst
		}
		seg := data[i+4 : i+2+n]
		switch {
		case m == 0xe0 && bytes.HasPrefix(seg, []byte("JFIF\x00")):
			jfif = true
		case m == 0xee && len(seg) >= 12 && bytes.HasPrefix(seg, []byte("Adobe")):
			adobe, transform = true, seg[11]
		case m == 0xc0 || m == 0xc1 || m == 0xc2:
			return sofCost(seg, m == 0xc2, w, h, jfif, adobe && transform == 0)
		case m == 0xda || m == 0xd9: // pixels, or the end, before any frame header
			return worst
		}
		i += 2 + n
	}
	return worst
}

// sofCost is jpegCost once the frame header seg is found. jfif says a JFIF segment came
// before it (then three components are YCbCr), adobeRGB that an Adobe segment marked the
// components as RGB (or CMYK rather than YCbCrK).
func sofCost(seg []byte, progressive bool, w, h int64, jfif, adobeRGB bool) int64 {
	if len(seg) < 6 {
		return w * h * worstPerPixel
	}
	n := int(seg[5])
	if n != 1 && n != 3 && n != 4 || len(seg) < 6+3*n {
		return w * h * worstPerPixel
	}
	hv := func(i int) (int64, int64) {
		if n == 1 { // a single component is not interleaved: blocks of 8x8
			return 1, 1
		}
		b := seg[6+3*i+1]
		return max(1, int64(b>>4)), max(1, int64(b&0x0f))
	}
	h0, v0 := hv(0)
	mxx, myy := (w+8*h0-1)/(8*h0), (h+8*v0-1)/(8*v0)
	var samples int64
	for i := range n {
		hi, vi := hv(i)
		samples += 64 * hi * vi * mxx * myy
	}
	cost := samples
	if progressive {
		cost += 4 * samples
	}
	rgb := n == 3 && !jfif && (adobeRGB || seg[6] == 'R' && seg[9] == 'G' && seg[12] == 'B')
	if n == 4 || rgb {
		cost += w * h * (4 + 3)
	}
	return cost
}

// webpCost follows golang.org/x/image/webp: a lossy image is YCbCr 4:2:0 padded to whole
// macroblocks; a lossless one (or one with alpha, or an extended header) decodes into
// NRGBA, from up to half as much again packed by a colour-index transform, then RGB
// planes.
func webpCost(data []byte, w, h int64) int64 {
	if len(data) >= 16 && string(data[12:16]) == "VP8 " {
		mw, mh := (w+15)/16*16, (h+15)/16*16
		return mw*mh + 2*(mw/2)*(mh/2)
	}
	return w * h * (4 + 2 + 3)
}
