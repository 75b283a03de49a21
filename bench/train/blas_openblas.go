//go:build openblas

package main

import (
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// With -tags openblas, the Gorgonia baseline gets OpenBLAS too (gops switches blas32 itself).
func init() { G.Use(netlib.Implementation{}) }
