// Command train measures training speed (forward + backward + SGD step) of the 3-block CNN
// that catdog trains from scratch, side by side in one run:
//
//   - gorgonia: Gorgonia's own ops (Conv2d, BroadcastAdd, Rectify, MaxPool2D), the baseline;
//   - gops: the same network built from catdog's ops in internal/gops (Conv2D, BiasReLU,
//     MaxPool2x2), with gorgonia.Use(gops.Implementation{}) for the dense layers' products;
//   - gops-fused: the same with BiasReLUMaxPool2x2 for bias + ReLU + pool;
//   - pytorch: the same network in PyTorch (bench/train/torch_ref.py), same thread count.
//
// Then each rung of the study's ladder named by -rungs (vgg3, vgg3-dropout-bn and resnet-gap
// by default) two ways, side by side in the same rounds: catdog/<rung> is catdog's own
// training step (finetune.Stepper: the graph and the optimiser that catdog train uses, Adam
// at the study's learning rate), pytorch/<rung> the same layers in PyTorch (built from
// finetune.SpecString by bench/parity/torch_ref.py) with torch.optim.Adam, in training
// mode, so dropout and batch norm do their training work in both.
//
// The network: 3 x [Conv 3x3 pad 1 (32, 64, 128 filters) + bias, ReLU, MaxPool 2x2], Flatten,
// Dense 128 + ReLU, Dense 1 + sigmoid, binary cross-entropy, plain SGD; synthetic random data.
// Warm-up iterations are excluded; each contender runs several rounds, interleaved, and the
// best round counts (the machine is shared, the best round is the least disturbed one).
//
// Usage (from the repository root):
//
//	go run ./bench/train                       # gonum BLAS (pure Go)
//	CGO_LDFLAGS=-lopenblas go run -tags openblas ./bench/train   # OpenBLAS
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/catdog-ml/catdog/finetune"
	"github.com/catdog-ml/catdog/internal/gops"
)

type config struct {
	batch, size, iters, warmup, rounds, threads int
	python, only, cpuprofile, rungs             string
}

func main() {
	var c config
	flag.IntVar(&c.batch, "batch", 32, "batch size")
	flag.IntVar(&c.size, "size", 64, "image side in pixels (multiple of 8)")
	flag.IntVar(&c.iters, "iters", 10, "timed iterations per round")
	flag.IntVar(&c.warmup, "warmup", 2, "untimed warm-up iterations per round")
	flag.IntVar(&c.rounds, "rounds", 3, "rounds per contender, interleaved; the best counts")
	flag.IntVar(&c.threads, "threads", 2, "threads for every contender (GOMAXPROCS, torch.set_num_threads)")
	flag.StringVar(&c.python, "python", "", "python interpreter with torch (default: python3 from PATH, else /usr/bin/python3)")
	flag.StringVar(&c.only, "only", "", "run only these contenders, comma separated: gorgonia,gops,gops-fused,pytorch, catdog/<rung>, pytorch/<rung>")
	flag.StringVar(&c.rungs, "rungs", "vgg3,vgg3-dropout-bn,resnet-gap", "rungs of the ladder to run in catdog and PyTorch, comma separated (\"\" for none)")
	flag.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of the Go contenders to this file")
	flag.Parse()
	if err := run(c); err != nil {
		log.Fatal(err)
	}
}

type contender struct {
	name string
	run  func() (float64, error) // images per second of one round
}

func run(c config) error {
	if c.size%8 != 0 {
		return fmt.Errorf("size %d is not a multiple of 8", c.size)
	}
	runtime.GOMAXPROCS(c.threads)
	want := map[string]bool{}
	for _, s := range strings.Split(c.only, ",") {
		if s != "" {
			want[s] = true
		}
	}
	var cs []contender
	add := func(name string, f func() (float64, error)) {
		if len(want) == 0 || want[name] {
			cs = append(cs, contender{name, f})
		}
	}
	add("gorgonia", func() (float64, error) { return goRound(c, plainOps{}) })
	add("gops", func() (float64, error) { return goRound(c, fastOps{}) })
	add("gops-fused", func() (float64, error) { return goRound(c, fastOps{fused: true}) })
	var torch torchResult // the last round's
	add("pytorch", func() (float64, error) {
		r, err := torchRound(c)
		torch = r
		return r.ImgPerS, err
	})
	var rungs []string
	rungFLOPs := map[string]float64{} // of one image's training step
	for _, r := range strings.Split(c.rungs, ",") {
		if r == "" {
			continue
		}
		arch, err := finetune.Arch(r)
		if err != nil {
			return fmt.Errorf("-rungs: %w", err)
		}
		rungs = append(rungs, r)
		m, err := arch.Model(c.size, "", 1)
		if err != nil {
			return err
		}
		rungFLOPs[r] = 3 * m.FLOPs()
		add("catdog/"+r, func() (float64, error) { return rungRound(c, arch) })
		add("pytorch/"+r, func() (float64, error) {
			res, err := torchRound(c, "--spec", finetune.SpecString(arch.Layers()), "--optimizer", finetune.DefaultOptimizer, "--lr", fmt.Sprint(finetune.DefaultLR))
			if torch.Torch == "" {
				torch = res
			}
			return res.ImgPerS, err
		})
	}
	for name := range want {
		if !slices.ContainsFunc(cs, func(ct contender) bool { return ct.name == name }) {
			return fmt.Errorf("-only: no contender %q (want gorgonia, gops, gops-fused, pytorch, or catdog/<rung> and pytorch/<rung> of -rungs)", name)
		}
	}

	if c.cpuprofile != "" {
		f, err := os.Create(c.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	best := map[string]float64{}
	for r := 0; r < c.rounds; r++ {
		for _, ct := range cs {
			v, err := ct.run()
			if err != nil {
				return fmt.Errorf("%s: %w", ct.name, err)
			}
			fmt.Fprintf(os.Stderr, "round %d %-10s %7.1f img/s\n", r+1, ct.name, v)
			best[ct.name] = max(best[ct.name], v)
		}
	}
	fmt.Printf("3-block CNN, %dx%d, batch %d, forward+backward+SGD, %d threads, %s, best of %d rounds x %d iterations (%s BLAS)\n",
		c.size, c.size, c.batch, c.threads, runtime.Version(), c.rounds, c.iters, gops.BLAS())
	fmt.Printf("catdog: %s SGEMM, %s passes around the products\n", gops.BLAS(), gops.Passes())
	if torch.Torch != "" {
		conv := "ATen's own convolutions"
		if torch.OneDNN {
			conv = "oneDNN convolutions (its own instruction set, chosen at run time)"
		}
		core := ""
		if torch.Core != "" {
			core = " (" + torch.Core + " kernels)"
		}
		fmt.Printf("PyTorch %s on %s BLAS%s, %s, ATen %s\n", torch.Torch, torch.BLAS, core, conv, torch.ATen)
	}
	// On the reference BLAS (Debian's libblas3) PyTorch is about five times slower than a
	// PyTorch user's: no ratio against that.
	var flops, ceilFLOPs float64 // of one image's training step; of the ceiling's second
	if ceil, err := sgemmCeiling(c); err != nil {
		fmt.Fprintf(os.Stderr, "no SGEMM ceiling measured: %v\n", err)
	} else {
		if flops, err = trainFLOPs(c.size); err != nil {
			return err
		}
		ceilFLOPs = ceil.GFLOPs * 1e9
		fmt.Printf("SGEMM ceiling %.1f GFLOP/s (NumPy on %s BLAS, its own kernels, n=%d, %d threads); a training step is %.0f MFLOP per image\n",
			ceil.GFLOPs, ceil.BLAS, ceil.N, c.threads, flops/1e6)
		flops /= ceilFLOPs // an image's share of the ceiling's second
	}
	ref := best["pytorch"]
	if torch.BLAS == "reference" {
		fmt.Println("no ratio against PyTorch: it ran on the reference BLAS, not OpenBLAS (install libopenblas0-pthread: bash scripts/setup.sh --test)")
		ref = 0
	}
	printed := false
	for _, ct := range cs {
		if strings.Contains(ct.name, "/") {
			continue
		}
		if !printed {
			fmt.Printf("%-10s %9s %10s %12s %11s\n", "engine", "img/s", "vs torch", "vs gorgonia", "of ceiling")
			printed = true
		}
		v := best[ct.name]
		share := "-"
		if flops > 0 {
			share = fmt.Sprintf("%.0f %%", 100*v*flops)
		}
		fmt.Printf("%-10s %9.1f %10s %12s %11s\n", ct.name, v, ratio(v, ref), ratio(v, best["gorgonia"]), share)
	}
	printed = false
	for _, r := range rungs {
		cv, tv := best["catdog/"+r], best["pytorch/"+r]
		if cv == 0 && tv == 0 {
			continue
		}
		if !printed {
			fmt.Printf("\nthe ladder's rungs, catdog's training step (finetune.Stepper) and PyTorch's, %s at lr %g, batch %d, %dx%d;\n"+
				"MFLOP: a training step per image, 3 x the forward pass's products (finetune.Model.FLOPs)\n",
				finetune.DefaultOptimizer, finetune.DefaultLR, c.batch, c.size, c.size)
			fmt.Printf("%-16s %8s %12s %13s %10s %11s\n", "rung", "MFLOP", "catdog img/s", "pytorch img/s", "vs torch", "of ceiling")
			printed = true
		}
		if torch.BLAS == "reference" {
			tv = 0
		}
		share := "-"
		if ceilFLOPs > 0 {
			share = fmt.Sprintf("%.0f %%", 100*cv*rungFLOPs[r]/ceilFLOPs)
		}
		fmt.Printf("%-16s %8.0f %12.1f %13.1f %10s %11s\n", r, rungFLOPs[r]/1e6, cv, best["pytorch/"+r], ratio(cv, tv), share)
	}
	return nil
}

// rungRound trains c.warmup+c.iters steps of the rung a with catdog's own training step
// (finetune.Stepper, the study's optimiser) on random data and returns images/s.
func rungRound(c config, a finetune.Architecture) (float64, error) {
	m, err := a.Model(c.size, "", 1)
	if err != nil {
		return 0, err
	}
	st, err := m.NewStepper(c.batch, finetune.DefaultOptimizer, finetune.DefaultLR, finetune.DefaultMomentum, 1)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, c.batch*3*c.size*c.size)
	for i := range x {
		x[i] = rng.Float32()
	}
	y := make([]float32, c.batch)
	for i := range y {
		y[i] = float32(rng.IntN(2))
	}
	var start time.Time
	for i := 0; i < c.warmup+c.iters; i++ {
		if i == c.warmup {
			start = time.Now()
		}
		if _, err := st.Step(x, y); err != nil {
			return 0, err
		}
	}
	return float64(c.batch*c.iters) / time.Since(start).Seconds(), nil
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// ops builds the layers one way or the other.
type ops interface {
	// convBlock is conv 3x3 pad 1 + bias, ReLU, max-pool 2x2.
	convBlock(x, w, b *G.Node) (*G.Node, error)
	// dense is x×w + b, then ReLU when relu is set.
	dense(x, w, b *G.Node, relu bool) (*G.Node, error)
	// blas is the BLAS Gorgonia's own products use (gorgonia.Use).
	blas() G.BLAS
}

type plainOps struct{}

func (plainOps) blas() G.BLAS { return baselineBLAS() }

func (plainOps) convBlock(x, w, b *G.Node) (*G.Node, error) {
	y, err := G.Conv2d(x, w, tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1})
	if err != nil {
		return nil, err
	}
	bb, err := G.Reshape(b, tensor.Shape{1, b.Shape()[0], 1, 1})
	if err != nil {
		return nil, err
	}
	if y, err = G.BroadcastAdd(y, bb, nil, []byte{0, 2, 3}); err != nil {
		return nil, err
	}
	if y, err = G.Rectify(y); err != nil {
		return nil, err
	}
	return G.MaxPool2D(y, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2})
}

func (plainOps) dense(x, w, b *G.Node, relu bool) (*G.Node, error) {
	y, err := G.Mul(x, w)
	if err != nil {
		return nil, err
	}
	bb, err := G.Reshape(b, tensor.Shape{1, b.Shape()[0]})
	if err != nil {
		return nil, err
	}
	if y, err = G.BroadcastAdd(y, bb, nil, []byte{0}); err != nil {
		return nil, err
	}
	if relu {
		return G.Rectify(y)
	}
	return y, nil
}

// fastOps uses gops: Conv2D, then BiasReLU and MaxPool2x2, or, when fused,
// BiasReLUMaxPool2x2.
type fastOps struct{ fused bool }

func (fastOps) blas() G.BLAS { return gops.Implementation{} }

func (o fastOps) convBlock(x, w, b *G.Node) (*G.Node, error) {
	y, err := gops.Conv2D(x, w, 1, 1)
	if err != nil {
		return nil, err
	}
	if o.fused {
		return gops.BiasReLUMaxPool2x2(y, b)
	}
	if y, err = gops.BiasReLU(y, b); err != nil {
		return nil, err
	}
	return gops.MaxPool2x2(y)
}

func (fastOps) dense(x, w, b *G.Node, relu bool) (*G.Node, error) {
	y, err := G.Mul(x, w)
	if err != nil {
		return nil, err
	}
	if relu {
		return gops.BiasReLU(y, b)
	}
	return gops.BiasAdd(y, b)
}

// goRound builds the network with o, trains c.warmup+c.iters steps and returns images/s.
func goRound(c config, o ops) (float64, error) {
	G.Use(o.blas())
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(1, 2))
	param := func(name string, fanIn int, shape ...int) *G.Node {
		t := tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
		d := t.Data().([]float32)
		scale := float32(1 / float64(fanIn))
		for i := range d {
			d[i] = (rng.Float32()*2 - 1) * scale
		}
		return G.NewTensor(g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(t))
	}
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(c.batch, 3, c.size, c.size), G.WithName("x"))
	y := G.NewMatrix(g, tensor.Float32, G.WithShape(c.batch, 1), G.WithName("y"))
	var learn G.Nodes
	h := x
	in := 3
	for i, f := range []int{32, 64, 128} {
		w := param(fmt.Sprintf("conv%d.w", i), in*9, f, in, 3, 3)
		b := param(fmt.Sprintf("conv%d.b", i), in*9, f)
		learn = append(learn, w, b)
		var err error
		if h, err = o.convBlock(h, w, b); err != nil {
			return 0, err
		}
		in = f
	}
	flat := in * (c.size / 8) * (c.size / 8)
	h, err := G.Reshape(h, tensor.Shape{c.batch, flat})
	if err != nil {
		return 0, err
	}
	w1, b1 := param("fc1.w", flat, flat, 128), param("fc1.b", flat, 128)
	w2, b2 := param("fc2.w", 128, 128, 1), param("fc2.b", 128, 1)
	learn = append(learn, w1, b1, w2, b2)
	if h, err = o.dense(h, w1, b1, true); err != nil {
		return 0, err
	}
	if h, err = o.dense(h, w2, b2, false); err != nil {
		return 0, err
	}
	p := G.Must(G.Sigmoid(h))
	// BCE = -mean(y log p + (1-y) log(1-p))
	one := G.NewConstant(float32(1))
	l1 := G.Must(G.HadamardProd(y, G.Must(G.Log(p))))
	l0 := G.Must(G.HadamardProd(G.Must(G.Sub(one, y)), G.Must(G.Log(G.Must(G.Sub(one, p))))))
	loss := G.Must(G.Neg(G.Must(G.Mean(G.Must(G.Add(l1, l0))))))
	if _, err := G.Grad(loss, learn...); err != nil {
		return 0, err
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(learn...))
	defer vm.Close()
	solver := G.NewVanillaSolver(G.WithLearnRate(0.01))

	xt := tensor.New(tensor.WithShape(c.batch, 3, c.size, c.size), tensor.Of(tensor.Float32))
	for i, d := 0, xt.Data().([]float32); i < len(d); i++ {
		d[i] = rng.Float32()
	}
	yt := tensor.New(tensor.WithShape(c.batch, 1), tensor.Of(tensor.Float32))
	for i, d := 0, yt.Data().([]float32); i < len(d); i++ {
		d[i] = float32(rng.IntN(2))
	}
	if err := G.Let(x, xt); err != nil {
		return 0, err
	}
	if err := G.Let(y, yt); err != nil {
		return 0, err
	}
	var start time.Time
	for i := 0; i < c.warmup+c.iters; i++ {
		if i == c.warmup {
			start = time.Now()
		}
		if err := vm.RunAll(); err != nil {
			return 0, err
		}
		if err := solver.Step(G.NodesToValueGrads(learn)); err != nil {
			return 0, err
		}
		vm.Reset()
	}
	return float64(c.batch*c.iters) / time.Since(start).Seconds(), nil
}

// torchResult is one round of torch_ref.py: its speed, and the PyTorch and the BLAS it ran on.
type torchResult struct {
	ImgPerS float64 `json:"img_per_s"`
	Threads int     `json:"threads"`
	Torch   string  `json:"torch"`
	BLAS    string  `json:"blas"`      // openblas, mkl, reference or unknown
	Core    string  `json:"blas_core"` // OpenBLAS's kernels for this CPU (SkylakeX, Haswell...)
	ATen    string  `json:"aten"`      // ATen's vector instructions (AVX2, AVX512...)
	OneDNN  bool    `json:"onednn"`    // convolutions through oneDNN
}

// torchRound runs one round of the PyTorch reference, with extra arguments for
// torch_ref.py (a rung's --spec).
func torchRound(c config, extra ...string) (torchResult, error) {
	py := c.python
	if py == "" {
		py = findTorchPython()
	}
	script, err := scriptPath()
	if err != nil {
		return torchResult{}, err
	}
	args := []string{script, "--batch", fmt.Sprint(c.batch), "--size", fmt.Sprint(c.size),
		"--iters", fmt.Sprint(c.iters), "--warmup", fmt.Sprint(c.warmup), "--threads", fmt.Sprint(c.threads)}
	cmd := exec.Command(py, append(args, extra...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return torchResult{}, fmt.Errorf("%s %s: %w: %s", py, script, err, stderr.String())
	}
	var res torchResult
	if err := json.Unmarshal(out, &res); err != nil {
		return torchResult{}, fmt.Errorf("reading torch_ref.py output %q: %w", out, err)
	}
	if res.Threads != c.threads {
		return torchResult{}, fmt.Errorf("torch ran on %d threads, want %d", res.Threads, c.threads)
	}
	return res, nil
}

// ceiling is sgemm.py's answer: the machine's float32 matrix-product speed.
type ceiling struct {
	GFLOPs float64 `json:"gflops"`
	N      int     `json:"n"`
	BLAS   string  `json:"blas"`
}

// sgemmCeiling measures the machine's SGEMM ceiling with sgemm.py: NumPy on OpenBLAS, on
// c.threads threads, OPENBLAS_CORETYPE unset so that OpenBLAS picks its best kernels for
// this CPU (AVX-512 where there is AVX-512; the environment may pin AVX2 ones).
func sgemmCeiling(c config) (ceiling, error) {
	py := c.python
	if py == "" {
		py = findTorchPython()
	}
	script, err := scriptPath()
	if err != nil {
		return ceiling{}, err
	}
	cmd := exec.Command(py, filepath.Join(filepath.Dir(script), "sgemm.py"))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") && !strings.HasPrefix(kv, "OPENBLAS_NUM_THREADS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, fmt.Sprintf("OPENBLAS_NUM_THREADS=%d", c.threads))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return ceiling{}, fmt.Errorf("%s sgemm.py: %w: %s", py, err, stderr.String())
	}
	var r ceiling
	if err := json.Unmarshal(out, &r); err != nil || r.GFLOPs <= 0 {
		return ceiling{}, fmt.Errorf("reading sgemm.py output %q: %v", out, err)
	}
	if r.BLAS == "reference" {
		return ceiling{}, errors.New("NumPy runs on the reference BLAS: install libopenblas0-pthread (bash scripts/setup.sh --test)")
	}
	return r, nil
}

// trainFLOPs counts the floating-point operations of one image's training step of the
// 3-block CNN at size x size: it is catdog's vgg3, so 3 x its forward pass's products
// (finetune.Model.FLOPs: forward, gradient of the input, gradient of the weights).
func trainFLOPs(size int) (float64, error) {
	a, err := finetune.Arch("vgg3")
	if err != nil {
		return 0, err
	}
	m, err := a.Model(size, "", 1)
	if err != nil {
		return 0, err
	}
	return 3 * m.FLOPs(), nil
}

// findTorchPython returns the first interpreter that imports torch.
func findTorchPython() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import torch").Run() == nil {
			return py
		}
	}
	return "python3"
}

// scriptPath finds torch_ref.py next to this program's source: bench/train from the
// working directory or one of its parents.
func scriptPath() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		for _, p := range []string{filepath.Join(dir, "bench", "train", "torch_ref.py"), filepath.Join(dir, "torch_ref.py")} {
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("bench/train/torch_ref.py not found: run from the catdog repository")
		}
		dir = parent
	}
}
