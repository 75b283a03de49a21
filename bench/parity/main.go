// Command parity trains each from-scratch rung of the study in catdog (Gorgonia) and in a
// PyTorch reference (bench/parity/torch_ref.py, Debian's python3-torch) on the same prepared
// arrays and split, with the same layers, initialisation, optimiser, learning-rate schedule,
// batch, epochs, early stopping and augmentation, over several seeds, and prints the test
// accuracy of each side by side: mean ± standard deviation over the seeds, the 95 % Wilson
// interval of the mean over the test photos, and the p-value of Welch's t-test over the
// seeds. A rung is flagged "catdog behind beyond noise" when its interval lies wholly below
// PyTorch's or the t-test rejects equal means at 5 % with catdog lower.
//
// Both engines run one after the other with the same number of threads. Each finished run
// is appended to results.jsonl in the work folder and reused by a later call with the same
// recipe, data and threads, so an interrupted bench resumes, and more seeds can be added to
// one rung (-seeds 6 -archs vgg3-dropout-bn) without training the others again. Each run's
// learning curve (training loss, validation loss and accuracy per epoch) is kept with it;
// -curves prints each rung's mean curves of both engines side by side, epoch by epoch.
//
// With -paired, both runs of a seed draw the same randomness: PyTorch starts from catdog's
// initial weights, and catdog's run is given a SplitMix64 stream (finetune.Config.Rand)
// that torch_ref.py reads the same way, so the sample order, the augmentation and every
// dropout mask are the same in both. The seed-to-seed spread (about 1.5 points of test
// accuracy) then cancels in each seed's difference catdog - PyTorch, and the verdict comes
// from those differences: their mean, its 95 % Student-t interval and the paired t-test.
// The first steps' losses of both engines are compared as a check that the draws are shared
// (they agree to float rounding until a near tie is rounded differently). From the
// repository root, on the quick profile's data (prepared when missing):
//
//	go run ./bench/parity [-seeds 3] [-archs vgg1,vgg3-dropout] [-curves] [-paired] [-work /tmp/catdog-parity]
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
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
	"gonum.org/v1/gonum/stat/distuv"
)

type torchOut struct {
	TestAcc     float64   `json:"test_acc"`
	TestN       int       `json:"test_n"`
	BestEpoch   int       `json:"best_epoch"`
	Seconds     float64   `json:"seconds"`
	Epochs      []point   `json:"epochs"`
	FirstLosses []float64 `json:"first_losses"`
}

// firstSteps is how many of the first training steps' losses a run records.
const firstSteps = 20

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
	curves := flag.Bool("curves", false, "also print each rung's mean learning curves, epoch by epoch, for both engines")
	paired := flag.Bool("paired", false, "give both engines of a seed the same initial weights, sample order, augmentation and dropout masks, and judge from the seeds' paired differences")
	flag.Parse()
	log.SetFlags(0)
	runtime.GOMAXPROCS(*threads)
	ctx := context.Background()

	data := filepath.Join(*work, fmt.Sprintf("data-%d-%d", *size, *perClass))
	man, err := datasets.ReadManifest(data)
	if err != nil {
		log.Printf("preparing %s at %dx%d, %d per class, into %s", *photos, *size, *size, *perClass, data)
		if man, err = datasets.Prepare(ctx, datasets.Options{Data: *photos, Out: data, Size: *size, Seed: 1, PerClass: *perClass}); err != nil {
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
	base := finetune.DefaultConfig()
	base.RunsDir, base.Epochs = filepath.Join(*work, "runs"), *epochs
	cfg, err := base.Resolved()
	if err != nil {
		log.Fatal(err)
	}
	recipe := fmt.Sprintf("init %s, %s lr %g, schedule %s, warm-up %d, batch %d, up to %d epochs, patience %d",
		cfg.Init, cfg.Optimizer, cfg.LR, cfg.Schedule, cfg.Warmup, cfg.Batch, cfg.Epochs, cfg.Patience)
	log.Printf("recipe: %s; %d threads", recipe, *threads)

	// Every finished run is appended to results.jsonl in the work folder, so an interrupted
	// bench resumes where it stopped; a line counts only for the same recipe, data and threads.
	key := fmt.Sprintf("%s; %d threads; %s", recipe, *threads, data)
	if *paired {
		key += "; paired draws"
	}
	done, err := readDone(filepath.Join(*work, resultsFile), key)
	if err != nil {
		log.Fatal(err)
	}
	if len(done) > 0 {
		log.Printf("%d runs already in %s are reused (delete it to start afresh)", len(done), filepath.Join(*work, resultsFile))
	}
	record := func(r runResult) {
		r.Key = key
		done[r.id()] = r
		b, _ := json.Marshal(r)
		f, err := os.OpenFile(filepath.Join(*work, resultsFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = f.Write(append(b, '\n'))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			log.Fatal(err)
		}
	}

	cat, torch := map[string]*result{}, map[string]*result{}
	for _, name := range names {
		arch, err := finetune.Arch(name)
		if err != nil {
			log.Fatal(err)
		}
		layers, err := finetune.WithClasses(arch.Layers(), len(man.Classes)) // what TrainCNN trains
		if err != nil {
			log.Fatal(err)
		}
		cat[name], torch[name] = &result{}, &result{}
		for s := 1; s <= *seeds; s++ {
			c := cfg
			c.Seed, c.Name = uint64(s), name
			cr, ok := done[runResult{Rung: name, Engine: "catdog", Seed: s}.id()]
			tr, tok := done[runResult{Rung: name, Engine: "pytorch", Seed: s}.id()]
			var initDir string
			if *paired && (!ok || !tok) { // the initial weights, written only for a run still to do
				initDir = filepath.Join(*work, "paired", fmt.Sprintf("%s-seed%d", name, s))
				if c.Weights, err = writeInit(initDir, name, []int{3, *size, *size}, layers, c.Init, c.Seed); err != nil {
					log.Fatal(err)
				}
				c.Rand = &splitMix{state: uint64(s)}
			}
			if !ok {
				var first []float64
				var prev float64
				c.Progress = func(p finetune.Progress) {
					if p.Epoch == 1 && p.Batch <= firstSteps && p.Batch == len(first)+1 {
						sum := p.Loss * float64(p.Batch)
						first = append(first, sum-prev)
						prev = sum
					}
				}
				start := time.Now()
				res, err := finetune.TrainCNN(ctx, data, arch, c)
				if err != nil {
					log.Fatalf("catdog %s seed %d: %v", name, s, err)
				}
				cr = runResult{Rung: name, Engine: "catdog", Seed: s, TestAcc: res.TestAcc, TestN: len(res.TestLabels),
					Epochs: len(res.History.Epochs), Seconds: time.Since(start).Seconds(), BestEpoch: res.History.BestEpoch, FirstLosses: first}
				for _, e := range res.History.Epochs {
					cr.Curve = append(cr.Curve, point{e.TrainLoss, e.ValidLoss, e.ValidAcc})
				}
				record(cr)
				os.RemoveAll(res.Dir)
			}
			cat[name].add(cr)

			if !tok {
				aug := 0
				if arch.Augment {
					aug = 1
				}
				args := []string{script, "--data", data, "--spec", finetune.SpecString(layers), "--aug", fmt.Sprint(aug),
					"--seed", fmt.Sprint(s), "--epochs", fmt.Sprint(c.Epochs), "--batch", fmt.Sprint(c.Batch), "--init", string(c.Init),
					"--optimizer", c.Optimizer, "--lr", fmt.Sprint(c.LR), "--momentum", fmt.Sprint(c.Momentum), "--schedule", c.Schedule,
					"--warmup", fmt.Sprint(c.Warmup), "--patience", fmt.Sprint(c.Patience), "--threads", fmt.Sprint(*threads),
					"--first-steps", fmt.Sprint(firstSteps)}
				if *paired {
					args = append(args, "--init-from", initDir, "--draws", fmt.Sprint(s))
				}
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
				tr = runResult{Rung: name, Engine: "pytorch", Seed: s, TestAcc: to.TestAcc, TestN: to.TestN,
					Epochs: len(to.Epochs), Seconds: to.Seconds, BestEpoch: to.BestEpoch, Curve: to.Epochs, FirstLosses: to.FirstLosses}
				record(tr)
			}
			torch[name].add(tr)
			log.Printf("%s seed %d: catdog %.2f %% (%d epochs), pytorch %.2f %% (%d epochs)", name, s,
				100*cr.TestAcc, cr.Epochs, 100*tr.TestAcc, tr.Epochs)
		}
	}

	fmt.Printf("\nrecipe: %s; %d seeds; test split of %s\n", recipe, *seeds, data)
	if *paired {
		fmt.Printf("paired draws: each seed's two runs share initial weights, sample order, augmentation and dropout masks\n")
		fmt.Printf("interval: 95 %% Wilson interval of the mean accuracy over the test photos; p: paired t-test over the seeds' differences\n\n")
	} else {
		fmt.Printf("interval: 95 %% Wilson interval of the mean accuracy over the test photos; p: Welch's t-test over the seeds\n\n")
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "rung\tcatdog mean ± sd (%)\tinterval\tpytorch mean ± sd (%)\tinterval\tcatdog - pytorch\tp\tverdict\tcatdog s\tpytorch s")
	type row struct {
		Rung                string
		Catdog, PyTorch     []float64
		CatdogSD, TorchSD   float64
		CatdogMean, TorchMn float64
		P                   float64
		Verdict             string
	}
	var rows []row
	for _, name := range names {
		c, t := cat[name], torch[name]
		cm, cs, clo, chi := c.summary()
		tm, ts, tlo, thi := t.summary()
		p := welch(c.accs, t.accs)
		v := verdict(cm-tm, clo, chi, tlo, thi, p)
		if *paired {
			_, _, dlo, dhi, pp := pairedDiff(c.accs, t.accs)
			p, v = pp, pairedVerdict(dlo, dhi)
		}
		fmt.Fprintf(tw, "%s\t%.2f ± %.2f\t[%.2f, %.2f]\t%.2f ± %.2f\t[%.2f, %.2f]\t%+.2f\t%.2f\t%s\t%s\t%s\n", name,
			100*cm, 100*cs, 100*clo, 100*chi, 100*tm, 100*ts, 100*tlo, 100*thi, 100*(cm-tm), p, v, c.meanSecs(), t.meanSecs())
		rows = append(rows, row{name, c.accs, t.accs, cs, ts, cm, tm, p, v})
	}
	tw.Flush()
	if *paired {
		printPaired(names, cat, torch)
	}
	if *curves {
		for _, name := range names {
			printCurves(name, cat[name], torch[name])
		}
	}
	if *out != "" {
		b, _ := json.MarshalIndent(map[string]any{"recipe": recipe, "seeds": *seeds, "data": data, "rows": rows}, "", "  ")
		if err := os.WriteFile(*out, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

// resultsFile holds one runResult per line, in the work folder.
const resultsFile = "results.jsonl"

// runResult is one finished training run of one engine.
type runResult struct {
	Key     string  `json:"key"` // recipe, threads and data: lines of another key are not reused
	Rung    string  `json:"rung"`
	Engine  string  `json:"engine"`
	Seed    int     `json:"seed"`
	TestAcc float64 `json:"test_acc"`
	TestN   int     `json:"test_n"`
	Epochs  int     `json:"epochs"`
	Seconds float64 `json:"seconds"` // 0: not timed
	// BestEpoch is the epoch whose weights were tested; Curve holds every epoch's losses
	// (absent in lines written before they were recorded), FirstLosses the losses of the
	// first training steps.
	BestEpoch   int       `json:"best_epoch,omitempty"`
	Curve       []point   `json:"curve,omitempty"`
	FirstLosses []float64 `json:"first_losses,omitempty"`
}

// point is one epoch of a run: mean training loss, validation loss and accuracy.
type point struct {
	TrainLoss float64 `json:"train_loss"`
	ValidLoss float64 `json:"valid_loss"`
	ValidAcc  float64 `json:"valid_acc"`
}

func (r runResult) id() string { return fmt.Sprintf("%s/%s/%d", r.Rung, r.Engine, r.Seed) }

// readDone reads the results of earlier runs with this key; a missing file is no result.
func readDone(path, key string) (map[string]runResult, error) {
	done := map[string]runResult{}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return done, nil
	} else if err != nil {
		return nil, err
	}
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var r runResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		if r.Key == key {
			done[r.id()] = r
		}
	}
	return done, nil
}

type result struct {
	accs   []float64 // seed after seed
	secs   []float64
	n      int
	curves [][]point // runs that recorded their curve
	best   []float64 // their best epochs
	first  [][]float64
}

func (r *result) add(x runResult) {
	r.accs, r.n = append(r.accs, x.TestAcc), x.TestN
	r.first = append(r.first, x.FirstLosses)
	if len(x.Curve) > 0 {
		r.curves, r.best = append(r.curves, x.Curve), append(r.best, float64(x.BestEpoch))
	}
	if x.Seconds > 0 {
		r.secs = append(r.secs, x.Seconds)
	}
}

// meanSecs is the mean training time of the timed runs, "-" when none was timed.
func (r *result) meanSecs() string {
	if len(r.secs) == 0 {
		return "-"
	}
	var s float64
	for _, x := range r.secs {
		s += x
	}
	return fmt.Sprintf("%.0f", s/float64(len(r.secs)))
}

// printCurves prints, epoch by epoch, the mean training loss, validation loss and
// validation accuracy of each engine over the seeds whose runs reached that epoch, with the
// seeds' standard deviation of the validation loss, and the mean epoch whose weights were kept.
func printCurves(name string, c, t *result) {
	if len(c.curves) == 0 || len(t.curves) == 0 {
		fmt.Printf("\n%s: no learning curves recorded (runs of an older bench/parity)\n", name)
		return
	}
	cb, _ := meanSD(c.best)
	tb, _ := meanSD(t.best)
	fmt.Printf("\n%s: mean over %d catdog and %d pytorch seeds; weights kept from epoch %.1f (catdog), %.1f (pytorch) on average\n",
		name, len(c.curves), len(t.curves), cb, tb)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "epoch\tseeds\tcatdog train loss\tpytorch train loss\tcatdog valid loss\tpytorch valid loss\tcatdog valid acc (%)\tpytorch valid acc (%)")
	at := func(curves [][]point, e int, f func(point) float64) (m, sd float64, n int) {
		var xs []float64
		for _, cv := range curves {
			if e < len(cv) {
				xs = append(xs, f(cv[e]))
			}
		}
		if len(xs) == 0 {
			return math.NaN(), math.NaN(), 0
		}
		m, sd = meanSD(xs)
		return m, sd, len(xs)
	}
	tl := func(p point) float64 { return p.TrainLoss }
	vl := func(p point) float64 { return p.ValidLoss }
	va := func(p point) float64 { return 100 * p.ValidAcc }
	for e := 0; ; e++ {
		ctl, _, cn := at(c.curves, e, tl)
		ttl, _, tn := at(t.curves, e, tl)
		if cn == 0 && tn == 0 {
			break
		}
		cvl, cvs, _ := at(c.curves, e, vl)
		tvl, tvs, _ := at(t.curves, e, vl)
		cva, _, _ := at(c.curves, e, va)
		tva, _, _ := at(t.curves, e, va)
		fmt.Fprintf(tw, "%d\t%d / %d\t%.4f\t%.4f\t%.4f ± %.4f\t%.4f ± %.4f\t%.2f\t%.2f\n", e+1, cn, tn, ctl, ttl, cvl, cvs, tvl, tvs, cva, tva)
	}
	tw.Flush()
}

// summary returns the mean and sample standard deviation over the seeds, and the 95 %
// Wilson interval of the mean over the test photos.
func (r *result) summary() (mean, sd, lo, hi float64) {
	mean, sd = meanSD(r.accs)
	lo, hi = metrics.Wilson(int(math.Round(mean*float64(r.n))), r.n)
	return mean, sd, lo, hi
}

func meanSD(x []float64) (mean, sd float64) {
	for _, a := range x {
		mean += a
	}
	mean /= float64(len(x))
	for _, a := range x {
		sd += (a - mean) * (a - mean)
	}
	if len(x) > 1 {
		sd = math.Sqrt(sd / float64(len(x)-1))
	}
	return mean, sd
}

// welch returns the two-sided p-value of Welch's t-test for equal means of a and b, or 1
// when there are too few seeds or no spread to test.
func welch(a, b []float64) float64 {
	if len(a) < 2 || len(b) < 2 {
		return 1
	}
	ma, sa := meanSD(a)
	mb, sb := meanSD(b)
	va, vb := sa*sa/float64(len(a)), sb*sb/float64(len(b))
	if va+vb == 0 {
		if ma == mb {
			return 1
		}
		return 0
	}
	t := (ma - mb) / math.Sqrt(va+vb)
	df := (va + vb) * (va + vb) / (va*va/float64(len(a)-1) + vb*vb/float64(len(b)-1))
	return 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.CDF(-math.Abs(t))
}

// verdict says whether catdog is behind or ahead beyond noise: the Wilson intervals of the
// means over the test photos do not overlap, or the seeds' t-test rejects equal means at 5 %.
func verdict(diff, clo, chi, tlo, thi, p float64) string {
	switch {
	case chi < tlo || (p < 0.05 && diff < 0):
		return "catdog behind beyond noise"
	case clo > thi || (p < 0.05 && diff > 0):
		return "catdog ahead beyond noise"
	}
	return "within noise"
}

// pairedDiff returns the mean and standard deviation of the seeds' differences a[i] - b[i],
// the 95 % Student-t interval of their mean and the two-sided p-value of the paired t-test
// (1 when there are too few seeds or no spread to test).
func pairedDiff(a, b []float64) (mean, sd, lo, hi, p float64) {
	d := make([]float64, len(a))
	for i := range a {
		d[i] = a[i] - b[i]
	}
	mean, sd = meanSD(d)
	n := float64(len(d))
	switch {
	case len(d) < 2:
		return mean, sd, math.Inf(-1), math.Inf(1), 1
	case sd == 0:
		return mean, sd, mean, mean, 1
	}
	st := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: n - 1}
	half := st.Quantile(0.975) * sd / math.Sqrt(n)
	t := mean / (sd / math.Sqrt(n))
	return mean, sd, mean - half, mean + half, 2 * st.CDF(-math.Abs(t))
}

// pairedVerdict says whether catdog is behind or ahead beyond noise: the 95 % interval of
// the mean paired difference lies wholly below or above 0.
func pairedVerdict(lo, hi float64) string {
	switch {
	case math.IsInf(lo, 0) || math.IsInf(hi, 0):
		return "too few seeds to tell"
	case hi < 0:
		return "catdog behind beyond noise"
	case lo > 0:
		return "catdog ahead beyond noise"
	}
	return "within noise"
}

// printPaired prints each rung's paired differences and, as the check that both engines
// drew the same, the largest difference over the seeds of the first two training steps'
// losses: shared weights, samples, augmentation and masks give the same losses to float
// rounding there (about 1e-5 or less), other draws differ by about 0.1. Later steps drift
// apart: Adam's first steps move a weight whose gradient is all rounding by the full
// learning rate, in a direction the rounding picks (see finetune's TestTrainingMatchesPyTorch).
func printPaired(names []string, cat, torch map[string]*result) {
	fmt.Printf("\npaired differences, catdog - pytorch, seed by seed (test accuracy, points)\n")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "rung\tseeds\tmean ± sd\t95 % interval\tp\tverdict\tfirst 2 steps |Δ loss| (max)")
	for _, name := range names {
		c, t := cat[name], torch[name]
		m, sd, lo, hi, p := pairedDiff(c.accs, t.accs)
		first := 0.0
		for i := range c.first {
			a, b := c.first[i], t.first[i]
			if len(a) < 2 || len(b) < 2 {
				first = math.NaN()
				break
			}
			first = math.Max(first, math.Max(math.Abs(a[0]-b[0]), math.Abs(a[1]-b[1])))
		}
		fmt.Fprintf(tw, "%s\t%d\t%+.2f ± %.2f\t[%+.2f, %+.2f]\t%.2f\t%s\t%.1e\n", name, len(c.accs),
			100*m, 100*sd, 100*lo, 100*hi, p, pairedVerdict(lo, hi), first)
	}
	tw.Flush()
}

// splitMix is SplitMix64, the random stream of catdog's runs in -paired mode
// (finetune.Config.Rand); torch_ref.py's Stream computes the same numbers.
type splitMix struct{ state uint64 }

func (s *splitMix) Uint64() uint64 {
	s.state += 0x9e3779b97f4a7c15
	z := s.state
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// writeInit writes the initial weights catdog draws for a rung and seed into dir
// (params.json: names and shapes in model order; params.bin: the float32 values,
// little-endian) for torch_ref.py --init-from, and returns them for finetune.Config.Weights.
func writeInit(dir, name string, input []int, layers []finetune.Layer, init finetune.Init, seed uint64) (map[string][]float32, error) {
	m, err := finetune.NewModel(name, input, layers, init, seed)
	if err != nil {
		return nil, err
	}
	type entry struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
	}
	var meta []entry
	var bin []byte
	weights := map[string][]float32{}
	for _, p := range m.Params() {
		meta = append(meta, entry{p.Name, p.Shape})
		weights[p.Name] = p.Data
		for _, v := range p.Data {
			bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(v))
		}
	}
	js, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "params.json"), js, 0o644); err != nil {
		return nil, err
	}
	return weights, os.WriteFile(filepath.Join(dir, "params.bin"), bin, 0o644)
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
