package report

import (
	"strings"

	"github.com/catdog-ml/catdog/runs"
)

// Reference is a published result for an architecture like one of ours, on other data.
type Reference struct {
	// Model names their model, Accuracy is their test accuracy (fraction).
	Model    string
	Accuracy float64
	// Source says whose result it is and on what data.
	Source string
}

// brownlee is where the reference results come from.
const brownlee = "J. Brownlee's Keras tutorial (200×200 px, 25,000 photos, 25 % test)"

// ReferenceFor returns the published result nearest to the run's architecture, if any:
// results on Dogs vs. Cats, so none for a run of other classes.
func ReferenceFor(r *Run) (Reference, bool) {
	if !dogCat(r.Classes) {
		return Reference{}, false
	}
	if r.Kind == runs.Transfer {
		if strings.HasPrefix(r.Backbone, "vgg16") && r.Weights == "imagenet" {
			return Reference{"VGG16 transfer, ImageNet weights", 0.976, brownlee}, true
		}
		return Reference{}, false
	}
	switch r.Arch {
	case "vgg1":
		return Reference{"1 VGG block", 0.723, brownlee}, true
	case "vgg2":
		return Reference{"2 VGG blocks", 0.766, brownlee}, true
	case "vgg3":
		return Reference{"3 VGG blocks", 0.802, brownlee}, true
	case "vgg3-dropout":
		return Reference{"3 VGG blocks + dropout", 0.813, brownlee}, true
	case "vgg3-dropout-bn-aug", "vgg3-aug", "vgg3-dropout-aug":
		return Reference{"3 VGG blocks + augmentation", 0.858, brownlee}, true
	}
	return Reference{}, false
}
