// Package exported defines the contract of the model files catdog exports (model.onnx,
// and head.onnx for a head exported alone): the names of their input and output tensors
// and the metadata_props keys catdog writes. The packages that write such models
// (finetune, backbones, study) and the one that reads them (classifier) import these
// names from here, and nothing else: the package has no dependencies, no cgo.
//
// See docs/design.md, "Exported model".
package exported

// The tensors of an exported model.
const (
	// InputName is the input: float32 NCHW (N, 3, S, S), plain RGB values 0..255.
	InputName = "image"
	// OutputName is the output: float32 (N, 1), the probability of label 1 (cat).
	OutputName = "prob_cat"
	// FeaturesName is the input of a head exported alone (head.onnx): the backbone's features.
	FeaturesName = "features"
	// Labels is the value of MetaLabels: label 0, then label 1.
	Labels = "dog,cat"
)

// Metadata keys.
const (
	MetaInputSize          = "catdog.input_size"          // S
	MetaLayout             = "catdog.layout"              // NCHW
	MetaResizeFilter       = "catdog.resize_filter"       // the filter the training data was resized with
	MetaLabels             = "catdog.labels"              // Labels
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
