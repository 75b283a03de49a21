package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/spf13/cobra"

	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/finetune"
	"github.com/catdog-ml/catdog/metrics"
	"github.com/catdog-ml/catdog/runs"
)

func newTrainCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a from-scratch CNN on a prepared dataset",
		Long: `train trains one architecture of the registry (catdog models) from scratch, in Gorgonia,
on a prepared dataset (catdog prepare), and writes a run folder runs/<name>-<timestamp>/:

  model.onnx        input "image" float32 (N, 3, S, S) RGB 0..255; output "prob_cat" (N, 1)
                    for two classes, "probabilities" (N, C) for C >= 3; the class names in
                    its metadata; the 1/255 scaling is inside the graph
  history.json      per epoch: train/valid loss and accuracy, seconds, images/s
  config.json, model.json (layer table), predictions.npy + labels.npy (test split),
  result.json, and checkpoint/ while training

The architecture ends with dense:1 + sigmoid for two classes, dense:C + softmax for the C
classes of a dataset of three or more (a folder per class).

Training: binary (or categorical) cross-entropy, with --class-weight balanced for
imbalanced classes; Adam at a peak learning rate of 0.001 with one epoch of warm-up and a
cosine decay by default (--optimizer sgd for SGD with --momentum), shuffled batches from
--seed, validation after every epoch. The weights of the epoch with the lowest validation
loss are kept; --patience P stops after P epochs without improvement. A checkpoint is written after every epoch: an interrupted run
(Ctrl-C, kill) continues with --resume. See docs/training.md.

Example:
  catdog train --arch vgg3 --data data --epochs 20
  catdog train --arch vgg3-dropout-bn-aug --data data --epochs 50 --patience 8
  catdog train --arch vgg3-dropout-bn-aug --data data --augment tutorial  # flip + 10 % shift
  catdog train --arch vgg3 --data data --epochs 20 --resume     # after an interruption`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data := a.v.GetString("train.data")
			if data == "" {
				return errors.New("train: --data is required (a folder written by catdog prepare)")
			}
			arch, err := finetune.Arch(a.v.GetString("train.arch"))
			if err != nil {
				return err
			}
			cfg, err := trainConfig(a, "train")
			if err != nil {
				return err
			}
			if cfg.ClassWeights, err = classWeights(a, "train", func() ([]int, error) {
				m, err := datasets.ReadManifest(data)
				if err != nil {
					return nil, err
				}
				return m.Splits[datasets.Train].Counts, nil
			}); err != nil {
				return err
			}
			if name := a.v.GetString("train.augment"); name != "" {
				o, err := finetune.AugmentByName(name)
				if err != nil {
					return fmt.Errorf("--augment: %w", err)
				}
				cfg.Augment = &o
			}
			if a.v.GetBool("train.no-augment") {
				cfg.Augment = &finetune.AugmentOptions{}
			}
			fmt.Fprintf(a.out, "training %s (%s) on %s\n", arch.Name, arch.Description, data)
			res, err := finetune.TrainCNN(cmd.Context(), data, arch, cfg)
			return a.reportRun(cmd.Context(), "train", res, err)
		},
	}
	cmd.Flags().String("arch", "vgg3", "architecture (catdog models lists them)")
	cmd.Flags().String("data", "", "prepared dataset folder (catdog prepare --out)")
	cmd.Flags().String("augment", "", "augmentation of the training images: default (flip, turn 15°, zoom 0.9-1.1, shift 10 %, contrast 20 %), tutorial (flip, shift 10 %) or none (default: the architecture's: default for -aug architectures, none for the others)")
	cmd.Flags().Bool("no-augment", false, "train an -aug architecture without augmentation (as --augment none)")
	addTrainFlags(cmd)
	a.bind(cmd)
	return cmd
}

// addTrainFlags defines the flags train and finetune share.
func addTrainFlags(cmd *cobra.Command) {
	cmd.Flags().Int("epochs", finetune.DefaultEpochs, "most epochs")
	cmd.Flags().Int("batch", finetune.DefaultBatch, "mini-batch size")
	cmd.Flags().String("init", string(finetune.DefaultInit), "initial weights: glorot-uniform or he-uniform")
	cmd.Flags().String("optimizer", finetune.DefaultOptimizer, "adam, or sgd (with --momentum)")
	cmd.Flags().Float64("lr", finetune.DefaultLR, "peak learning rate")
	cmd.Flags().String("schedule", finetune.DefaultSchedule, "learning rate over the epochs: constant, or cosine (down to 0)")
	cmd.Flags().Int("warmup", finetune.DefaultWarmup, "epochs of linear learning-rate warm-up from 0 (0: none; by default none for a run of one epoch)")
	cmd.Flags().Float64("momentum", 0.9, "SGD momentum (0 for plain SGD)")
	cmd.Flags().Int("patience", finetune.DefaultPatience, "stop after this many epochs without a lower validation loss (0: never stop early)")
	cmd.Flags().Uint64("seed", 1, "seed for weights, shuffling, dropout and augmentation")
	cmd.Flags().Int("limit", 0, "use at most this many samples per split (quick trials; 0: all)")
	cmd.Flags().String("runs", "runs", "folder of run folders")
	cmd.Flags().String("name", "", "run name (default: the architecture, or head)")
	cmd.Flags().Duration("checkpoint-every", 5*time.Minute, "also checkpoint within an epoch this often (0: only after each epoch)")
	cmd.Flags().Bool("resume", false, "continue the newest interrupted run of this name")
	cmd.Flags().String("resume-dir", "", "continue the interrupted run in this run folder")
	cmd.Flags().String("class-weight", "none", "loss weight per class: none, or balanced (n/(classes x count) from the train split's counts, for imbalanced data)")
}

// classWeights returns the loss weights --class-weight asks for: nil for none, or balanced
// weights (finetune.BalancedWeights) from the labels of the train split, read by labels.
func classWeights(a *app, name string, labels func() ([]int, error)) ([]float64, error) {
	switch mode := a.v.GetString(name + ".class-weight"); mode {
	case "", "none":
		return nil, nil
	case "balanced":
		counts, err := labels()
		if err != nil {
			return nil, fmt.Errorf("%s: --class-weight balanced: %w", name, err)
		}
		return finetune.BalancedWeights(counts), nil
	default:
		return nil, fmt.Errorf("%s: --class-weight %q: want none or balanced", name, mode)
	}
}

// trainConfig reads the shared training flags of command name.
func trainConfig(a *app, name string) (finetune.Config, error) {
	get := func(k string) string { return name + "." + k }
	cfg := finetune.Config{
		Name:      a.v.GetString(get("name")),
		RunsDir:   a.v.GetString(get("runs")),
		Epochs:    a.v.GetInt(get("epochs")),
		Batch:     a.v.GetInt(get("batch")),
		Init:      finetune.Init(a.v.GetString(get("init"))),
		LR:        a.v.GetFloat64(get("lr")),
		Optimizer: a.v.GetString(get("optimizer")),
		Schedule:  a.v.GetString(get("schedule")),
		Warmup:    a.v.GetInt(get("warmup")),
		Momentum:  a.v.GetFloat64(get("momentum")),
		Patience:  a.v.GetInt(get("patience")),
		Seed:      a.v.GetUint64(get("seed")),
		Limit:     a.v.GetInt(get("limit")),
		Resume:    a.v.GetBool(get("resume")),
		ResumeDir: a.v.GetString(get("resume-dir")),

		CheckpointEvery: a.v.GetDuration(get("checkpoint-every")),
	}
	if cfg.Epochs < 1 {
		return cfg, fmt.Errorf("%s: --epochs must be at least 1", name)
	}
	if cfg.LR <= 0 {
		return cfg, fmt.Errorf("%s: --lr must be positive", name)
	}
	// The recipe's warm-up is cut short on a short run; one asked for is not.
	if a.v.IsSet(get("warmup")) && cfg.Warmup > 0 && cfg.Warmup >= cfg.Epochs {
		return cfg, fmt.Errorf("%s: a warm-up of %d epochs leaves none of the %d epochs at the peak learning rate: want --warmup 0 to %d", name, cfg.Warmup, cfg.Epochs, cfg.Epochs-1)
	}
	var bar progressBar
	cfg.Progress = func(p finetune.Progress) {
		if p.Batch == 1 || bar == nil {
			bar = a.progress(p.Batches, fmt.Sprintf("epoch %d/%d", p.Epoch, p.Epochs), "")
		}
		bar.Describe(fmt.Sprintf("epoch %d/%d loss %.4f acc %.3f", p.Epoch, p.Epochs, p.Loss, p.Accuracy))
		_ = bar.Set(p.Batch)
	}
	cfg.OnEpoch = func(e runs.Epoch) {
		if bar != nil {
			_ = bar.Finish()
			bar = nil
		}
		best := ""
		if e.Best {
			best = "  best"
		}
		fmt.Fprintf(a.out, "epoch %3d  train loss %.4f acc %.4f  valid loss %.4f acc %.4f  %6.1fs %7.1f img/s%s\n",
			e.Epoch, e.TrainLoss, e.TrainAcc, e.ValidLoss, e.ValidAcc, e.Seconds, e.ImagesPerSec, best)
	}
	return cfg, nil
}

// reportRun prints a finished run's summary, or explains how to resume an interrupted one.
func (a *app) reportRun(ctx context.Context, name string, res *finetune.Result, err error) error {
	if err != nil {
		var ie *finetune.InterruptedError
		if errors.As(err, &ie) && ie.Resumable {
			return fmt.Errorf("%s interrupted after %d whole epochs (checkpoint in %s): run the same command with --resume to continue", name, ie.Epochs, ie.Dir)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	h := res.History
	if h.StoppedEarly {
		fmt.Fprintf(a.out, "stopped early at epoch %d, weights of epoch %d kept: valid loss %.4f, accuracy %.4f\n", len(h.Epochs), h.BestEpoch, h.BestValidLoss, h.BestValidAcc)
	} else {
		fmt.Fprintf(a.out, "ran %d epochs, weights of epoch %d kept: valid loss %.4f, accuracy %.4f\n", len(h.Epochs), h.BestEpoch, h.BestValidLoss, h.BestValidAcc)
	}
	n := len(res.TestProbs)
	if c := len(res.Classes); c > 2 {
		n /= c
	}
	lo, hi := metrics.Wilson(int(math.Round(res.TestAcc*float64(n))), n)
	fmt.Fprintf(a.out, "test: loss %.4f, accuracy %.4f [%.4f, %.4f] (%d images, %d classes; 95 %% interval)\n", res.TestLoss, res.TestAcc, lo, hi, n, len(res.Classes))
	fmt.Fprintf(a.out, "%d trainable parameters, %.1f s training, %.1f images/s\n", res.Params, res.TrainSeconds, res.ImagesPerSec)
	fmt.Fprintf(a.out, "model: %s\nrun folder: %s\n", res.ModelPath, res.Dir)
	return nil
}
