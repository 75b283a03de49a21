package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/features"
	"github.com/catdog-ml/catdog/internal/shard"
)

func newExtractFeaturesCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "extract-features --backbone NAME --data DIR",
		Short: "Run a frozen backbone over a prepared dataset and cache its features",
		Long: `extract-features runs the convolutional base of a pretrained backbone (cut where the
backbone says, or at --cut) on onnxruntime over the train, valid and test splits of a
prepared dataset, and writes to --out (default DIR/features/NAME, or NAME@CUT with --cut):

  train_features.npy  valid_features.npy  test_features.npy   float32 or float16, (n, C, H, W)
  train_labels.npy    valid_labels.npy    test_labels.npy     uint8, (n,)
  features.json       backbone, checksums, cut, input size, preprocessing, shapes, speed

The backbone runs at the dataset's image size: no second resize. VGG16 at 224 px gives
512 x 7 x 7 features per image; at 200 px, 512 x 6 x 6.

The result is cached: running again with the same backbone file, cut, input size, dtype
and dataset does nothing ("cache hit"); any change rebuilds. --force rebuilds anyway.

Backbones: vgg16, mobilenet-v1-075 and mobilenet-v2-035 (ImageNet weights, downloaded
once into the user cache, or --file), vgg16-random (random weights, for tests and
benchmarks only) and imported ones (catdog backbones list).

--cut takes the features from another layer (catdog backbones inspect NAME shows them),
for instance before a backbone's last block, so that "catdog finetune --train-top"
trains that block further; --pool avg|max then pools each feature map.

Sharded, for several processes or machines (a Kubernetes Indexed Job; see
docs/scale-out.md): --shard INDEX/COUNT computes only that shard's run of batches into
OUT/parts/INDEX-of-COUNT/ (--shards COUNT, or CATDOG_SHARDS, takes INDEX from
JOB_COMPLETION_INDEX, which Kubernetes sets in each pod). A shard stopped mid-way leaves no
usable part and redoes its work when run again; a finished one is a cache hit. When every
shard is done, --merge assembles the parts into OUT: the same files, byte for byte, as one
process with the same --batch, refusing a missing, incomplete, duplicated or foreign part.

Examples:
  catdog extract-features --backbone mobilenet-v1-075 --data data
  catdog extract-features --backbone mobilenet-v1-075 --file ~/mobilenet_v1_0.75_224/ --data data
  catdog extract-features --backbone mobilenet-v1-075 --cut conv_dw_13_relu --dtype float16 --data data
  catdog extract-features --backbone vgg16 --file ~/Downloads/vgg16-12.onnx --data data --dtype float16
  catdog extract-features --backbone mobilenet-v1-075 --data data --shard 0/3   # and 1/3, 2/3
  catdog extract-features --backbone mobilenet-v1-075 --data data --merge`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			get := func(k string) string { return a.v.GetString("extract-features." + k) }
			shards := a.v.GetInt("extract-features.shards")
			if a.v.GetBool("extract-features.merge") {
				if get("shard") != "" {
					return fmt.Errorf("extract-features: --merge assembles every shard's part: give it without --shard")
				}
				return a.mergeFeatures(cmd, get("data"), get("out"), get("backbone"), get("cut"), shards)
			}
			if get("data") == "" {
				return fmt.Errorf("extract-features: --data is required")
			}
			if get("pool") != "" && get("cut") == "" {
				return fmt.Errorf("extract-features: --pool goes with --cut (the backbone's own cut has its own pooling)")
			}
			sh, err := shard.Resolve(get("shard"), shards, os.Getenv)
			if err != nil {
				return fmt.Errorf("extract-features: %w", err)
			}
			threads, err := a.threads("extract-features")
			if err != nil {
				return err
			}
			var bar interface {
				Set(int) error
				Finish() error
			}
			opts := features.Options{
				Shard:     sh,
				Backbone:  get("backbone"),
				Backbones: backbones.Options{File: get("file"), CutAt: get("cut"), Pool: get("pool"), MaxModelBytes: a.modelLimit("extract-features")},
				Data:      get("data"),
				Out:       get("out"),
				Provider:  get("ep"),
				Threads:   threads,
				Batch:     a.v.GetInt("extract-features.batch"),
				DType:     get("dtype"),
				Force:     a.v.GetBool("extract-features.force"),
				Notify:    func(msg string) { a.errf("catdog: %s\n", msg) },
				Progress: func(done, total int) {
					if bar == nil {
						bar = a.progress(total, "features", "images")
					}
					_ = bar.Set(done)
				},
			}
			res, err := features.Extract(cmd.Context(), opts)
			if bar != nil {
				_ = bar.Finish()
			}
			if err != nil {
				return err
			}
			info := res.Info
			if res.CacheHit {
				fmt.Fprintf(a.out, "cache hit: %s already holds these features (key %s)\n", res.Dir, info.Key[:12])
			}
			if p := res.Part; p != nil {
				fmt.Fprintf(a.out, "shard %s of backbone %s's features:\n", p.Shard, info.Backbone)
				for _, s := range []string{"train", "valid", "test"} {
					fmt.Fprintf(a.out, "  %-5s rows %6d to %6d of %6d\n", s, p.From[s], p.From[s]+info.Splits[s].Count, p.SplitSizes[s])
				}
				if !res.CacheHit {
					fmt.Fprintf(a.out, "%.1f images/s on %s (onnxruntime %s), %.1fs\n", info.ImagesPerSecond, info.Provider, info.ORTVersion, info.Seconds)
				}
				fmt.Fprintf(a.out, "written to %s; when every shard is done: catdog extract-features --merge --out %s\n", res.Dir, filepath.Dir(filepath.Dir(res.Dir)))
				return nil
			}
			shape := make([]string, len(info.FeatureShape))
			for i, d := range info.FeatureShape {
				shape[i] = fmt.Sprint(d)
			}
			fmt.Fprintf(a.out, "backbone %s (cut at %s), %dx%d input, features %s per image, %s\n",
				info.Backbone, info.Cut, info.InputSize, info.InputSize, strings.Join(shape, "x"), info.DType)
			for _, s := range []string{"train", "valid", "test"} {
				fmt.Fprintf(a.out, "  %-5s %6d images  %s\n", s, info.Splits[s].Count, info.Splits[s].Features)
			}
			if !res.CacheHit {
				fmt.Fprintf(a.out, "%.1f images/s on %s (onnxruntime %s), %.1fs\n", info.ImagesPerSecond, info.Provider, info.ORTVersion, info.Seconds)
			}
			fmt.Fprintf(a.out, "written to %s\n", res.Dir)
			return nil
		},
	}
	cmd.Flags().String("backbone", backbones.VGG16, "backbone name (see catdog backbones list)")
	cmd.Flags().String("file", "", "local copy of the backbone's weights (ONNX file, or TensorFlow.js folder) instead of the cache")
	cmd.Flags().String("cut", "", "take the features at this node or tensor instead of the backbone's cut")
	cmd.Flags().String("pool", "", "with --cut: pool each feature map, avg or max (default none)")
	cmd.Flags().String("data", "", "prepared dataset folder (catdog prepare --out)")
	cmd.Flags().String("out", "", "features folder (default DATA/features/BACKBONE)")
	cmd.Flags().String("ep", "auto", "onnxruntime execution provider: auto, cuda or cpu")
	threadsFlag(cmd)
	modelLimitFlag(cmd)
	cmd.Flags().Int("batch", features.DefaultBatch, "images per onnxruntime run")
	cmd.Flags().String("dtype", "float32", "stored feature type: float32 or float16")
	cmd.Flags().Bool("force", false, "extract even if the cached features are up to date")
	cmd.Flags().String("shard", "", "compute only shard INDEX/COUNT (such as 0/4) into OUT/parts/")
	cmd.Flags().Int("shards", 0, "shard count, the index from "+shard.IndexEnv+" (as Kubernetes sets it in an Indexed Job's pods)")
	cmd.Flags().Bool("merge", false, "assemble the shards' parts in OUT into the features folder (checking their count when --shards or CATDOG_SHARDS gives it)")
	a.bind(cmd)
	return cmd
}

// mergeFeatures assembles the parts of a sharded extraction (features.Merge) in out, or in
// DATA/features/BACKBONE[@CUT] when out is empty; shards, when not 0, is their count.
func (a *app) mergeFeatures(cmd *cobra.Command, data, out, backbone, cut string, shards int) error {
	if out == "" {
		if data == "" {
			return fmt.Errorf("extract-features --merge: give --out, or --data (and the --backbone and --cut the shards had)")
		}
		out = filepath.Join(data, "features", features.DirName(backbone, cut))
	}
	info, err := features.Merge(cmd.Context(), out, shards)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.out, "merged %d shards of backbone %s's features (key %s):\n", info.Shards, info.Backbone, info.Key[:12])
	for _, s := range []string{"train", "valid", "test"} {
		fmt.Fprintf(a.out, "  %-5s %6d images  %s\n", s, info.Splits[s].Count, info.Splits[s].Features)
	}
	fmt.Fprintf(a.out, "written to %s (the parts stay in %s: remove them when done)\n", out, filepath.Join(out, features.PartsDir))
	return nil
}
