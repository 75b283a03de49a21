package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/finetune"
)

func newFinetuneCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "finetune",
		Short: "Train a transfer-learning head on cached backbone features",
		Long: `finetune trains a small head, in Gorgonia, on the features catdog extract-features
cached for a backbone (the backbone stays frozen), then exports backbone + head as one
model.onnx that takes plain RGB 0..255 images (the backbone's preprocessing inside). It
writes a run folder runs/<name>-<timestamp>/ like catdog train (see docs/training.md).

The head is a layer spec (--head), comma separated:
  flatten | gap | relu | sigmoid | batchnorm
  dense:N[:relu|:sigmoid]   dropout:P   conv:N[:K[:PAD]]   maxpool[:K]   residual:N
It must end with dense:1:sigmoid. The default is the study's head:
  flatten,dense:128:relu,dropout:0.5,dense:1:sigmoid
A much smaller one:  gap,dense:1:sigmoid

The backbone is loaded as features.json names it (vgg16 from the user cache, or
--backbone-file); --no-backbone exports only the head (head.onnx, input "features").

Example:
  catdog finetune --features data/features/vgg16 --epochs 10
  catdog finetune --features data/features/vgg16 --head gap,dense:1:sigmoid --optimizer adam --lr 0.001`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := a.v.GetString("finetune.features")
			if dir == "" {
				return errors.New("finetune: --features is required (a folder written by catdog extract-features)")
			}
			if _, err := finetune.ParseLayers(a.v.GetString("finetune.head")); err != nil {
				return fmt.Errorf("finetune: --head: %w", err)
			}
			cfg, err := trainConfig(a, "finetune")
			if err != nil {
				return err
			}
			cfg.Head = a.v.GetString("finetune.head")
			if !a.v.GetBool("finetune.no-backbone") {
				bb, err := finetune.BackboneOf(cmd.Context(), dir, backbones.Options{File: a.v.GetString("finetune.backbone-file"), NoDownload: true})
				if err != nil {
					return fmt.Errorf("finetune: %w (or use --no-backbone)", err)
				}
				cfg.Backbone = bb
			}
			fmt.Fprintf(a.out, "training head %s on %s\n", cfg.Head, dir)
			res, err := finetune.TrainHead(cmd.Context(), dir, cfg)
			return a.reportRun(cmd.Context(), "finetune", res, err)
		},
	}
	cmd.Flags().String("features", "", "features folder (catdog extract-features --out)")
	cmd.Flags().String("head", finetune.DefaultHead, "head layer spec")
	cmd.Flags().String("backbone-file", "", "ONNX file of the backbone, if not in the user cache")
	cmd.Flags().Bool("no-backbone", false, "export only the head (head.onnx, input features)")
	addTrainFlags(cmd)
	a.bind(cmd)
	return cmd
}
