package datasets_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"os"
	"path/filepath"

	"github.com/catdog-ml/catdog/datasets"
)

// Example prepares a small folder-per-class source and reads its training split in
// shuffled batches of normalised floats.
func Example() {
	src, _ := os.MkdirTemp("", "pets")
	defer os.RemoveAll(src)
	for i := range 10 {
		writePNG(filepath.Join(src, "cats", fmt.Sprintf("%d.png", i)), color.White)
		writePNG(filepath.Join(src, "dogs", fmt.Sprintf("%d.png", i)), color.Black)
	}
	out := filepath.Join(src, "data")

	m, err := datasets.Prepare(context.Background(), datasets.Options{Data: src, Out: out, Size: 32, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("kept", m.Kept, "train", m.Splits[datasets.Train].Count)

	ds, err := datasets.Open(out)
	if err != nil {
		log.Fatal(err)
	}
	defer ds.Close()
	it := ds.Batches(datasets.Train, datasets.BatchOptions{Size: 8, Shuffle: true, Seed: 1})
	for it.Next() {
		b := it.Batch()
		x := b.Float32(datasets.Normalize{Layout: datasets.NCHW, Scale: 1.0 / 255})
		fmt.Println(b.Len(), "images,", len(x), "floats")
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// kept 20 train 12
	// 8 images, 24576 floats
	// 4 images, 12288 floats
}

func writePNG(path string, c color.Color) {
	m := image.NewGray(image.Rect(0, 0, 40, 30))
	for i := range m.Pix {
		m.Pix[i] = color.GrayModel.Convert(c).(color.Gray).Y
	}
	var b bytes.Buffer
	png.Encode(&b, m)
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, b.Bytes(), 0o644)
}
