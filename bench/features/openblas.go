//go:build openblas

package main

// #cgo LDFLAGS: -lopenblas
// #include <cblas.h>
import "C"

import (
	"math/rand/v2"
	"time"
	"unsafe"
)

// newSgemm prepares OpenBLAS SGEMM on n x n matrices (build tag openblas, Debian
// libopenblas-dev) and returns a function that runs it once and reports GFLOP/s. OpenBLAS
// uses its own threads (OPENBLAS_NUM_THREADS, default all cores).
func newSgemm(n int) (run func() (float64, error), name string) {
	r := rand.New(rand.NewPCG(5, 6))
	a := make([]float32, n*n)
	for i := range a {
		a[i] = r.Float32() - 0.5
	}
	c := make([]float32, n*n)
	flop := 2 * float64(n) * float64(n) * float64(n)
	return func() (float64, error) {
		start := time.Now()
		C.cblas_sgemm(C.CblasRowMajor, C.CblasNoTrans, C.CblasNoTrans, C.blasint(n), C.blasint(n), C.blasint(n),
			1, (*C.float)(unsafe.Pointer(&a[0])), C.blasint(n), (*C.float)(unsafe.Pointer(&a[0])), C.blasint(n),
			0, (*C.float)(unsafe.Pointer(&c[0])), C.blasint(n))
		return flop / time.Since(start).Seconds() / 1e9, nil
	}, "OpenBLAS SGEMM"
}
