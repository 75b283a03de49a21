// Package imgutil decodes images and resizes them to the square RGB uint8 arrays catdog
// trains on. It is shared by dataset preparation and by prediction, so that a model sees
// at serving time exactly the pixels it was trained on.
//
// Formats are recognised by content, never by file name: JPEG, PNG, GIF (first frame),
// BMP and WebP. The declared size is read first (image.DecodeConfig) and images over a
// pixel limit are refused before any pixel memory is allocated. Any colour model (gray,
// YCbCr, CMYK, paletted, with alpha) becomes RGB; transparent pixels are composited over
// white.
//
// Resizing stretches the whole image to size x size (no crop, aspect ratio not kept) with
// a separable filter whose support widens with the reduction factor, so downscaling
// averages every source pixel instead of skipping some (the way Pillow's resize works).
// JPEG images are resized on their Y, Cb and Cr planes, each at its own resolution, and
// converted to RGB only at the output size, which is much cheaper than converting first.
package imgutil

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"strings"

	// Formats recognised by image.Decode.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"
)

// Filter names a resampling filter.
type Filter int

// The resampling filters. Bilinear, the zero value, is the default: it averages the
// pixels it reduces, so it is free of the aliasing Nearest shows, for little more time
// (decoding the JPEG costs more than either); CatmullRom is sharper and a little slower.
const (
	Bilinear Filter = iota
	Nearest
	CatmullRom
)

var filterNames = [...]string{Bilinear: "bilinear", Nearest: "nearest", CatmullRom: "catmullrom"}

// String returns the filter's name as ParseFilter accepts it.
func (f Filter) String() string {
	if f < 0 || int(f) >= len(filterNames) {
		return fmt.Sprintf("Filter(%d)", int(f))
	}
	return filterNames[f]
}

// FilterNames returns the names ParseFilter accepts, default first.
func FilterNames() []string { return append([]string(nil), filterNames[:]...) }

// ParseFilter returns the filter with the given name (case-insensitive); "" means Bilinear.
func ParseFilter(name string) (Filter, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" {
		return Bilinear, nil
	}
	for i, s := range filterNames {
		if s == n {
			return Filter(i), nil
		}
	}
	return 0, fmt.Errorf("unknown resize filter %q (choose one of %s)", name, strings.Join(filterNames[:], ", "))
}

// MaxPixels is the default limit on an image's declared width x height. A 50-megapixel
// image decodes into up to 200 MB; bigger ones are refused with ErrTooLarge.
const MaxPixels = 50_000_000

// MaxFileBytes bounds the file of one image, checked from its declared size before it is
// read: 64 MiB, more than a 50-megapixel JPEG takes; a file past it (a photo padded with
// hundreds of MB of zeros, say) is refused rather than held in memory.
const MaxFileBytes = 64 << 20

// MinSize and MaxSize bound the side of the square images catdog prepares, trains on and
// serves: the one set of size bounds, which datasets, backbones, classifier and the
// command use. (The resampler itself takes any side from 1 to MaxSize.)
const (
	MinSize = 32
	MaxSize = 512
)

// Errors returned, wrapped, by the decoding functions.
var (
	// ErrTooLarge means the image declares more pixels than allowed.
	ErrTooLarge = errors.New("image too large")
	// ErrFormat means the data is not an image in a supported format.
	ErrFormat = errors.New("not a supported image (JPEG, PNG, GIF, BMP, WebP)")
	// ErrEmpty means the data or the image is empty.
	ErrEmpty = errors.New("empty image")
)

// Config is what the header of an image says.
type Config struct {
	Format        string // "jpeg", "png", "gif", "bmp" or "webp"
	Width, Height int
}

// DecodeConfig reads only the header of the image in data.
func DecodeConfig(data []byte) (Config, error) {
	if len(data) == 0 {
		return Config{}, ErrEmpty
	}
	cfg, format, err := decodeConfig(data)
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return Config{}, ErrFormat
		}
		return Config{}, fmt.Errorf("bad image header: %w", err)
	}
	return Config{Format: format, Width: cfg.Width, Height: cfg.Height}, nil
}

func decodeConfig(data []byte) (cfg image.Config, format string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder failed: %v", p)
		}
	}()
	return image.DecodeConfig(bytes.NewReader(data))
}

// Decode decodes the image in data, first checking that its declared size is non-empty and
// at most maxPixels (0 means MaxPixels).
func Decode(data []byte, maxPixels int) (image.Image, Config, error) {
	cfg, err := DecodeConfig(data)
	if err != nil {
		return nil, cfg, err
	}
	return decodeChecked(data, cfg, maxPixels)
}

// decodeChecked is Decode once the header cfg has been read.
func decodeChecked(data []byte, cfg Config, maxPixels int) (image.Image, Config, error) {
	if maxPixels <= 0 {
		maxPixels = MaxPixels
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, cfg, fmt.Errorf("%w: declared size %dx%d", ErrEmpty, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return nil, cfg, fmt.Errorf("%w: %dx%d is over %d pixels", ErrTooLarge, cfg.Width, cfg.Height, maxPixels)
	}
	img, err := decode(data)
	if err != nil {
		return nil, cfg, fmt.Errorf("corrupt %s: %w", cfg.Format, err)
	}
	if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, cfg, fmt.Errorf("%w: decoded size %dx%d", ErrEmpty, b.Dx(), b.Dy())
	}
	return img, cfg, nil
}

func decode(data []byte) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder failed: %v", p)
		}
	}()
	img, _, err = image.Decode(bytes.NewReader(data))
	return img, err
}

// DecodeResize reads an image from r, decodes it (refusing more than MaxPixels) and
// resizes it to size x size RGB into dst, which must hold size*size*3 bytes (HWC order).
// It returns the original width and height.
func DecodeResize(r io.Reader, size int, filter Filter, dst []uint8) (origW, origH int, err error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return 0, 0, fmt.Errorf("reading image: %w", err)
	}
	var z Resizer
	cfg, err := z.DecodeResize(data, size, filter, dst)
	return cfg.Width, cfg.Height, err
}

// ResizeImage resizes img to size x size RGB into dst (size*size*3 bytes, HWC order).
func ResizeImage(img image.Image, size int, filter Filter, dst []uint8) error {
	var z Resizer
	return z.Resize(img, size, filter, dst)
}

// Affine is how 8-bit RGB pixel values become a network's input: output channel c is
// Mul[c]*v + Add[c], v taken from input channel Src[c] (0 = R, 1 = G, 2 = B), laid out
// channel-first (CHW) or, with HWC, channel-last.
type Affine struct {
	Mul, Add [3]float32
	Src      [3]int
	HWC      bool
}

// Scaled multiplies every value by s, RGB order, channel-first: Scaled(1) passes the
// values 0..255 through.
func Scaled(s float32) Affine {
	return Affine{Mul: [3]float32{s, s, s}, Src: [3]int{0, 1, 2}}
}

// ToFloat32 converts the images in rgb (HWC uint8, 3 bytes per pixel, pixels pixels per
// image) into dst (as many values) by a: catdog's one pixel conversion, shared by
// training, feature extraction and serving so that they compute the same values.
func ToFloat32(dst []float32, rgb []uint8, pixels int, a Affine) {
	per := 3 * pixels
	for img := 0; img+per <= len(rgb); img += per {
		src, out := rgb[img:img+per], dst[img:img+per]
		for c := range 3 {
			m, b, ch := a.Mul[c], a.Add[c], a.Src[c]
			if a.HWC {
				for p := range pixels {
					out[3*p+c] = m*float32(src[3*p+ch]) + b
				}
				continue
			}
			plane := out[c*pixels : (c+1)*pixels]
			for p := range plane {
				plane[p] = m*float32(src[3*p+ch]) + b
			}
		}
	}
}
