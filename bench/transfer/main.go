// Command transfer measures what each transfer-learning variant of the study is worth, on
// real ImageNet weights, over several seeds, with 95 % intervals: the plain head on
// MobileNet v1 0.75 (the baseline), on MobileNetV2 0.35, one head on both MobileNets'
// features joined, MobileNet v1's last block fine-tuned from its ImageNet weights, and the
// MobileNet v1 head averaged over mirror images. Each variant's test accuracy is the exported
// model's on onnxruntime where the variant changes the exported graph (flip), else the
// training engine's on the same cached features (they agree within 1e-5, checked in the
// tests). A variant "beats the baseline beyond noise" only when the 95 % Wilson intervals of
// their mean accuracies, on the same test photos, do not overlap.
//
// It prepares the photos at 224x224 (or reuses -work/data-224) and caches every feature
// folder, so a second run only trains. From the repository root, on the shared photos:
//
//	go run ./bench/transfer [-seeds 3] [-work /tmp/catdog-transfer]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/evaluate"
	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/features"
	"github.com/catdog-ml/catdog/finetune"
	"github.com/catdog-ml/catdog/metrics"
	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/transfer"
)

type variant struct {
	name string
	run  func(ctx context.Context, seed uint64) (acc float64, n int, err error)
}

func main() {
	photos := flag.String("photos", "../shared/data/dogs-vs-cats/train", "photos to prepare (train.zip, a folder...)")
	models := flag.String("models", "../shared/models", "folder holding mobilenet_v1_0.75_224 and teachable-machine-export")
	work := flag.String("work", filepath.Join(os.TempDir(), "catdog-transfer"), "work folder (prepared data, features, runs)")
	seeds := flag.Int("seeds", 3, "seeds per variant")
	only := flag.String("only", "", "run only these variants, comma separated (v1, v2, join, finetune, flip)")
	flag.Parse()
	ctx := context.Background()
	log.SetFlags(0)

	data := filepath.Join(*work, "data-224")
	if _, err := datasets.ReadManifest(data); err != nil {
		log.Printf("preparing %s at 224x224 into %s", *photos, data)
		if _, err := datasets.Prepare(ctx, datasets.Options{Data: *photos, Out: data, Size: 224, Seed: 1}); err != nil {
			log.Fatal(err)
		}
	}
	files := map[string]string{
		backbones.MobileNetV1075: filepath.Join(*models, "mobilenet_v1_0.75_224"),
		backbones.MobileNetV2035: filepath.Join(*models, "teachable-machine-export"),
	}
	bopts := func(name string) backbones.Options {
		return backbones.Options{File: files[name], CacheDir: filepath.Join(*work, "backbones")}
	}
	extract := func(name, cut string) string {
		o := bopts(name)
		o.CutAt = cut
		start := time.Now()
		res, err := features.Extract(ctx, features.Options{Backbone: name, Backbones: o, Data: data, Provider: "cpu"})
		if err != nil {
			log.Fatal(err)
		}
		if !res.CacheHit {
			log.Printf("features %s%s: %.0f images/s (%.0fs)", name, map[bool]string{true: " at " + cut, false: ""}[cut != ""], res.Info.ImagesPerSecond, time.Since(start).Seconds())
		}
		return res.Dir
	}
	v1, v2 := extract(backbones.MobileNetV1075, ""), extract(backbones.MobileNetV2035, "")
	runs := filepath.Join(*work, "runs")
	base := finetune.DefaultConfig()
	base.RunsDir, base.Epochs, base.Patience, base.Batch, base.Optimizer, base.LR = runs, 20, 5, 32, "adam", 0.0003
	head := func(dir string, join []string, cfg finetune.Config) func(context.Context, uint64) (float64, int, error) {
		return func(ctx context.Context, seed uint64) (float64, int, error) {
			cfg.Seed, cfg.JoinFeatures = seed, join
			res, err := finetune.TrainHead(ctx, dir, cfg)
			if err != nil {
				return 0, 0, err
			}
			return res.TestAcc, len(res.TestLabels), nil
		}
	}
	variants := []variant{
		{"v1", head(v1, nil, base)},
		{"v2", head(v2, nil, base)},
		{"join", head(v1, []string{v2}, base)},
		{"finetune", func(ctx context.Context, seed uint64) (float64, int, error) {
			dir := extract(backbones.MobileNetV1075, "conv_dw_13_relu")
			info, err := features.Open(dir)
			if err != nil {
				return 0, 0, err
			}
			top, err := transfer.TopBlock(ctx, info, bopts(backbones.MobileNetV1075))
			if err != nil {
				return 0, 0, err
			}
			cfg := base
			cfg.Epochs, cfg.LR, cfg.Patience = 15, 0.0001, 4
			cfg.Head = finetune.SpecString(top.Layers) + ",dense:1:sigmoid"
			cfg.Weights = top.Weights
			return head(dir, nil, cfg)(ctx, seed)
		}},
		{"flip", func(ctx context.Context, seed uint64) (float64, int, error) {
			cfg := base
			cfg.Seed = seed
			info, err := features.Open(v1)
			if err != nil {
				return 0, 0, err
			}
			bb, err := transfer.Backbone(ctx, info, bopts(backbones.MobileNetV1075))
			if err != nil {
				return 0, 0, err
			}
			cfg.Backbone = bb
			res, err := finetune.TrainHead(ctx, v1, cfg)
			if err != nil {
				return 0, 0, err
			}
			m, err := onnx.Read(res.ModelPath)
			if err != nil {
				return 0, 0, err
			}
			f, err := onnx.FlipAverage(m, exported.InputName, exported.OutputName, 3)
			if err != nil {
				return 0, 0, err
			}
			path := filepath.Join(res.Dir, "model_flip.onnx")
			if err := f.Write(path); err != nil {
				return 0, 0, err
			}
			ev, err := evaluate.Test(ctx, path, data, "cpu", nil)
			if err != nil {
				return 0, 0, err
			}
			return ev.Report.Accuracy, ev.Report.N, nil
		}},
	}
	names := map[string]string{
		"v1":       "MobileNet v1 0.75, default head (baseline)",
		"v2":       "MobileNetV2 0.35, default head",
		"join":     "v1 + v2 features joined, default head",
		"finetune": "v1 last block fine-tuned + logistic head",
		"flip":     "v1 head, flip-averaged (onnxruntime)",
	}
	type result struct {
		accs []float64
		n    int
		secs float64
	}
	results := map[string]*result{}
	for _, v := range variants {
		if *only != "" && !strings.Contains(","+*only+",", ","+v.name+",") {
			continue
		}
		r := &result{}
		start := time.Now()
		for s := 1; s <= *seeds; s++ {
			acc, n, err := v.run(ctx, uint64(s))
			if err != nil {
				log.Fatalf("%s, seed %d: %v", v.name, s, err)
			}
			r.accs, r.n = append(r.accs, acc), n
			log.Printf("%s seed %d: test accuracy %.2f%%", v.name, s, 100*acc)
		}
		r.secs = time.Since(start).Seconds() / float64(*seeds)
		results[v.name] = r
	}

	fmt.Printf("\n%d seeds each; test split of %s; 95 %% Wilson interval of the mean accuracy over the test photos\n\n", *seeds, data)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "variant\tper seed (%)\tmean ± sd (%)\t95 % interval\tvs baseline\ts per seed")
	interval := func(r *result) (mean, sd, lo, hi float64) {
		for _, a := range r.accs {
			mean += a
		}
		mean /= float64(len(r.accs))
		for _, a := range r.accs {
			sd += (a - mean) * (a - mean)
		}
		if len(r.accs) > 1 {
			sd = math.Sqrt(sd / float64(len(r.accs)-1))
		}
		lo, hi = metrics.Wilson(int(math.Round(mean*float64(r.n))), r.n)
		return
	}
	bm, _, blo, bhi := 0.0, 0.0, 0.0, 0.0
	if b, ok := results["v1"]; ok {
		bm, _, blo, bhi = interval(b)
	}
	for _, v := range variants {
		r, ok := results[v.name]
		if !ok {
			continue
		}
		mean, sd, lo, hi := interval(r)
		var per []string
		for _, a := range r.accs {
			per = append(per, fmt.Sprintf("%.2f", 100*a))
		}
		vs := "—"
		if v.name != "v1" && bm > 0 {
			switch {
			case lo > bhi:
				vs = fmt.Sprintf("%+.2f, better beyond noise", 100*(mean-bm))
			case hi < blo:
				vs = fmt.Sprintf("%+.2f, worse beyond noise", 100*(mean-bm))
			default:
				vs = fmt.Sprintf("%+.2f, within noise", 100*(mean-bm))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f ± %.2f\t[%.2f, %.2f]\t%s\t%.0f\n", names[v.name], strings.Join(per, " "), 100*mean, 100*sd, 100*lo, 100*hi, vs, r.secs)
	}
	tw.Flush()
}
