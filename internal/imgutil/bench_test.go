package imgutil

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// BenchmarkResizeTrain resizes decoded 200x200 Kaggle photos (YCbCr 4:2:0) to a few sizes.
func BenchmarkResizeTrain(b *testing.B) {
	m, _ := filepath.Glob(filepath.Join(sharedDir(b), "dogs-vs-cats", "train", "*.jpg"))
	if len(m) < 50 {
		b.Fatalf("want 50 photos, found %d", len(m))
	}
	sort.Strings(m)
	var imgs []image.Image
	for _, p := range m[:50] {
		d, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		img, _, err := Decode(d, 0)
		if err != nil {
			b.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	for _, size := range []int{64, 200, 224} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			var z Resizer
			dst := make([]uint8, size*size*3)
			for i := 0; b.Loop(); i++ {
				z.Resize(imgs[i%len(imgs)], size, Bilinear, dst)
			}
		})
	}
}
