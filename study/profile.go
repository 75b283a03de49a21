package study

import (
	"fmt"
	"strings"
)

// Profile sets the size of the study.
type Profile struct {
	Name string `json:"name"`
	// Size is the side of the images the from-scratch CNNs train on.
	Size int `json:"size"`
	// TransferSize is the side of the images fed to the backbones.
	TransferSize int `json:"transfer_size"`
	// PerClass, when positive, takes at most that many images of each class from the source.
	PerClass int `json:"per_class,omitempty"`
	// Epochs is the most epochs of a from-scratch rung, HeadEpochs of a transfer head;
	// training stops earlier after Patience epochs without a better validation loss.
	Epochs     int `json:"epochs"`
	HeadEpochs int `json:"head_epochs"`
	Patience   int `json:"patience"`
	// Batch, Optimizer and LR are the training settings of every rung.
	Batch     int     `json:"batch"`
	Optimizer string  `json:"optimizer"`
	LR        float64 `json:"lr"`
	// Archs are the from-scratch rungs; nil means every architecture of the registry.
	Archs []string `json:"archs,omitempty"`
	// Backbones are the transfer rungs.
	Backbones []string `json:"backbones"`
}

// Quick is a study sized to finish within 20 minutes on a 2-core CPU: 64x64 images, 1,500
// photos per class, up to 10 epochs, Adam at 3e-4 (measured: it learns faster than SGD in
// so few steps). VGG16's transfer rung runs when its ImageNet weights are in the cache or
// given with a file; vgg16-random (random weights, clearly stamped) always runs, to show
// the transfer pipeline end to end and, by contrast, what ImageNet features are worth.
func Quick() Profile {
	return Profile{
		Name: "quick", Size: 64, TransferSize: 64, PerClass: 1500,
		Epochs: 10, HeadEpochs: 10, Patience: 4,
		Batch: 32, Optimizer: "adam", LR: 0.0003,
		Backbones: []string{"vgg16", "vgg16-random"},
	}
}

// Full is the study's own setting: every image, 200x200 for the CNNs, 224x224 for VGG16,
// up to 50 epochs with early stopping, SGD with momentum as in the Keras tutorial.
func Full() Profile {
	return Profile{
		Name: "full", Size: 200, TransferSize: 224,
		Epochs: 50, HeadEpochs: 20, Patience: 5,
		Batch: 32, Optimizer: "sgd", LR: 0.001,
		Backbones: []string{"vgg16"},
	}
}

// ProfileByName returns Quick or Full.
func ProfileByName(name string) (Profile, error) {
	switch strings.ToLower(name) {
	case "quick", "":
		return Quick(), nil
	case "full":
		return Full(), nil
	}
	return Profile{}, fmt.Errorf("study: unknown profile %q (quick or full)", name)
}

func (p Profile) validate() error {
	switch {
	case p.Size < 32 || p.TransferSize < 32:
		return fmt.Errorf("study: profile %s: images must be at least 32x32", p.Name)
	case p.Epochs < 1 || p.HeadEpochs < 1:
		return fmt.Errorf("study: profile %s: needs at least one epoch", p.Name)
	case p.PerClass < 0:
		return fmt.Errorf("study: profile %s: negative images per class", p.Name)
	}
	return nil
}
