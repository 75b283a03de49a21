// Package exported defines the contract of the model files catdog exports (model.onnx,
// and head.onnx for a head exported alone): the names of their input and output tensors
// and the metadata_props keys catdog writes. The packages that write such models
// (finetune, backbones, study) and the one that reads them (classifier) import these
// names from here, and nothing else: the package has no dependencies beyond the standard
// library, no cgo.
//
// See docs/design.md, "Exported model".
package exported

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The tensors of an exported model.
const (
	// InputName is the input: float32 NCHW (N, 3, S, S), plain RGB values 0..255.
	InputName = "image"
	// OutputName is a two-class model's output: float32 (N, 1), the probability of label 1
	// (cat for Dogs vs. Cats; the second class name for any other pair).
	OutputName = "prob_cat"
	// ProbabilitiesName is the output of a model of three classes or more: float32
	// (N, classes), each row the softmax probabilities of the classes in label order.
	// A model has either OutputName or ProbabilitiesName, never both.
	ProbabilitiesName = "probabilities"
	// FeaturesName is the input of a head exported alone (head.onnx): the backbone's features.
	FeaturesName = "features"
	// Labels is the value of MetaLabels for Dogs vs. Cats: label 0, then label 1.
	Labels = "dog,cat"
)

// Metadata keys.
const (
	MetaInputSize          = "catdog.input_size"          // S
	MetaLayout             = "catdog.layout"              // NCHW
	MetaResizeFilter       = "catdog.resize_filter"       // the filter the training data was resized with
	MetaLabels             = "catdog.labels"              // the class names in label order: EncodeLabels
	MetaArch               = "catdog.arch"                // the architecture or run name
	MetaLayers             = "catdog.layers"              // the layer spec (finetune)
	MetaBackbone           = "catdog.backbone"            // the frozen backbone's name
	MetaBackboneSHA256     = "catdog.backbone_sha256"     // its files' checksum
	MetaBackboneCut        = "catdog.backbone_cut"        // the tensor its features come from
	MetaBackbonePreprocess = "catdog.backbone_preprocess" // its preprocessing, in words
	MetaPreprocess         = "catdog.preprocess"          // a preprocessing model's, in words
	MetaRandomWeights      = "catdog.random_weights"      // "true" for random backbones
	MetaRandomSeed         = "catdog.random_seed"         // their seed
	MetaFlipAverage        = "catdog.flip_average"        // "true": averaged over mirror images
)

// EncodeLabels returns the value of MetaLabels for class names in label order: the names
// joined by commas ("dog,cat", as every catdog model has said) when no name holds a comma,
// a bracket or a quote, else a JSON array of strings.
func EncodeLabels(names []string) string {
	plain := true
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, ",[]\"") || strings.TrimSpace(n) != n {
			plain = false
		}
	}
	if plain {
		return strings.Join(names, ",")
	}
	b, _ := json.Marshal(names) // []string always marshals
	return string(b)
}

// DecodeLabels reads a MetaLabels value written by EncodeLabels: a JSON array of strings,
// or names joined by commas. It refuses fewer than two names, or an empty or repeated one.
func DecodeLabels(v string) ([]string, error) {
	var names []string
	if strings.HasPrefix(strings.TrimSpace(v), "[") {
		if err := json.Unmarshal([]byte(v), &names); err != nil {
			return nil, fmt.Errorf("labels %q: %w", v, err)
		}
	} else {
		names = strings.Split(v, ",")
	}
	if len(names) < 2 {
		return nil, fmt.Errorf("labels %q: want two class names or more", v)
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if n == "" || seen[n] {
			return nil, fmt.Errorf("labels %q: an empty or repeated class name", v)
		}
		seen[n] = true
	}
	return names, nil
}
