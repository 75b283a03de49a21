package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/features"
	"github.com/catdog-ml/catdog/finetune"
	"github.com/catdog-ml/catdog/internal/npy"
	"github.com/catdog-ml/catdog/transfer"
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
  flatten | gap | relu | sigmoid | softmax | batchnorm
  dense:N[:relu|:sigmoid|:softmax]   dropout:P   conv:N[:K[:PAD]]   maxpool[:K]   residual:N
It must end with dense:1:sigmoid for two classes, dense:C:softmax for the C classes of
features of three classes or more. The default is the study's head, made for the
features' classes:
  flatten,dense:128:relu,dropout:0.5,dense:1:sigmoid
A much smaller one:  gap,dense:1:sigmoid  (gap,dense:10:softmax for ten classes)
--class-weight balanced weighs the loss against imbalanced classes.

The backbone is loaded as features.json names it (from the user cache, the file recorded
there, or --backbone-file); --no-backbone exports only the head (head.onnx, input
"features").

--join adds the features of other backbones, extracted from the same dataset: the head
sees each photo's features side by side, and the exported model runs every backbone.

--train-top, for features taken below a backbone's own cut (extract-features --cut),
also trains the backbone's layers between that cut and its own one, starting from their
pretrained weights (batch norms folded into the convolutions, their statistics frozen),
then the head: fine-tuning the top of the network. Use a small learning rate.

Examples:
  catdog finetune --features data/features/mobilenet-v1-075 --optimizer adam --lr 0.0003
  catdog finetune --features data/features/vgg16 --head gap,dense:1:sigmoid --optimizer adam --lr 0.001
  catdog finetune --features data/features/mobilenet-v1-075 --join data/features/mobilenet-v2-035
  catdog finetune --features data/features/mobilenet-v1-075@conv_dw_13_relu --train-top \
      --head dense:1:sigmoid --optimizer adam --lr 0.0001`,
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
			info, err := features.Open(dir)
			if err != nil {
				return fmt.Errorf("finetune: %w", err)
			}
			cfg.Head = a.v.GetString("finetune.head")
			if !a.v.IsSet("finetune.head") { // the default head, made for the features' classes
				layers, err := finetune.ParseLayers(cfg.Head)
				if err == nil {
					layers, err = finetune.WithClasses(layers, len(info.ClassNames()))
				}
				if err != nil {
					return fmt.Errorf("finetune: %w", err)
				}
				cfg.Head = finetune.SpecString(layers)
			}
			if cfg.ClassWeights, err = classWeights(a, "finetune", func() ([]int, error) {
				labels, _, err := npy.ReadFile[uint8](filepath.Join(dir, features.LabelsFile(datasets.Train)))
				if err != nil {
					return nil, err
				}
				counts := make([]int, len(info.ClassNames()))
				for _, l := range labels {
					if int(l) < len(counts) {
						counts[l]++
					}
				}
				return counts, nil
			}); err != nil {
				return err
			}
			cfg.JoinFeatures = a.list("finetune.join")
			bopts := backbones.Options{File: a.v.GetString("finetune.backbone-file"), NoDownload: true, MaxModelBytes: a.modelLimit("finetune")}
			if a.v.GetBool("finetune.train-top") {
				if len(cfg.JoinFeatures) > 0 {
					return errors.New("finetune: --train-top and --join do not go together")
				}
				top, err := transfer.TopBlock(cmd.Context(), info, bopts)
				if err != nil {
					return fmt.Errorf("finetune: --train-top: %w", err)
				}
				cfg.Head = finetune.SpecString(top.Layers) + "," + cfg.Head
				cfg.Weights, cfg.InitFrom = top.Weights, "the backbone's pretrained top block"
				fmt.Fprintf(a.out, "training the backbone's top block %s from its pretrained weights\n", finetune.SpecString(top.Layers))
			}
			if !a.v.GetBool("finetune.no-backbone") {
				var bbs []*finetune.Backbone
				for _, d := range append([]string{dir}, cfg.JoinFeatures...) {
					o := bopts
					if d != dir {
						o.File = ""
					}
					info, err := features.Open(d)
					if err != nil {
						return fmt.Errorf("finetune: %w", err) // the features themselves: no backbone helps
					}
					bb, err := transfer.Backbone(cmd.Context(), info, o)
					if err != nil {
						return fmt.Errorf("finetune: %w (or use --no-backbone)", err)
					}
					bbs = append(bbs, bb)
				}
				bb, err := finetune.JoinBackbones(bbs...)
				if err != nil {
					return fmt.Errorf("finetune: %w", err)
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
	cmd.Flags().StringSlice("join", nil, "more features folders of the same dataset, joined to --features' (a head on several backbones)")
	cmd.Flags().Bool("train-top", false, "also train the backbone's layers above the features' cut, from their pretrained weights")
	modelLimitFlag(cmd)
	addTrainFlags(cmd)
	a.bind(cmd)
	return cmd
}
