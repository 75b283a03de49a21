package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/onnx"
)

func newBackbonesCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backbones",
		Short: "List, inspect and import the pretrained backbones used for transfer learning",
		Long: `A backbone is a pretrained convolutional base, cut where its features are taken, together
with what it expects as input (size, layout, channel order, normalisation).

Built in:
  vgg16             VGG16 trained on ImageNet, from the ONNX model zoo (vgg16-12.onnx, 553 MB),
                    downloaded once into the cache folder and checked against its pinned
                    SHA-256, cut after the fifth max-pool: 512x7x7 features at 224x224.
  mobilenet-v1-075  MobileNet v1 0.75 trained on ImageNet (tfjs-models, TensorFlow.js files,
                    10 MB), converted to ONNX by catdog: 768 features (global average pool).
  mobilenet-v2-035  MobileNetV2 0.35 trained on ImageNet (Teachable Machine's base, 2 MB):
                    1280 features (global average pool of its last convolution).
  vgg16-random      VGG16's shape with seeded RANDOM weights, for tests and benchmarks only.
The MobileNets are downloaded once into the cache folder with every weight shard; what the
architecture fixes (weight names and shapes) is checked, and the SHA-256 of the files is
recorded and shown in reports. Without internet, pass a local copy with --file (the folder
holding model.json, or model.json itself).
Others, ONNX files or Keras models saved for TensorFlow.js (Teachable Machine exports
among them), are added with "catdog backbones import".

The cache folder is --cache-dir, else $CATDOG_BACKBONES_DIR, else the user cache folder
(~/.cache/catdog/backbones on Linux).

Examples:
  catdog backbones list
  catdog backbones inspect vgg16 --file ~/Downloads/vgg16-12.onnx
  catdog backbones inspect model.onnx
  catdog backbones import vgg16_keras.onnx --name keras-vgg16 \
      --layout NHWC --channels BGR --scale 1 --mean 103.939,116.779,123.68 --std 1,1,1`,
	}
	cmd.PersistentFlags().String("cache-dir", "", "folder of downloaded and imported backbones (default $CATDOG_BACKBONES_DIR or the user cache)")
	_ = a.v.BindPFlag("backbones.cache-dir", cmd.PersistentFlags().Lookup("cache-dir"))
	_ = a.v.BindEnv("backbones.cache-dir", "CATDOG_BACKBONES_DIR")
	cmd.AddCommand(newBackbonesListCmd(a), newBackbonesInspectCmd(a), newBackbonesImportCmd(a))
	return cmd
}

// bindBackbones binds a backbones subcommand's flags to viper keys backbones.<sub>.<flag>.
func bindBackbones(a *app, cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "cache-dir" {
			_ = a.v.BindPFlag("backbones."+cmd.Name()+"."+f.Name, f)
		}
	})
}

func backboneOptions(a *app) backbones.Options {
	return backbones.Options{CacheDir: a.v.GetString("backbones.cache-dir")}
}

// downloadProgress returns a Progress function that shows a bar for a model download.
func downloadProgress(a *app, name string) func(done, total int) {
	var bar progressBar
	return func(done, total int) {
		if bar == nil {
			bar = a.progress(total, "downloading "+name, "")
		}
		_ = bar.Set(done)
	}
}

func newBackbonesListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the built-in and imported backbones",
		Long: `list shows every backbone by name: its input, its weights and where its file is.

Example:
  catdog backbones list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := backboneOptions(a)
			specs, err := backbones.List(opts)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tINPUT\tFEATURES\tWEIGHTS\tFILE")
			for _, s := range specs {
				input := fmt.Sprintf("%dx%d %s %s", s.InputSize, s.InputSize, s.Layout, s.Channels)
				features, weights, file := "?", orText(s.Weights, "pretrained"), ""
				if len(s.OutputShape) > 0 {
					features = onnx.Shape(s.OutputShape).String()
				}
				switch {
				case s.Random:
					weights, file = "RANDOM (tests only)", "built by catdog"
					features = "(N, 512, S/32, S/32)"
				case s.Source.URL != "":
					p, err := backbones.ModelPath(s, opts)
					if err != nil {
						return err
					}
					if _, err := os.Stat(p); err == nil {
						file = p
					} else {
						file = "not downloaded yet (" + p + ")"
					}
				default:
					weights = "imported"
					file = s.Source.Imported
				}
				if s.Pool != "" {
					features += " " + s.Pool + "-pooled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, input, features, weights, shownText(file))
			}
			return tw.Flush()
		},
	}
}

func newBackbonesInspectCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect NAME|FILE",
		Short: "Print a backbone's (or any ONNX file's) layers, shapes and parameter counts",
		Long: `inspect prints the layer table of a backbone as catdog uses it (cut, batch dimension
dynamic), with each node's output shape, parameters and multiply-accumulates per image,
preceded by its input specification. Given the path of an ONNX file instead of a name, it
prints that file's whole graph (or, with --cut NODE, the graph cut at NODE).

Examples:
  catdog backbones inspect vgg16-random
  catdog backbones inspect vgg16 --file ~/Downloads/vgg16-12.onnx
  catdog backbones inspect runs/vgg3-20260101-120000/model.onnx
  catdog backbones inspect vgg16-12.onnx --cut vgg0_pool4_fwd`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			arg := args[0]
			cut := a.v.GetString("backbones.inspect.cut")
			if st, err := os.Stat(arg); err == nil && !st.IsDir() {
				m, err := onnx.ReadMax(arg, a.modelLimit("backbones.inspect"))
				if err != nil {
					return err
				}
				if cut != "" {
					if m, err = m.Cut(cut); err != nil {
						return err
					}
				}
				return m.Inspect().WriteTable(a.out)
			}
			if cut != "" {
				return fmt.Errorf("--cut applies to ONNX files; backbone %s has its own cut point", arg)
			}
			opts := backboneOptions(a)
			opts.MaxModelBytes = a.modelLimit("backbones.inspect")
			opts.File = a.v.GetString("backbones.inspect.file")
			opts.NoDownload = a.v.GetBool("backbones.inspect.no-download")
			opts.InputSize = a.v.GetInt("backbones.inspect.size")
			opts.Progress = downloadProgress(a, arg)
			bb, err := backbones.Load(cmd.Context(), arg, opts)
			if err != nil {
				return err
			}
			for _, w := range bb.Warnings {
				a.errf("warning: %s\n", w)
			}
			s := bb.Spec
			fmt.Fprintf(a.out, "backbone %s: %s\n", s.Name, s.Description)
			if bb.Path != "" {
				fmt.Fprintf(a.out, "file      %s (SHA-256 %s)\n", shownName(bb.Path), s.SHA256)
			}
			fmt.Fprintf(a.out, "input     %s: %dx%d, %s\n", bb.Input, s.InputSize, s.InputSize, s.PreprocessString())
			fmt.Fprintf(a.out, "features  %s: %s (cut at %s)\n\n", bb.Output, onnx.Shape(s.OutputShape), bb.Output)
			return bb.Model.Inspect().WriteTable(a.out)
		},
	}
	f := cmd.Flags()
	f.String("file", "", "local copy of the backbone's ONNX file (instead of the cache or a download)")
	f.Bool("no-download", false, "fail instead of downloading a missing model")
	f.Int("size", 0, "input side for a smaller or larger input (at least 32 for VGG16; default the backbone's)")
	f.String("cut", "", "for an ONNX file: cut the graph at this node or tensor first")
	modelLimitFlag(cmd)
	bindBackbones(a, cmd)
	return cmd
}

func newBackbonesImportCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import FILE|MODEL.JSON|FOLDER",
		Short: "Add an ONNX model or a Keras (TensorFlow.js) model as a named backbone",
		Long: `import copies a model into the backbone store (the cache folder, under --name) with a
description of its input and its cut point, so that "extract-features --backbone NAME"
and the other commands find it. The model is an ONNX file, or a Keras model saved for
TensorFlow.js (a Teachable Machine export, a tfjs-models network...): its model.json or
the folder holding it, with the weight shards beside it, converted to ONNX by catdog
(NCHW input; every Keras layer name can be a cut point). It checks the model, its input
shape and the cut point before writing anything. The stored copy's SHA-256 is recorded
and checked on every load.

Pixel values v (0..255) reach the model as (v*scale - mean[c]) / std[c], c counted in the
model's channel order. --preset sets these for a family of networks:
  imagenet   torchvision, ONNX model zoo: RGB x/255, ImageNet mean and std (the default)
  mobilenet  Keras MobileNet, MobileNetV2, Inception, Teachable Machine: x/127.5 - 1
  caffe      Keras VGG16, VGG19, ResNet50: BGR, ImageNet channel means subtracted
  unit       Darknet and others: x/255
  raw        plain 0..255 values
--channels, --scale, --mean and --std given explicitly override the preset.
--cut is a node or tensor name (see "catdog backbones inspect FILE"); without it, the
model is cut after the last max-pool that follows its last convolution. --pool avg (or
max) pools each feature map to one number: (N, C, H, W) features become (N, C).

Examples:
  A Teachable Machine export, cut before its own head:
    catdog backbones import ~/Downloads/tm-model/ --name tm-mobilenet --preset mobilenet \
        --cut out_relu --pool avg
  Tiny Darknet (TensorFlow.js layers model), its last hidden layer pooled:
    catdog backbones import darknet_tiny/model.json --name darknet-tiny --preset unit \
        --cut leaky_re_lu_15 --pool avg
  Keras VGG16 exported by scripts/export_keras_vgg16.py (BGR, caffe means, NHWC):
    catdog backbones import vgg16_keras.onnx --name keras-vgg16 \
        --layout NHWC --channels BGR --scale 1 --mean 103.939,116.779,123.68 --std 1,1,1
  A model exported by catdog (plain RGB 0..255 in, preprocessing inside):
    catdog backbones import runs/vgg3-20260101-120000/model.onnx --name vgg3 \
        --size 64 --scale 1 --mean 0,0,0 --std 1,1,1 --input image`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			get := func(k string) string { return a.v.GetString("backbones.import." + k) }
			set := func(k string) bool { return cmd.Flags().Changed(k) || a.v.InConfig("backbones.import."+k) }
			spec := backbones.Spec{
				Name:        get("name"),
				Description: get("description"),
				InputSize:   a.v.GetInt("backbones.import.size"),
				Layout:      backbones.Layout(strings.ToUpper(get("layout"))),
				Channels:    backbones.ChannelOrder(strings.ToUpper(get("channels"))),
				Input:       get("input"),
				CutAt:       get("cut"),
				Pool:        strings.ToLower(get("pool")),
			}
			if spec.Name == "" {
				return fmt.Errorf("--name is required")
			}
			preset, err := backbones.Preset(get("preset"))
			if err != nil {
				return fmt.Errorf("--preset: %w", err)
			}
			preset.Apply(&spec)
			if set("channels") {
				spec.Channels = backbones.ChannelOrder(strings.ToUpper(get("channels")))
			}
			if set("scale") {
				if spec.Scale, err = parseScale(get("scale")); err != nil {
					return err
				}
			}
			if set("mean") {
				if spec.Mean, err = parseTriple("mean", get("mean")); err != nil {
					return err
				}
			}
			if set("std") {
				if spec.Std, err = parseTriple("std", get("std")); err != nil {
					return err
				}
			}
			if spec.Description == "" {
				spec.Description = "imported from " + args[0]
			}
			opts := backboneOptions(a)
			opts.MaxModelBytes = a.modelLimit("backbones.import")
			got, err := backbones.Import(cmd.Context(), args[0], spec, a.v.GetBool("backbones.import.replace"), opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "imported backbone %s: input %s %dx%d, features %s at %s\n", got.Name, got.Input, got.InputSize, got.InputSize,
				onnx.Shape(got.OutputShape), cutName(got.CutAt))
			if got.Pool != "" {
				fmt.Fprintf(a.out, "features pooled: %s over height and width\n", got.Pool)
			}
			fmt.Fprintf(a.out, "preprocessing: %s\nSHA-256 %s\n", got.PreprocessString(), got.SHA256)
			return nil
		},
	}
	f := cmd.Flags()
	f.String("name", "", "backbone name (lower-case letters, digits, - _ .)")
	f.String("cut", "", "node or tensor whose output are the features (default: after the last conv block)")
	f.String("input", "", "name of the image input (default: the model's first input)")
	f.Int("size", 224, "input side in pixels")
	f.String("layout", "NCHW", "input layout: NCHW or NHWC (Keras models are converted to NCHW)")
	f.String("preset", "imagenet", "preprocessing of a network family: imagenet, mobilenet, caffe, unit or raw")
	f.String("channels", "RGB", "channel order: RGB or BGR (default: the preset's)")
	f.String("scale", "1/255", "factor applied to 0..255 pixel values first, a number or a fraction like 1/255 (default: the preset's)")
	f.String("mean", "0.485,0.456,0.406", "per-channel mean subtracted after scaling, in the model's channel order (default: the preset's)")
	f.String("std", "0.229,0.224,0.225", "per-channel standard deviation divided by, in the model's channel order (default: the preset's)")
	f.String("pool", "", "pool the cut's feature maps: avg or max (default: none)")
	f.String("description", "", "one line saying what the model is")
	f.Bool("replace", false, "replace a backbone of the same name")
	modelLimitFlag(cmd)
	bindBackbones(a, cmd)
	return cmd
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func cutName(s string) string {
	if s == "" {
		return "the last conv block"
	}
	return s
}

// parseScale reads a number or a fraction "a/b".
func parseScale(s string) (float32, error) {
	num, den, frac := strings.Cut(s, "/")
	x, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err == nil && frac {
		var d float64
		if d, err = strconv.ParseFloat(strings.TrimSpace(den), 64); err == nil {
			if d == 0 {
				return 0, fmt.Errorf("--scale %q divides by zero", s)
			}
			x /= d
		}
	}
	if err != nil {
		return 0, fmt.Errorf("--scale %q: want a number such as 1 or 0.00392 or a fraction such as 1/255", s)
	}
	return float32(x), nil
}

// parseTriple reads three comma-separated numbers.
func parseTriple(flag, s string) ([3]float32, error) {
	var out [3]float32
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return out, fmt.Errorf("--%s %q: want three comma-separated numbers, one per channel", flag, s)
	}
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil {
			return out, fmt.Errorf("--%s %q: %q is not a number", flag, s, p)
		}
		out[i] = float32(v)
	}
	return out, nil
}
