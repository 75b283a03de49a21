package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/study"
)

func newRunCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run [--data SOURCE] [--profile quick|hour|full]",
		Short: "Run the whole study: prepare, every CNN rung, transfer learning, the comparison page",
		Long: `run is the main job: it prepares the photos, trains every from-scratch rung of the
ladder (vgg1, vgg2, vgg3, + dropout, + batch norm, + augmentation, a residual network),
then the transfer rungs (a frozen ImageNet backbone's features and a trained head) for
every backbone whose weights can be had (with --extras also MobileNet v1's last block
fine-tuned, a head on both MobileNets' features, and the best of these averaged over
mirror images); it evaluates every exported model on onnxruntime, and writes a document
per model and the page that compares them all (<dir>/runs/index.html). A backbone whose weights are
missing is listed on that page as not run, with the fix.

Profiles:
  quick  (default) the CNNs on 64x64 images, 1,500 photos per class, a few epochs; the
         backbones on 224x224 images, up to 6,000 photos per class: MobileNet v1 0.75
         and MobileNetV2 0.35 (downloaded once, 12 MB), vgg16 if its weights are at hand
         (no download), vgg16-random (random weights, stamped as such, on the CNNs'
         photos) to show what ImageNet features are worth. About 20 minutes on a
         2-core CPU.
  hour   the CNNs on every photo at 64x64, each until its validation loss has not
         improved for 5 epochs (at most 60), the augmentation rung with the tutorial's
         augmentation (flip, 10 % shift); the backbones as in quick on every photo.
         About an hour and a half on a 2-core CPU with 24,000 photos.
  full   the study's settings: every photo, 200x200 for the CNNs, 224x224 for the
         backbones, VGG16 downloaded (553 MB) when missing, up to 50 epochs with early
         stopping, and the extras.

Any photos: --data photos/ with a folder per class (photos/daisy/, photos/rose/, ...)
runs the same ladder and transfer rungs on those classes (softmax outputs for three or
more; --classes orders or picks them); the tutorial's published figures are shown for
Dogs vs. Cats only.

Without internet, give local copies of the weights with --backbone-file NAME=PATH (an
ONNX file for vgg16; the folder of model.json and its shards for the MobileNets).
Preparing and feature extraction are cached in the work folder: running again reuses them.

Examples:
  catdog run --data ~/Downloads/train.zip
  catdog run --data train --backbone-file mobilenet-v1-075=mobilenet_v1_0.75_224/ \
      --backbone-file mobilenet-v2-035=tm-export/
  catdog run --data train.zip --profile full --backbone-file vgg16=vgg16-12.onnx
  catdog run --data cifar-10/train --dir cifar-study`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runStudy(a, cmd) },
	}
	cmd.Flags().String("data", "", "photos: Kaggle's train.zip, a folder, PetImages, or a folder per class (empty: download PetImages)")
	cmd.Flags().StringSlice("classes", nil, "class folders to keep, in label order (default: every folder, sorted)")
	cmd.Flags().String("dir", "catdog-study", "work folder: datasets, features, runs and the comparison page")
	cmd.Flags().String("profile", "quick", "quick, hour or full")
	cmd.Flags().Uint64("seed", 1, "seed of the split, the weights, the shuffling and the augmentation")
	cmd.Flags().Int("seeds", 1, "train every from-scratch rung with this many seeds (seed, seed+1, ...) and report mean and spread")
	cmd.Flags().StringSlice("arch", nil, "from-scratch rungs to run (default: every one; see catdog models)")
	cmd.Flags().StringSlice("backbone", nil, "transfer rungs' backbones (default: the profile's)")
	cmd.Flags().Var(&pairs{}, "backbone-file", "local weights of a backbone; repeat for several (vgg16=vgg16-12.onnx)")
	cmd.Flags().Int("epochs", 0, "override the profile's most epochs per rung")
	cmd.Flags().Int("per-class", 0, "photos per class for the CNNs, instead of the profile's (0: all)")
	cmd.Flags().Int("transfer-per-class", 0, "photos per class for the backbones, instead of the profile's (0: all)")
	cmd.Flags().Bool("extras", false, "also run the rungs past the tutorial: MobileNet v1's top block fine-tuned, a head on both MobileNets, flip averaging (on in the full profile)")
	cmd.Flags().String("ep", "auto", "onnxruntime execution provider: auto, cuda or cpu")
	modelLimitFlag(cmd)
	a.bind(cmd)
	return cmd
}

func runStudy(a *app, cmd *cobra.Command) error {
	v := a.v
	p, err := study.ProfileByName(v.GetString("run.profile"))
	if err != nil {
		return err
	}
	if v.GetBool("run.extras") {
		p = p.WithExtras()
	}
	if e := v.GetInt("run.epochs"); e > 0 {
		p.Epochs, p.HeadEpochs = e, e
	}
	if v.IsSet("run.per-class") { // given as a flag, a variable or in a file: 0 means all
		p.PerClass = v.GetInt("run.per-class")
	}
	if v.IsSet("run.transfer-per-class") {
		p.TransferPerClass = v.GetInt("run.transfer-per-class")
	}
	opts := study.Options{
		Data:     v.GetString("run.data"),
		Classes:  a.list("run.classes"),
		Dir:      v.GetString("run.dir"),
		Profile:  p,
		Seed:     v.GetUint64("run.seed"),
		Seeds:    v.GetInt("run.seeds"),
		Provider: v.GetString("run.ep"),
		Notify:   func(msg string) { a.errf("catdog: %s\n", msg) },
		Backbone: backbones.Options{MaxModelBytes: a.modelLimit("run")},
	}
	if archs := a.list("run.arch"); len(archs) > 0 {
		opts.Archs = archs
	}
	if bbs := a.list("run.backbone"); len(bbs) > 0 {
		opts.Backbones = bbs
	}
	files, err := pairsOf(v.Get("run.backbone-file"))
	if err != nil {
		return fmt.Errorf("run: --backbone-file: %w", err)
	}
	opts.BackboneFiles = files
	for name := range opts.BackboneFiles {
		if _, err := backbones.Lookup(name, backbones.Options{}); err != nil {
			return fmt.Errorf("run: --backbone-file %s=...: %w", name, err)
		}
	}

	var bar progressBar
	var step string
	opts.Progress = func(s string, done, total int) {
		if s != step || bar == nil {
			if bar != nil {
				_ = bar.Finish()
			}
			step, bar = s, a.progress(total, s, "")
		}
		_ = bar.Set(done)
	}
	sum, err := study.Run(cmd.Context(), opts)
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.out, "\nstudy %s done in %.0fs\n\n", sum.Profile.Name, sum.Seconds)
	w := tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "model\tkind\tparams\tepochs\ttrain s\ttest acc\t95 % interval\t")
	for _, r := range sum.Rungs {
		if r.Skipped != "" {
			fmt.Fprintf(w, "%s\t%s\t\t\t\tnot run\t\t\n", r.Name, r.Kind)
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%.0f\t%.2f%%\t[%.2f, %.2f]\t\n", r.Name, r.Kind, r.Params, r.Epochs, r.Seconds,
			100*r.Accuracy, 100*r.AccuracyLow, 100*r.AccuracyHigh)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(sum.Seeds) > 0 {
		fmt.Fprintln(a.out)
		w := tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "over seeds\tseeds\ttest acc per seed (%)\tmean ± sd\t")
		for _, s := range sum.Seeds {
			var per []string
			for _, acc := range s.Accuracies {
				per = append(per, fmt.Sprintf("%.2f", 100*acc))
			}
			fmt.Fprintf(w, "%s\t%d\t%s\t%.2f ± %.2f %%\t\n", s.Name, len(s.Seeds), strings.Join(per, " "), 100*s.Mean, 100*s.SD)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	for _, r := range sum.Rungs {
		if r.Skipped != "" {
			fmt.Fprintf(a.out, "\n%s not run: %s\n  fix: %s\n", r.Name, r.Skipped, r.Fix)
		}
	}
	fmt.Fprintf(a.out, "\ncomparison page: %s\n", sum.Index)
	return nil
}
