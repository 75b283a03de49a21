package backbones

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/internal/imgutil"
	"github.com/catdog-ml/catdog/onnx"
)

// vgg16Blocks are the filters of VGG16's convolutions, one slice per block.
var vgg16Blocks = [5][]int64{{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}}

// RandomVGG16 builds VGG16's convolutional base (13 3x3 convolutions with ReLU, 5 2x2
// max-pools, 64-128-256-512-512 filters) with He-normal random weights drawn from seed and
// zero biases, for an input of (N, 3, size, size), size at least 32. The output
// "block5_pool" is (N, 512, s, s) with s = size halved (rounding down) five times: 7 at 224,
// 6 at 200, 2 at 64, 1 at 32. The model says it is random in its graph name and in
// metadata_props (catdog.random_weights=true).
func RandomVGG16(size int, seed uint64) (*onnx.Model, error) {
	if size < imgutil.MinSize || size > imgutil.MaxSize {
		return nil, fmt.Errorf("vgg16-random: input size %d out of range %d..%d", size, imgutil.MinSize, imgutil.MaxSize)
	}
	r := rand.New(rand.NewPCG(seed, 0x5667673136)) // "VGG16"
	b := onnx.NewBuilder("vgg16-random (RANDOM WEIGHTS)")
	x := b.Input("data", onnx.Float, -1, 3, int64(size), int64(size))
	in := int64(3)
	for blk, filters := range vgg16Blocks {
		for i, out := range filters {
			name := fmt.Sprintf("block%d_conv%d", blk+1, i+1)
			fanIn := float64(in * 9)
			std := math.Sqrt(2 / fanIn)
			w := make([]float32, out*in*9)
			for k := range w {
				w[k] = float32(r.NormFloat64() * std)
			}
			wn := b.Initializer(name+".weight", []int64{out, in, 3, 3}, w)
			bn := b.Initializer(name+".bias", []int64{out}, make([]float32, out))
			x = b.Name(name).Conv(x, wn, bn, onnx.ConvOpts{Pads: [4]int64{1, 1, 1, 1}})
			x = b.Name(name + "_relu").Relu(x)
			in = out
		}
		x = b.Name(fmt.Sprintf("block%d_pool", blk+1)).MaxPool(x, 2, 2)
	}
	side := int64(size)
	for range vgg16Blocks {
		side /= 2
	}
	b.Output(x, "block5_pool", onnx.Float, -1, 512, side, side)
	b.SetMetadata(exported.MetaBackbone, VGG16Random)
	b.SetMetadata(exported.MetaRandomWeights, "true")
	b.SetMetadata(exported.MetaRandomSeed, fmt.Sprint(seed))
	m, err := b.Model()
	if err != nil {
		return nil, fmt.Errorf("vgg16-random: %w", err)
	}
	m.Proto.DocString = ptr("VGG16-shaped convolutional base with RANDOM He-normal weights, for tests and benchmarks only: its features carry no knowledge of images.")
	return m, nil
}

func ptr[T any](v T) *T { return &v }
