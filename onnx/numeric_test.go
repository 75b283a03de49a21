package onnx_test

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/catdog-ml/catdog/internal/ort"
	"github.com/catdog-ml/catdog/onnx"
)

// openORT opens onnxruntime, skipping the test when the library is missing (failing under CI).
func openORT(t *testing.T) *ort.Env {
	t.Helper()
	env, err := ort.Open()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("onnxruntime: %v", err)
		}
		t.Skipf("onnxruntime not available (bash scripts/setup.sh installs it): %v", err)
	}
	t.Cleanup(func() { env.Close() })
	return env
}

func runORT(t *testing.T, env *ort.Env, m *onnx.Model, in []float32, shape ...int64) ([]float32, []int64) {
	t.Helper()
	data, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var inputs, outputs []string
	for _, v := range m.Inspect().Inputs {
		inputs = append(inputs, v.Name)
	}
	for _, v := range m.Inspect().Outputs {
		outputs = append(outputs, v.Name)
	}
	s, err := env.NewSession(data, ort.SessionOptions{Provider: ort.ProviderCPU, Threads: 1, Inputs: inputs, Outputs: outputs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, outShape, err := s.RunFloat32(in, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return out, outShape
}

// tensor is a plain NCHW (or any rank) float32 array for the reference computation.
type tensor struct {
	shape []int
	data  []float32
}

func (x tensor) at(i ...int) float32 { return x.data[x.index(i...)] }
func (x tensor) index(i ...int) int {
	k := 0
	for d, v := range i {
		k = k*x.shape[d] + v
	}
	return k
}
func newTensor(shape ...int) tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return tensor{shape: shape, data: make([]float32, n)}
}

func refConv(x tensor, w, bias []float32, m, k, pad, stride int) tensor {
	n, c, h, wd := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	oh, ow := (h+2*pad-k)/stride+1, (wd+2*pad-k)/stride+1
	y := newTensor(n, m, oh, ow)
	for b := range n {
		for o := range m {
			for i := range oh {
				for j := range ow {
					s := float64(bias[o])
					for ci := range c {
						for ki := range k {
							for kj := range k {
								ii, jj := i*stride+ki-pad, j*stride+kj-pad
								if ii < 0 || jj < 0 || ii >= h || jj >= wd {
									continue
								}
								s += float64(x.at(b, ci, ii, jj)) * float64(w[((o*c+ci)*k+ki)*k+kj])
							}
						}
					}
					y.data[y.index(b, o, i, j)] = float32(s)
				}
			}
		}
	}
	return y
}

func refPool(x tensor, k, stride int, avg bool) tensor {
	n, c, h, w := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	oh, ow := (h-k)/stride+1, (w-k)/stride+1
	y := newTensor(n, c, oh, ow)
	for b := range n {
		for ch := range c {
			for i := range oh {
				for j := range ow {
					best, sum := float32(math.Inf(-1)), float32(0)
					for ki := range k {
						for kj := range k {
							v := x.at(b, ch, i*stride+ki, j*stride+kj)
							best = max(best, v)
							sum += v
						}
					}
					if avg {
						best = sum / float32(k*k)
					}
					y.data[y.index(b, ch, i, j)] = best
				}
			}
		}
	}
	return y
}

// TestBuilderNumerics runs a graph that uses most Builder operators on onnxruntime and
// compares with a plain Go computation of the same arithmetic.
func TestBuilderNumerics(t *testing.T) {
	env := openORT(t)
	r := rand.New(rand.NewPCG(7, 8))
	const n, size = 2, 6
	offset := []float32{1, 2, 3}
	std := []float32{0.5, 2, 4}
	convW, convB := randFloats(r, 4*3*9, 0.4), randFloats(r, 4, 0.1)
	bnScale, bnBias, bnMean := randFloats(r, 4, 1), randFloats(r, 4, 0.5), randFloats(r, 4, 0.5)
	bnVar := []float32{0.5, 1, 1.5, 2}
	fcW, fcB := randFloats(r, 3*40, 0.3), randFloats(r, 3, 0.1)

	b := onnx.NewBuilder("numerics")
	x := b.Input("image", onnx.Float, -1, 3, size, size)
	x = b.Sub(x, b.Constant("offset", []int64{1, 3, 1, 1}, offset))
	x = b.Div(x, b.Initializer("std", []int64{1, 3, 1, 1}, std))
	x = b.Mul(x, b.Initializer("two", []int64{1}, []float32{2}))
	x = b.Add(x, b.Initializer("one", []int64{1}, []float32{1}))
	y := b.Conv(x, b.Initializer("w", []int64{4, 3, 3, 3}, convW), b.Initializer("b", []int64{4}, convB),
		onnx.ConvOpts{Pads: [4]int64{1, 1, 1, 1}, Strides: [2]int64{2, 2}})
	y = b.BatchNorm(y, b.Initializer("bn.s", []int64{4}, bnScale), b.Initializer("bn.b", []int64{4}, bnBias),
		b.Initializer("bn.m", []int64{4}, bnMean), b.Initializer("bn.v", []int64{4}, bnVar), 1e-5)
	y = b.Relu(y)
	z := b.Concat(1, b.MaxPool(y, 2, 1), b.AveragePool(y, 2, 1))
	flat := b.Reshape(b.Transpose(z, 0, 2, 3, 1), 0, -1)
	g := b.Flatten(b.GlobalAveragePool(z), 1)
	h := b.Dropout(b.Concat(1, flat, g))
	o := b.Sigmoid(b.Gemm(h, b.Initializer("fc.w", []int64{3, 40}, fcW), b.Initializer("fc.b", []int64{3}, fcB), true))
	b.Output(o, "prob", onnx.Float, -1, 3)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Inspect().Nodes; got[len(got)-1].Shape.String() != "(N, 3)" {
		t.Errorf("inferred output shape %s", got[len(got)-1].Shape)
	}

	in := randFloats(r, n*3*size*size, 3)
	got, shape := runORT(t, env, m, in, n, 3, size, size)
	if len(shape) != 2 || shape[0] != n || shape[1] != 3 {
		t.Fatalf("output shape %v", shape)
	}

	// Reference.
	xt := tensor{shape: []int{n, 3, size, size}, data: append([]float32(nil), in...)}
	for i := range xt.data {
		c := (i / (size * size)) % 3
		xt.data[i] = (xt.data[i]-offset[c])/std[c]*2 + 1
	}
	yt := refConv(xt, convW, convB, 4, 3, 1, 2)
	for i := range yt.data {
		c := (i / 9) % 4
		v := (yt.data[i]-bnMean[c])/float32(math.Sqrt(float64(bnVar[c])+1e-5))*bnScale[c] + bnBias[c]
		yt.data[i] = max(v, 0)
	}
	mp, ap := refPool(yt, 2, 1, false), refPool(yt, 2, 1, true)
	want := make([]float32, 0, n*3)
	for bi := range n {
		feat := make([]float32, 0, 40)
		for i := range 2 { // transpose to NHWC, then flatten
			for j := range 2 {
				for c := range 8 {
					if c < 4 {
						feat = append(feat, mp.at(bi, c, i, j))
					} else {
						feat = append(feat, ap.at(bi, c-4, i, j))
					}
				}
			}
		}
		for c := range 8 {
			src := mp
			if c >= 4 {
				src = ap
			}
			s := float32(0)
			for i := range 2 {
				for j := range 2 {
					s += src.at(bi, c%4, i, j)
				}
			}
			feat = append(feat, s/4)
		}
		for o := range 3 {
			s := float64(fcB[o])
			for k, v := range feat {
				s += float64(v) * float64(fcW[o*40+k])
			}
			want = append(want, float32(1/(1+math.Exp(-s))))
		}
	}
	for i := range want {
		if want[i] < 0.02 || want[i] > 0.98 {
			t.Errorf("output %d = %g: saturated, the test would not see small errors", i, want[i])
		}
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
			t.Errorf("output %d: onnxruntime %g, Go reference %g", i, got[i], want[i])
		}
	}
}

// TestComposeNumerics checks that a composed model computes head(backbone(x)).
func TestComposeNumerics(t *testing.T) {
	env := openORT(t)
	backbone, err := vggish(t, 16).Cut("block2_pool")
	if err != nil {
		t.Fatal(err)
	}
	hd := head(t, 8, 4, "fc")
	m, err := onnx.Compose(backbone, "block2_pool", hd, "features", "head/")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 9))
	in := randFloats(r, 3*3*16*16, 1)
	feat, fshape := runORT(t, env, backbone, in, 3, 3, 16, 16)
	want, _ := runORT(t, env, hd, feat, fshape...)
	got, shape := runORT(t, env, m, in, 3, 3, 16, 16)
	if len(shape) != 2 || shape[0] != 3 || shape[1] != 1 {
		t.Fatalf("shape %v", shape)
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Errorf("sample %d: composed %g, separately %g", i, got[i], want[i])
		}
	}
}
