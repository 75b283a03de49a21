package gops

import (
	"fmt"
	"math/bits"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gorgonia.org/tensor"
)

// active is the micro-kernel sgemm uses; nil: the fallback BLAS (fallbackBLAS).
var active atomic.Pointer[kernel]

func init() {
	if ks := buildKernels(); len(ks) > 0 {
		active.Store(ks[0])
	}
}

// BLAS names the SGEMM implementation in use: "gops-avx512" (the default on CPUs with
// AVX-512F: gops's own 8×32 assembly kernel), "gops-avx2" (its 6×16 AVX2/FMA kernel, the
// default on CPUs with AVX2 and FMA but not AVX-512), "gonum" (gonum's pure-Go blas32: the
// default elsewhere, or with the build tag gonum) or "openblas" (cgo, build tag openblas).
func BLAS() string {
	if k := active.Load(); k != nil {
		return k.name
	}
	return fallbackBLAS
}

// BLASes lists the SGEMM implementations that this build can use on this CPU, the default
// first.
func BLASes() []string {
	var names []string
	for _, k := range buildKernels() {
		names = append(names, k.name)
	}
	return append(names, fallbackBLAS)
}

// UseBLAS makes name, one of BLASes, the SGEMM implementation of every later product, for
// benchmarks and tests that compare them; the default is the fastest. It is not meant to
// be called while products run.
func UseBLAS(name string) error {
	if name == fallbackBLAS {
		active.Store(nil)
		return nil
	}
	for _, k := range buildKernels() {
		if k.name == name {
			active.Store(k)
			return nil
		}
	}
	return fmt.Errorf("gops: no SGEMM %q in this build on this CPU (have %s)", name, strings.Join(BLASes(), ", "))
}

// blockShape is the mr×nr block of the micro-kernel in use, by which Implementation cuts
// a product between cores; 8×32 for the fallback.
func blockShape() (mr, nr int) {
	if k := active.Load(); k != nil {
		return k.mr, k.nr
	}
	return 8, 32
}

// sgemm computes c = a·b + beta·c (beta 0 or 1) for row-major a (m×k, or k×m when ta), b (k×n, or n×k
// when tb) and c (m×n).
func sgemm(ta, tb bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if kn := active.Load(); kn != nil {
		gemm(kn, ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc)
		return
	}
	tA, tB := blas.NoTrans, blas.NoTrans
	if ta {
		tA = blas.Trans
	}
	if tb {
		tB = blas.Trans
	}
	blas32.Implementation().Sgemm(tA, tB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
}

// parallel calls f(worker, i) for i in [0, n), spread over up to GOMAXPROCS goroutines;
// worker is in [0, workers(n)) and lets f use per-worker scratch space.
func parallel(n int, f func(worker, i int)) {
	w := workers(n)
	if w == 1 {
		for i := 0; i < n; i++ {
			f(0, i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(w)
	for k := 0; k < w; k++ {
		go func(k int) {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(k, i)
			}
		}(k)
	}
	wg.Wait()
}

// byItem calls f(lo, hi) for the values [lo, hi) of each item along the first axis of a
// tensor of shape s holding n values (the whole tensor when it has no axis), in parallel:
// the split of gops's elementwise ops.
func byItem(s tensor.Shape, n int, f func(lo, hi int)) {
	items := 1
	if s.Dims() > 0 {
		items = max(1, s[0])
	}
	size := n / items
	parallel(items, func(_, i int) { f(i*size, (i+1)*size) })
}

// ForEach calls f(i) for i in [0, n), spread over up to GOMAXPROCS goroutines. Each f(i)
// runs whole in one goroutine, so work that keeps its own order inside f gives the same bits
// whatever the number of threads.
func ForEach(n int, f func(i int)) {
	parallel(n, func(_, i int) { f(i) })
}

// workers is the number of goroutines parallel uses for n items.
func workers(n int) int {
	return max(1, min(n, runtime.GOMAXPROCS(0)))
}

// scratchPools recycles float32 scratch buffers, one pool per power-of-two capacity.
var scratchPools [48]sync.Pool

// getScratch returns a buffer of n float32s with undefined contents; give it back with
// putScratch.
func getScratch(n int) []float32 {
	if n == 0 {
		return nil
	}
	c := bits.Len(uint(n - 1)) // capacity class: 1<<c >= n
	if b, ok := scratchPools[c].Get().(*[]float32); ok {
		return (*b)[:n]
	}
	return make([]float32, n, 1<<c)
}

// putScratch gives back a buffer from getScratch.
func putScratch(b []float32) {
	if cap(b) == 0 || cap(b)&(cap(b)-1) != 0 {
		return
	}
	b = b[:cap(b)]
	scratchPools[bits.Len(uint(cap(b)-1))].Put(&b)
}

// Passes names how gops runs the passes over memory around the products (pooling, im2col
// and col2im rows, packing, batch norm's sums, the optimiser's updates): "avx512" (its
// assembly, on CPUs with AVX-512F) or "go" (Go loops).
func Passes() string {
	if haveVec {
		return "avx512"
	}
	return "go"
}
