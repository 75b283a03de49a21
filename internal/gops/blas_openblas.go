//go:build openblas

package gops

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int);
*/
import "C"

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/netlib/blas/netlib"
)

const fallbackBLAS = "openblas"

func buildKernels() []*kernel { return nil }

func init() {
	// gops parallelises across the batch itself: one OpenBLAS thread per call avoids
	// oversubscribing the cores.
	C.openblas_set_num_threads(1)
	blas32.Use(netlib.Implementation{})
}
