// Command parity trains each from-scratch rung of the study in catdog (Gorgonia) and in a
// PyTorch reference (bench/parity/torch_ref.py, Debian's python3-torch) on the same prepared
// arrays and split, with the same layers, initialisation, optimiser, learning-rate schedule,
// batch, epochs, early stopping and augmentation, over several seeds, and prints the test
// accuracy of each side by side: mean ± standard deviation over the seeds and the 95 %
// Wilson interval of the mean over the test photos. A rung where catdog's interval lies
// wholly below PyTorch's is flagged "behind beyond noise".
//
// Both engines run one after the other with the same number of threads. From the
// repository root, on the quick profile's data (prepared when missing):
//
//	go run ./bench/parity [-seeds 3] [-archs vgg1,vgg3-dropout] [-work /tmp/catdog-parity]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/finetune"
	"github.com/catdog-ml/catdog/metrics"
)

type result struct {
	accs []float64
	secs float64
	n    int
}

type torchOut struct {
	TestAcc   float64 `json:"test_acc"`
	TestN     int     `json:"test_n"`
	BestEpoch int     `json:"best_epoch"`
	Seconds   float64 `json:"seconds"`
	Epochs    []struct {
		ValidLoss float64 `json:"valid_loss"`
	} `json:"epochs"`
}

func main() {
	photos := flag.String("photos", "../shared/data/dogs-vs-cats/train", "photos to prepare when -data is missing")
	work := flag.String("work", filepath.Join(os.TempDir(), "catdog-parity"), "work folder")
	size := flag.Int("size", 64, "image side")
	perClass := flag.Int("per-class", 1500, "photos per class")
	seeds := flag.Int("seeds", 3, "seeds per rung and engine")
	archs := flag.String("archs", "", "rungs, comma separated (default: every from-scratch architecture)")
	epochs := flag.Int("epochs", finetune.DefaultEpochs, "most epochs")
	threads := flag.Int("threads", 2, "threads for both engines")
	python := flag.String("python", "", "python3 with torch (default: python3, else /usr/bin/python3)")
	out := flag.String("json", "", "also write the results to this JSON file")
	flag.Parse()
	log.SetFlags(0)
	runtime.GOMAXPROCS(*threads)
	ctx := context.Background()

	data := filepath.Join(*work, fmt.Sprintf("data-%d-%d", *size, *perClass))
	if _, err := datasets.ReadManifest(data); err != nil {
		log.Printf("preparing %s at %dx%d, %d per class, into %s", *photos, *size, *size, *perClass, data)
		if _, err := datasets.Prepare(ctx, datasets.Options{Data: *photos, Out: data, Size: *size, Seed: 1, PerClass: *perClass}); err != nil {
			log.Fatal(err)
		}
	}
	py := findPython(*python)
	script, err := filepath.Abs(filepath.Join("bench", "parity", "torch_ref.py"))
	if err != nil {
		log.Fatal(err)
	}
	var names []string
	if *archs != "" {
		names = strings.Split(*archs, ",")
	} else {
		for _, a := range finetune.Architectures() {
			names = append(names, a.Name)
		}
	}
	cfg, err := finetune.Config{RunsDir: filepath.Join(*work, "runs"), Epochs: *epochs}.Resolved()
	if err != nil {
		log.Fatal(err)
	}
	recipe := fmt.Sprintf("init %s, %s lr %g, schedule %s, warm-up %d, batch %d, up to %d epochs, patience %d",
		cfg.Init, cfg.Optimizer, cfg.LR, cfg.Schedule, cfg.Warmup, cfg.Batch, cfg.Epochs, cfg.Patience)
	log.Printf("recipe: %s; %d threads", recipe, *threads)

	cat, torch := map[string]*result{}, map[string]*result{}
	for _, name := range names {
		arch, err := finetune.Arch(name)
		if err != nil {
			log.Fatal(err)
		}
		cat[name], torch[name] = &result{}, &result{}
		for s := 1; s <= *seeds; s++ {
			c := cfg
			c.Seed, c.Name = uint64(s), name
			if c.Warmup == 0 {
				c.NoWarmup = true
			}
			start := time.Now()
			res, err := finetune.TrainCNN(ctx, data, arch, c)
			if err != nil {
				log.Fatalf("catdog %s seed %d: %v", name, s, err)
			}
			cat[name].add(res.TestAcc, len(res.TestProbs), time.Since(start).Seconds())
			os.RemoveAll(res.Dir)

			aug := 0
			if arch.Augment {
				aug = 1
			}
			args := []string{script, "--data", data, "--spec", finetune.SpecString(arch.Layers()), "--aug", fmt.Sprint(aug),
				"--seed", fmt.Sprint(s), "--epochs", fmt.Sprint(c.Epochs), "--batch", fmt.Sprint(c.Batch), "--init", string(c.Init),
				"--optimizer", c.Optimizer, "--lr", fmt.Sprint(c.LR), "--momentum", fmt.Sprint(c.Momentum), "--schedule", c.Schedule,
				"--warmup", fmt.Sprint(c.Warmup), "--patience", fmt.Sprint(c.Patience), "--threads", fmt.Sprint(*threads)}
			cmd := exec.Command(py, args...)
			cmd.Stderr = os.Stderr
			b, err := cmd.Output()
			if err != nil {
				log.Fatalf("pytorch %s seed %d: %v", name, s, err)
			}
			var to torchOut
			if err := json.Unmarshal(b, &to); err != nil {
				log.Fatalf("pytorch %s seed %d: %v: %s", name, s, err, b)
			}
			torch[name].add(to.TestAcc, to.TestN, to.Seconds)
			log.Printf("%s seed %d: catdog %.2f %% (%d epochs), pytorch %.2f %% (%d epochs)", name, s,
				100*res.TestAcc, len(res.History.Epochs), 100*to.TestAcc, len(to.Epochs))
		}
	}

	fmt.Printf("\nrecipe: %s; %d seeds; test split of %s; 95 %% Wilson interval of the mean over the test photos\n\n", recipe, *seeds, data)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "rung\tcatdog mean ± sd (%)\tinterval\tpytorch mean ± sd (%)\tinterval\tcatdog - pytorch\tverdict\tcatdog s\tpytorch s")
	type row struct {
		Rung                string
		Catdog, PyTorch     []float64
		CatdogSD, TorchSD   float64
		CatdogMean, TorchMn float64
		Verdict             string
	}
	var rows []row
	for _, name := range names {
		c, t := cat[name], torch[name]
		cm, cs, clo, chi := c.summary()
		tm, ts, tlo, thi := t.summary()
		verdict := "within noise"
		switch {
		case chi < tlo:
			verdict = "catdog behind beyond noise"
		case clo > thi:
			verdict = "catdog ahead beyond noise"
		}
		fmt.Fprintf(tw, "%s\t%.2f ± %.2f\t[%.2f, %.2f]\t%.2f ± %.2f\t[%.2f, %.2f]\t%+.2f\t%s\t%.0f\t%.0f\n", name,
			100*cm, 100*cs, 100*clo, 100*chi, 100*tm, 100*ts, 100*tlo, 100*thi, 100*(cm-tm), verdict, c.secs/float64(len(c.accs)), t.secs/float64(len(t.accs)))
		rows = append(rows, row{name, c.accs, t.accs, cs, ts, cm, tm, verdict})
	}
	tw.Flush()
	if *out != "" {
		b, _ := json.MarshalIndent(map[string]any{"recipe": recipe, "seeds": *seeds, "data": data, "rows": rows}, "", "  ")
		if err := os.WriteFile(*out, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

func (r *result) add(acc float64, n int, secs float64) {
	r.accs, r.n, r.secs = append(r.accs, acc), n, r.secs+secs
}

// summary returns the mean and sample standard deviation over the seeds, and the 95 %
// Wilson interval of the mean over the test photos.
func (r *result) summary() (mean, sd, lo, hi float64) {
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
	return mean, sd, lo, hi
}

func findPython(p string) string {
	for _, c := range []string{p, "python3", "/usr/bin/python3"} {
		if c == "" {
			continue
		}
		if exec.Command(c, "-c", "import torch, numpy").Run() == nil {
			return c
		}
	}
	log.Fatal("no python3 that can import torch and numpy (Debian: python3-torch python3-numpy)")
	return ""
}
