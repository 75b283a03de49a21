//go:build openblas

package main

// #cgo LDFLAGS: -lopenblas
// #include <cblas.h>
import "C"

import (
	"math/rand/v2"
	"unsafe"
)

// sgemmPeak measures OpenBLAS SGEMM on n x n matrices, in GFLOP/s (build tag openblas,
// Debian libopenblas-dev). OpenBLAS uses its own threads (OPENBLAS_NUM_THREADS, default
// all cores).
func sgemmPeak(n, rounds int) (float64, string, error) {
	r := rand.New(rand.NewPCG(5, 6))
	a := make([]float32, n*n)
	for i := range a {
		a[i] = r.Float32() - 0.5
	}
	c := make([]float32, n*n)
	run := func() error {
		C.cblas_sgemm(C.CblasRowMajor, C.CblasNoTrans, C.CblasNoTrans, C.blasint(n), C.blasint(n), C.blasint(n),
			1, (*C.float)(unsafe.Pointer(&a[0])), C.blasint(n), (*C.float)(unsafe.Pointer(&a[0])), C.blasint(n),
			0, (*C.float)(unsafe.Pointer(&c[0])), C.blasint(n))
		return nil
	}
	_ = run() // warm-up
	best, err := bestOf(rounds+1, run)
	if err != nil {
		return 0, "", err
	}
	return 2 * float64(n) * float64(n) * float64(n) / best.Seconds() / 1e9, "OpenBLAS SGEMM", nil
}
