package finetune

import (
	"fmt"
	"sort"
)

// Architecture is a from-scratch network of the registry.
type Architecture struct {
	Name        string
	Description string
	// Layers returns the layer specs.
	Layers func() []Layer
	// Augment says the architecture is trained with data augmentation.
	Augment bool
}

// vggBlocks returns n VGG-style blocks of 32, 64, 128... filters: conv 3x3 pad 1, ReLU,
// max-pool 2x2, each followed by extra (dropout, batch norm) when given.
func vggBlocks(n int, extra ...Layer) []Layer {
	var ls []Layer
	for i := range n {
		ls = append(ls, Conv(32<<i, 3, 1), ReLU(), MaxPool(2))
		ls = append(ls, extra...)
	}
	return ls
}

// vggTop is Flatten, Dense 128 + ReLU, [extra], Dense 1 + sigmoid.
func vggTop(extra ...Layer) []Layer {
	ls := []Layer{Flatten(), Dense(128), ReLU()}
	ls = append(ls, extra...)
	return append(ls, Dense(1), Sigmoid())
}

func vgg(n int) func() []Layer {
	return func() []Layer { return append(vggBlocks(n), vggTop()...) }
}

func vgg3Dropout() []Layer {
	return append(vggBlocks(3, Dropout(0.2)), vggTop(Dropout(0.5))...)
}

func vgg3DropoutBN() []Layer {
	return append(vggBlocks(3, Dropout(0.2), BatchNorm()), vggTop(Dropout(0.5), BatchNorm())...)
}

// resnetGAP is a small residual network: a 3x3 stem with batch norm, four residual
// blocks of 32, 64, 128 and 256 channels with 2x2 max-pools between them, global average
// pooling, dropout and one logit. Its parameter count does not depend on the image size.
func resnetGAP() []Layer {
	return []Layer{
		Conv(32, 3, 1), BatchNorm(), ReLU(), MaxPool(2),
		Residual(32), MaxPool(2),
		Residual(64), MaxPool(2),
		Residual(128), MaxPool(2),
		Residual(256),
		GlobalAvgPool(), Dropout(0.3), Dense(1), Sigmoid(),
	}
}

// Architectures returns the registry of from-scratch architectures, in study order.
// Adding one is a function returning its layers and one line here.
func Architectures() []Architecture {
	return []Architecture{
		{Name: "vgg1", Description: "1 VGG block (32 filters), dense 128", Layers: vgg(1)},
		{Name: "vgg2", Description: "2 VGG blocks (32, 64), dense 128", Layers: vgg(2)},
		{Name: "vgg3", Description: "3 VGG blocks (32, 64, 128), dense 128", Layers: vgg(3)},
		{Name: "vgg3-dropout", Description: "vgg3 + dropout 0.2 after each block, 0.5 before the output", Layers: vgg3Dropout},
		{Name: "vgg3-dropout-bn", Description: "vgg3-dropout + batch norm after each dropout", Layers: vgg3DropoutBN},
		{Name: "vgg3-dropout-bn-aug", Description: "vgg3-dropout-bn trained with data augmentation", Layers: vgg3DropoutBN, Augment: true},
		{Name: "resnet-gap", Description: "residual blocks (32-256) + global average pooling", Layers: resnetGAP},
	}
}

// Arch returns the architecture called name.
func Arch(name string) (Architecture, error) {
	var names []string
	for _, a := range Architectures() {
		if a.Name == name {
			return a, nil
		}
		names = append(names, a.Name)
	}
	sort.Strings(names)
	return Architecture{}, fmt.Errorf("unknown architecture %q (known: %v)", name, names)
}

// Model builds the architecture for size×size RGB images with weights drawn from seed by
// init ("" means DefaultInit).
func (a Architecture) Model(size int, init Init, seed uint64) (*Model, error) {
	return NewModel(a.Name, []int{3, size, size}, a.Layers(), init, seed)
}
