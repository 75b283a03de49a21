// Command features measures how fast catdog's feature extraction runs the VGG16 conv base
// (vgg16-random: the same graph and FLOPs as ImageNet VGG16, random weights) on this machine,
// and how close that comes to the machine's FP32 peak:
//
//   - peak: a 4096 x 4096 x 4096 float32 MatMul on onnxruntime (MLAS SGEMM, the kernel
//     under onnxruntime's convolutions), 2*4096^3 FLOP per run, measured in this program;
//   - onnxruntime: the cut VGG16 conv base at 224 x 224, batch sizes 1, 8 and 32, graph
//     optimisation level "all" (and "disable" once, for comparison), intra-op threads =
//     all cores; FLOPs per image are counted from the graph's convolution shapes
//     (onnx.Model.Inspect: 2 x multiply-accumulates);
//   - gorgonia: the same graph in Gorgonia through onnx-go, the baseline, a few images only.
//
// Warm-up runs are excluded; each configuration runs several rounds and the best counts
// (the machine may be shared; the best round is the least disturbed one).
//
// Usage (from the repository root, after bash scripts/setup.sh):
//
//	go run ./bench/features
//	go run ./bench/features -size 64 -gorgonia 0      # quick
//	CGO_LDFLAGS=-lopenblas go run -tags openblas ./bench/features   # also OpenBLAS SGEMM as a peak
//
// The peak is the faster of onnxruntime's MatMul and, with the openblas tag, OpenBLAS SGEMM
// on the same matrices.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/features"
	"github.com/catdog-ml/catdog/internal/ort"
	"github.com/catdog-ml/catdog/onnx"
)

type config struct {
	size, matmul, gorgonia, rounds, images int
	batches, opts                          string
}

func main() {
	var c config
	flag.IntVar(&c.size, "size", 224, "image side in pixels (multiple of 32)")
	flag.IntVar(&c.matmul, "matmul", 4096, "side of the square MatMul that measures the peak")
	flag.IntVar(&c.gorgonia, "gorgonia", 2, "images for the Gorgonia baseline (0: skip it)")
	flag.IntVar(&c.rounds, "rounds", 3, "timed rounds per configuration; the best counts")
	flag.IntVar(&c.images, "images", 32, "images per timed round (at least one batch)")
	flag.StringVar(&c.batches, "batches", "1,8,32", "batch sizes for onnxruntime")
	flag.StringVar(&c.opts, "opt", "all", "graph optimisation levels for onnxruntime (all, extended, basic, disable), comma separated")
	flag.Parse()
	if err := run(c); err != nil {
		log.Fatal(err)
	}
}

type row struct {
	engine, opt string
	batch       int
	imgPerSec   float64
	gflops      float64
}

func run(c config) error {
	env, err := ort.Open()
	if err != nil {
		return err
	}
	defer env.Close()
	fmt.Printf("machine: %d cores (GOMAXPROCS %d), %s/%s; onnxruntime %s (%s), intra-op threads %d\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, env.Version(), env.Library(), ort.Threads())

	// The peak is measured once up front and again in every timed round below, interleaved
	// with the network, so that a busy machine lowers both alike; the best rate seen counts.
	matmul, closeMatmul, err := newMatmul(env, c.matmul, false)
	if err != nil {
		return fmt.Errorf("peak: %w", err)
	}
	defer closeMatmul()
	matmulConst, closeMatmulConst, err := newMatmul(env, c.matmul, true)
	if err != nil {
		return fmt.Errorf("peak: %w", err)
	}
	defer closeMatmulConst()
	sgemm, blasName := newSgemm(c.matmul)
	var ortPeak, ortConstPeak, blas float64
	samples := 0
	samplePeak := func() error {
		samples++
		g, err := matmul()
		ortPeak = max(ortPeak, g)
		if err != nil {
			return err
		}
		g, err = matmulConst()
		ortConstPeak = max(ortConstPeak, g)
		if err != nil || sgemm == nil {
			return err
		}
		g, err = sgemm()
		blas = max(blas, g)
		return err
	}
	for i := 0; i < c.rounds+1; i++ {
		if err := samplePeak(); err != nil {
			return fmt.Errorf("peak: %w", err)
		}
	}

	bb, err := backbones.Load(context.Background(), backbones.VGG16Random, backbones.Options{InputSize: c.size})
	if err != nil {
		return err
	}
	sum := bb.Model.Inspect()
	flopPerImage := 2 * float64(sum.TotalMACs)
	fmt.Printf("VGG16 conv base (%s, cut at %s), %dx%d: %d parameters, %.2f GMAC = %.2f GFLOP per image, features %v\n\n",
		bb.Spec.Name, bb.Output, c.size, c.size, sum.TotalParams, float64(sum.TotalMACs)/1e9, flopPerImage/1e9, bb.Spec.OutputShape)
	model, err := bb.Model.Encode()
	if err != nil {
		return err
	}
	img := 3 * c.size * c.size
	r := rand.New(rand.NewPCG(1, 2))
	maxBatch := 1
	var batches []int
	for _, s := range strings.Split(c.batches, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || b < 1 {
			return fmt.Errorf("bad batch size %q", s)
		}
		batches = append(batches, b)
		maxBatch = max(maxBatch, b)
	}
	input := make([]float32, maxBatch*img)
	for i := range input {
		input[i] = r.Float32()*4 - 2
	}

	var rows []row
	for _, opt := range strings.Split(c.opts, ",") {
		s, err := env.NewSession(model, ort.SessionOptions{Provider: "cpu", Optimization: opt, Inputs: []string{bb.Input}, Outputs: []string{bb.Output}})
		if err != nil {
			return err
		}
		for _, b := range batches {
			runs := max(1, c.images/b)
			shape := []int64{int64(b), 3, int64(c.size), int64(c.size)}
			if _, _, err := s.RunFloat32(input[:b*img], shape...); err != nil { // warm-up
				return err
			}
			best, err := bestOfAfter(c.rounds, samplePeak, func() error {
				for i := 0; i < runs; i++ {
					if _, _, err := s.RunFloat32(input[:b*img], shape...); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			ips := float64(runs*b) / best.Seconds()
			rows = append(rows, row{engine: "onnxruntime", opt: opt, batch: b, imgPerSec: ips, gflops: ips * flopPerImage / 1e9})
			fmt.Fprintf(os.Stderr, "onnxruntime opt=%s batch=%d: %.2f images/s\n", opt, b, ips)
		}
		s.Close()
	}

	if c.gorgonia > 0 {
		g, err := features.NewGorgonia(bb.Model, 1)
		if err != nil {
			return err
		}
		shape := []int64{1, 3, int64(c.size), int64(c.size)}
		if _, _, err := g.Run(input[:img], shape...); err != nil { // warm-up (builds the tape)
			return err
		}
		start := time.Now()
		for i := 0; i < c.gorgonia; i++ {
			if _, _, err := g.Run(input[:img], shape...); err != nil {
				return err
			}
		}
		ips := float64(c.gorgonia) / time.Since(start).Seconds()
		rows = append(rows, row{engine: "gorgonia (onnx-go)", opt: "-", batch: 1, imgPerSec: ips, gflops: ips * flopPerImage / 1e9})
	}

	fmt.Printf("FP32 matmul: onnxruntime MatMul %d^3, both matrices inputs, best of %d runs (interleaved with the rounds below): %.1f GFLOP/s\n", c.matmul, samples, ortPeak)
	fmt.Printf("FP32 matmul: onnxruntime MatMul %d^3, second matrix constant (prepacked, as conv weights are), best of %d runs (likewise): %.1f GFLOP/s\n", c.matmul, samples, ortConstPeak)
	if blas > 0 {
		fmt.Printf("FP32 matmul: %s %d^3, best of %d runs (likewise): %.1f GFLOP/s\n", blasName, c.matmul, samples, blas)
	}
	peak := max(ortPeak, ortConstPeak, blas)
	fmt.Printf("peak used below: %.1f GFLOP/s\n\n", peak)
	var base float64
	for _, r := range rows {
		if strings.HasPrefix(r.engine, "gorgonia") {
			base = r.imgPerSec
		}
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "engine\topt\tbatch\timages/s\ts/image\tGFLOP/s\t% of peak\tx gorgonia\t")
	for _, r := range rows {
		vs := "-"
		if base > 0 {
			vs = fmt.Sprintf("%.1f", r.imgPerSec/base)
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%.2f\t%.3f\t%.1f\t%.0f %%\t%s\t\n", r.engine, r.opt, r.batch, r.imgPerSec, 1/r.imgPerSec, r.gflops, 100*r.gflops/peak, vs)
	}
	return w.Flush()
}

// newMatmul prepares onnxruntime's float32 MatMul of two n x n matrices and returns a
// function that runs it once and reports its rate in GFLOP/s. With constB the second
// matrix is an initializer, which onnxruntime packs once at load, as it does convolution
// weights; otherwise both are inputs.
func newMatmul(env *ort.Env, n int, constB bool) (run func() (float64, error), done func(), err error) {
	r := rand.New(rand.NewPCG(3, 4))
	a := make([]float32, n*n)
	for i := range a {
		a[i] = r.Float32() - 0.5
	}
	b := onnx.NewBuilder("matmul")
	x := b.Input("a", onnx.Float, int64(n), int64(n))
	inputs := []string{"a"}
	var y string
	if constB {
		y = b.Initializer("b", []int64{int64(n), int64(n)}, a)
	} else {
		y = b.Input("b", onnx.Float, int64(n), int64(n))
		inputs = append(inputs, "b")
	}
	b.Output(b.MatMul(x, y), "c", onnx.Float, int64(n), int64(n))
	m, err := b.Model()
	if err != nil {
		return nil, nil, err
	}
	data, err := m.Encode()
	if err != nil {
		return nil, nil, err
	}
	s, err := env.NewSession(data, ort.SessionOptions{Provider: "cpu", Inputs: inputs, Outputs: []string{"c"}})
	if err != nil {
		return nil, nil, err
	}
	ta, err1 := newTensor(a, n)
	tb, err2 := newTensor(a, n)
	tc, err3 := newTensor(make([]float32, n*n), n)
	done = func() {
		for _, t := range values(ta, tb, tc) {
			if t != nil {
				t.Destroy()
			}
		}
		s.Close()
	}
	if err := errors.Join(err1, err2, err3); err != nil {
		done()
		return nil, nil, err
	}
	flop := 2 * float64(n) * float64(n) * float64(n)
	in := values(ta, tb)
	if constB {
		in = in[:1]
	}
	run = func() (float64, error) {
		start := time.Now()
		if err := s.Run(in, values(tc)); err != nil {
			return 0, err
		}
		return flop / time.Since(start).Seconds() / 1e9, nil
	}
	return run, done, nil
}

// bestOfAfter times f rounds times, calling before (untimed) ahead of each, and returns the
// shortest time.
func bestOfAfter(rounds int, before, f func() error) (time.Duration, error) {
	best := time.Duration(1<<63 - 1)
	for i := 0; i < max(1, rounds); i++ {
		if err := before(); err != nil {
			return 0, err
		}
		start := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		best = min(best, time.Since(start))
	}
	return best, nil
}
