//go:build openblas

package main

import (
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// baselineBLAS is what the Gorgonia baseline multiplies with: OpenBLAS under -tags openblas.
func baselineBLAS() G.BLAS { return netlib.Implementation{} }
