package plot_test

import (
	"bytes"
	"fmt"
	"image/png"
	"log"

	"github.com/catdog-ml/catdog/internal/plot"
)

func ExampleCurves() {
	epochs := []float64{1, 2, 3, 4}
	b, err := plot.Curves("Loss per epoch", "epoch", "binary cross-entropy", plot.CurveOptions{},
		plot.Series{Name: "training", X: epochs, Y: []float64{0.69, 0.52, 0.41, 0.33}, Dashed: true},
		plot.Series{Name: "validation", X: epochs, Y: []float64{0.66, 0.55, 0.49, 0.47}})
	if err != nil {
		log.Fatal(err)
	}
	im, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(im.Bounds().Size())
	// Output: (518,346)
}
