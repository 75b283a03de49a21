package backbones_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/internal/ort"
	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/onnxtest"
)

// kerasCaffe is how Keras' VGG16 wants its input: NHWC, BGR, ImageNet channel means
// subtracted, no scaling.
var kerasCaffe = backbones.Spec{
	Name: "keras-vgg16", InputSize: 32, Layout: backbones.NHWC, Channels: backbones.BGR, Scale: 1,
	Mean: [3]float32{103.939, 116.779, 123.68}, Std: [3]float32{1, 1, 1},
}

func specs(t *testing.T) []backbones.Spec {
	vgg, err := backbones.Lookup(backbones.VGG16, backbones.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	vgg.InputSize = 32
	return []backbones.Spec{vgg, kerasCaffe}
}

// expected computes the backbone input of one HWC RGB image straight from the definition.
func expected(s backbones.Spec, rgb []uint8, size int) []float32 {
	out := make([]float32, size*size*3)
	for y := range size {
		for x := range size {
			for c := range 3 {
				src := c
				if s.Channels == backbones.BGR {
					src = 2 - c
				}
				v := (float64(rgb[(y*size+x)*3+src])*float64(s.Scale) - float64(s.Mean[c])) / float64(s.Std[c])
				if s.Layout == backbones.NHWC {
					out[(y*size+x)*3+c] = float32(v)
				} else {
					out[(c*size+y)*size+x] = float32(v)
				}
			}
		}
	}
	return out
}

func closeTo(a, b float32) bool {
	return math.Abs(float64(a-b)) <= 1e-4*math.Max(1, math.Abs(float64(b)))
}

func TestFillInput(t *testing.T) {
	const size = 8
	r := rand.New(rand.NewPCG(1, 1))
	rgb := make([]uint8, size*size*3)
	for i := range rgb {
		rgb[i] = uint8(r.IntN(256))
	}
	for _, s := range specs(t) {
		t.Run(s.Name, func(t *testing.T) {
			want := expected(s, rgb, size)
			got := make([]float32, len(want))
			s.FillInput(got, rgb)
			for i := range want {
				if !closeTo(got[i], want[i]) {
					t.Fatalf("value %d: %g, want %g", i, got[i], want[i])
				}
			}
		})
	}
}

// TestPreprocessModel runs each spec's preprocessing graph on onnxruntime over plain RGB
// values and compares with the definition; it also runs the ONNX checker on it.
func TestPreprocessModel(t *testing.T) {
	env, err := ort.Open()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("onnxruntime not available: %v", err)
	}
	defer env.Close()
	const n, size = 2, 32
	r := rand.New(rand.NewPCG(2, 2))
	images := make([][]uint8, n)
	planar := make([]float32, 0, n*3*size*size) // NCHW plain RGB, what exported models take
	for i := range images {
		images[i] = make([]uint8, size*size*3)
		for k := range images[i] {
			images[i][k] = uint8(r.IntN(256))
		}
		for c := range 3 {
			for p := range size * size {
				planar = append(planar, float32(images[i][p*3+c]))
			}
		}
	}
	for _, s := range specs(t) {
		t.Run(s.Name, func(t *testing.T) {
			m, err := s.PreprocessModel()
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "pre.onnx")
			if err := m.Write(p); err != nil {
				t.Fatal(err)
			}
			onnxtest.CheckModel(t, p)
			data, _ := m.Encode()
			sess, err := env.NewSession(data, ort.SessionOptions{Provider: ort.ProviderCPU, Threads: 1, Inputs: []string{"image"}, Outputs: []string{"pixels"}})
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			got, shape, err := sess.RunFloat32(planar, n, 3, size, size)
			if err != nil {
				t.Fatal(err)
			}
			wantShape := onnx.Shape{n, 3, size, size}
			if s.Layout == backbones.NHWC {
				wantShape = onnx.Shape{n, size, size, 3}
			}
			if onnx.Shape(shape).String() != wantShape.String() {
				t.Fatalf("shape %v, want %v", shape, wantShape)
			}
			per := size * size * 3
			for i, img := range images {
				want := expected(s, img, size)
				for k := range want {
					if !closeTo(got[i*per+k], want[k]) {
						t.Fatalf("image %d value %d: onnxruntime %g, want %g", i, k, got[i*per+k], want[k])
					}
				}
			}
		})
	}
}
