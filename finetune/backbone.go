package finetune

import (
	"fmt"
	"strings"

	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/onnx"
)

// JoinBackbones runs several backbones side by side on the same image (each behind its
// own preprocessing, as BackboneOf gives them) and joins their features, in order, into
// one (N, ΣD) output: the backbone of a head trained with Config.JoinFeatures. Each
// backbone's features must be vectors (N, D).
func JoinBackbones(bbs ...*Backbone) (*Backbone, error) {
	if len(bbs) == 1 {
		return bbs[0], nil
	}
	var models []*onnx.Model
	var outs, prefixes, names []string
	j := &Backbone{Output: "joined_features"}
	for _, b := range bbs {
		models = append(models, b.Model)
		outs = append(outs, b.Output)
		prefixes = append(prefixes, b.Name+"/")
		names = append(names, b.Name)
		j.Params += b.Params
	}
	m, err := onnx.Join(models, outs, prefixes, exported.InputName, j.Output)
	if err != nil {
		return nil, fmt.Errorf("joining backbones %s: %w", strings.Join(names, ", "), err)
	}
	j.Model, j.Name = m, strings.Join(names, "+")
	return j, nil
}
