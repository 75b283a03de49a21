package study

import (
	"fmt"
	"strings"

	"github.com/catdog-ml/catdog/finetune"
)

// Profile sets the size of the study.
type Profile struct {
	Name string `json:"name"`
	// Size is the side of the images the from-scratch CNNs train on.
	Size int `json:"size"`
	// TransferSize is the side of the images fed to the pretrained backbones.
	TransferSize int `json:"transfer_size"`
	// PerClass, when positive, takes at most that many images of each class from the source
	// for the from-scratch rungs (and backbones with random weights); TransferPerClass does
	// the same for the pretrained backbones (0: every image).
	PerClass         int `json:"per_class,omitempty"`
	TransferPerClass int `json:"transfer_per_class,omitempty"`
	// Epochs is the most epochs of a from-scratch rung, HeadEpochs of a transfer head;
	// training stops earlier after Patience epochs without a better validation loss.
	Epochs     int `json:"epochs"`
	HeadEpochs int `json:"head_epochs"`
	Patience   int `json:"patience"`
	// Batch, Optimizer and LR, when set, replace the training recipe's (finetune's
	// defaults, which the profiles use).
	Batch     int     `json:"batch"`
	Optimizer string  `json:"optimizer"`
	LR        float64 `json:"lr"`
	// Augment names the augmentation of the rungs trained with augmentation
	// (finetune.AugmentByName: default, tutorial); empty means finetune's default.
	Augment string `json:"augment,omitempty"`
	// Archs are the from-scratch rungs; nil means every architecture of the registry.
	Archs []string `json:"archs,omitempty"`
	// Backbones are the transfer rungs: a head on each backbone's frozen features. Their
	// weights are downloaded when missing.
	Backbones []string `json:"backbones"`
	// AtHand are transfer rungs run only when their weights are already at hand (in the
	// cache or given as a file), never downloaded: VGG16 is 553 MB, and takes most of an
	// hour on 12,000 photos on a 2-core CPU.
	AtHand []string `json:"at_hand,omitempty"`
	// FineTune are fine-tuning rungs: a backbone's top block trained further with a head.
	FineTune []FineTune `json:"fine_tune,omitempty"`
	// Joins are heads on the joined features of several backbones (of Backbones or AtHand).
	Joins [][]string `json:"joins,omitempty"`
	// Flip adds a rung that averages the best transfer model (by validation accuracy) over
	// each photo and its mirror image (test-time augmentation).
	Flip bool `json:"flip,omitempty"`
}

// FineTune is a fine-tuning rung: the features of Backbone are taken below its own cut, at
// From, and the layers from there to its cut train further from their pretrained weights
// (TopBlock), with Head after them, Epochs at most at learning rate LR.
type FineTune struct {
	Backbone string  `json:"backbone"`
	From     string  `json:"from"`
	Head     string  `json:"head"`
	Epochs   int     `json:"epochs"`
	LR       float64 `json:"lr"`
}

// Name is the rung's name: "<backbone>-finetune".
func (f FineTune) Name() string { return f.Backbone + "-finetune" }

// Quick is a study sized to finish within about 20 minutes on a 2-core CPU: the from-scratch
// CNNs on 64x64 images, 1,500 photos per class, up to 10 epochs with finetune's recipe;
// heads on MobileNet v1 0.75 and MobileNetV2 0.35
// features of up to 6,000 photos per class at 224x224 (12,000 photos: MobileNet v1 extracts
// them in about a minute here). VGG16 runs when its weights are at hand; vgg16-random
// (random weights, clearly stamped) runs on the CNNs' 64x64 photos, to show what ImageNet
// features are worth. WithExtras adds the rungs that go past the tutorial.
func Quick() Profile {
	return Profile{
		Name: "quick", Size: 64, TransferSize: 224, PerClass: 1500, TransferPerClass: 6000,
		Epochs: 10, HeadEpochs: 10, Patience: 4,
		Backbones: []string{"mobilenet-v1-075", "mobilenet-v2-035", "vgg16-random"},
		AtHand:    []string{"vgg16"},
	}
}

// Hour is the longer ladder, sized for about an hour on a 2-core CPU: the from-scratch CNNs on
// every photo (24,000 shared photos: 14,400 to train on) at 64x64, each until its
// validation loss has not improved for 5 epochs (at most 60), so that each rung shows what
// it teaches rather than where a budget cut it; the augmentation rung with the tutorial's
// augmentation (a flip and a 10 % shift), which learns in fewer epochs at 64x64 than
// finetune's stronger default; the transfer rungs as in Quick, on every photo.
func Hour() Profile {
	p := Quick()
	p.Name, p.PerClass, p.TransferPerClass, p.Epochs, p.Patience = "hour", 0, 0, 60, 5
	p.Augment = "tutorial"
	return p
}

// WithExtras returns p with the rungs that go past the tutorial: MobileNet v1's last block
// fine-tuned from its ImageNet weights, one head on both MobileNets' features, and the best
// transfer model averaged over mirror images. Measured on the 12,000 shared photos, none
// beats the plain MobileNet v1 head beyond noise (docs/backbones.md): they are not in the
// quick profile, whose time they would add about five minutes to.
func (p Profile) WithExtras() Profile {
	p.FineTune = []FineTune{mobileNetV1FineTune()}
	p.Joins = [][]string{{"mobilenet-v1-075", "mobilenet-v2-035"}}
	p.Flip = true
	return p
}

// mobileNetV1FineTune trains MobileNet v1 0.75's last pointwise block (1x1 convolution,
// batch norm folded in, ReLU6, global average pool) and a logistic head, from the output
// of its last depthwise block (768x7x7).
func mobileNetV1FineTune() FineTune {
	return FineTune{Backbone: "mobilenet-v1-075", From: "conv_dw_13_relu", Head: "dense:1:sigmoid", Epochs: 15, LR: 0.0001}
}

// Full is the study's own setting: every image, 200x200 for the CNNs, 224x224 for the
// backbones, up to 50 epochs with early stopping; VGG16 is downloaded when missing.
func Full() Profile {
	return Profile{
		Name: "full", Size: 200, TransferSize: 224,
		Epochs: 50, HeadEpochs: 20, Patience: 5,
		Backbones: []string{"vgg16", "mobilenet-v1-075", "mobilenet-v2-035"},
	}.WithExtras()
}

// ProfileByName returns Quick, Hour or Full.
func ProfileByName(name string) (Profile, error) {
	switch strings.ToLower(name) {
	case "quick", "":
		return Quick(), nil
	case "hour":
		return Hour(), nil
	case "full":
		return Full(), nil
	}
	return Profile{}, fmt.Errorf("study: unknown profile %q (quick, hour or full)", name)
}

func (p Profile) validate() error {
	switch {
	case p.Size < 32 || p.TransferSize < 32:
		return fmt.Errorf("study: profile %s: images must be at least 32x32", p.Name)
	case p.Epochs < 1 || p.HeadEpochs < 1:
		return fmt.Errorf("study: profile %s: needs at least one epoch", p.Name)
	case p.PerClass < 0 || p.TransferPerClass < 0:
		return fmt.Errorf("study: profile %s: negative images per class", p.Name)
	}
	if p.Augment != "" {
		if _, err := finetune.AugmentByName(p.Augment); err != nil {
			return fmt.Errorf("study: profile %s: %w", p.Name, err)
		}
	}
	for _, f := range p.FineTune {
		if f.Backbone == "" || f.From == "" || f.Epochs < 1 || f.LR <= 0 {
			return fmt.Errorf("study: profile %s: fine-tuning rung %+v needs a backbone, a cut, epochs and a learning rate", p.Name, f)
		}
	}
	for _, j := range p.Joins {
		if len(j) < 2 {
			return fmt.Errorf("study: profile %s: a join needs at least two backbones, got %v", p.Name, j)
		}
	}
	return nil
}
