// Package transfer holds the building blocks of transfer learning that join the packages
// it crosses: the backbone a features folder was computed with, loaded and checked, ready to
// be composed in front of a head (Backbone); and the backbone's layers above the features'
// cut with their pretrained weights, for a run that trains them further (TopBlock).
// finetune imports neither backbones nor features; this package joins the three.
package transfer

import (
	"context"
	"fmt"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/features"
	"github.com/catdog-ml/catdog/finetune"
)

// Backbone loads the backbone that the features described by info were computed with, behind
// its preprocessing, ready to be composed in front of a head (finetune.Config.Backbone). It checks
// that the model found is the one the features came from (SHA-256). opts.File, when empty,
// is the file recorded in the features folder for the built-in backbones that take one
// (imported backbones are read from the backbone store); opts.InputSize is the features'
// input size.
func Backbone(ctx context.Context, info *features.Info, opts backbones.Options) (*finetune.Backbone, error) {
	if opts.File == "" && info.BackboneFile != "" {
		spec, err := backbones.Lookup(info.Backbone, opts)
		if err != nil {
			return nil, fmt.Errorf("loading backbone %s to export backbone + head: %w", info.Backbone, err)
		}
		if spec.TakesFile() {
			opts.File = info.BackboneFile
		}
	}
	opts.InputSize = info.InputSize
	opts.CutAt, opts.Pool = info.CutAt, info.Pool
	bb, err := backbones.Load(ctx, info.Backbone, opts)
	if err != nil {
		return nil, fmt.Errorf("loading backbone %s to export backbone + head: %w", info.Backbone, err)
	}
	return Compose(info, bb)
}

// Compose is Backbone for a backbone already loaded, such as the one features.Extract
// returns (features.Result.Backbone): it checks that bb is the one the features described
// by info came from, then puts its preprocessing in front.
func Compose(info *features.Info, bb *backbones.Backbone) (*finetune.Backbone, error) {
	if bb == nil {
		return nil, fmt.Errorf("backbone %s: none given", info.Backbone)
	}
	if info.BackboneSHA256 != "" && bb.Spec.SHA256 != "" && info.BackboneSHA256 != bb.Spec.SHA256 {
		return nil, fmt.Errorf("backbone %s: the model found (SHA-256 %.12s) is not the one the features were computed with (%.12s)",
			info.Backbone, bb.Spec.SHA256, info.BackboneSHA256)
	}
	if bb.Output != info.Cut {
		return nil, fmt.Errorf("backbone %s: cut at %s, the features were taken at %s", info.Backbone, bb.Output, info.Cut)
	}
	m, err := bb.WithPreprocess()
	if err != nil {
		return nil, err
	}
	return &finetune.Backbone{Name: info.Backbone, Model: m, Output: bb.Output, Params: bb.Params}, nil
}

// TopBlock returns the layers of the backbone that the features described by info were
// computed with, from the cut they were taken at (extract-features --cut) to the
// backbone's own cut, with their pretrained weights (see finetune.BlockFrom): the block that a
// fine-tuning run trains further, in front of its head (finetune.Config.Weights).
func TopBlock(ctx context.Context, info *features.Info, opts backbones.Options) (finetune.Block, error) {
	if info.CutAt == "" {
		return finetune.Block{}, fmt.Errorf("the features of backbone %s were taken at its own cut: there is no block above them to train (extract them with --cut)", info.Backbone)
	}
	if opts.File == "" && info.BackboneFile != "" {
		if spec, err := backbones.Lookup(info.Backbone, opts); err == nil && spec.TakesFile() {
			opts.File = info.BackboneFile
		}
	}
	opts.InputSize = info.InputSize
	opts.CutAt, opts.Pool = "", ""
	bb, err := backbones.Load(ctx, info.Backbone, opts)
	if err != nil {
		return finetune.Block{}, fmt.Errorf("loading backbone %s for its top block: %w", info.Backbone, err)
	}
	if info.BackboneSHA256 != "" && bb.Spec.SHA256 != info.BackboneSHA256 {
		return finetune.Block{}, fmt.Errorf("backbone %s: the model found (SHA-256 %.12s) is not the one the features were computed with (%.12s)",
			info.Backbone, bb.Spec.SHA256, info.BackboneSHA256)
	}
	return finetune.BlockFrom(bb.Model, info.Cut, bb.Output)
}
