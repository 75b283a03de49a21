package finetune

import (
	"image"
	"image/color"
	_ "image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/draw"
)

func TestZZVisual(t *testing.T) {
	files, _ := filepath.Glob("/work/shared/data/dogs-vs-cats/train/*.100[0-2].jpg")
	const S, copies = 128, 6
	out := image.NewRGBA(image.Rect(0, 0, S*(copies+1), S*len(files)))
	for r, f := range files {
		fh, _ := os.Open(f)
		im, _, err := image.Decode(fh)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		dst := image.NewRGBA(image.Rect(0, 0, S, S))
		draw.BiLinear.Scale(dst, dst.Bounds(), im, im.Bounds(), draw.Src, nil)
		base := make([]uint8, S*S*3)
		for i := 0; i < S*S; i++ {
			copy(base[i*3:i*3+3], dst.Pix[i*4:i*4+3])
		}
		batch := make([]uint8, 0, S*S*3*(copies+1))
		for k := 0; k <= copies; k++ {
			batch = append(batch, base...)
		}
		NewAugmenter(DefaultAugment()).Apply(batch[S*S*3:], copies, S, rand.New(rand.NewPCG(uint64(r), 3)))
		for k := 0; k <= copies; k++ {
			for i := 0; i < S*S; i++ {
				p := batch[k*S*S*3+i*3:]
				out.Set(k*S+i%S, r*S+i/S, color.RGBA{p[0], p[1], p[2], 255})
			}
		}
	}
	fo, _ := os.Create("/tmp/augment_grid.png")
	png.Encode(fo, out)
	fo.Close()
}
