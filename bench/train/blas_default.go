//go:build !openblas

package main

import (
	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
)

// baselineBLAS is what the Gorgonia baseline multiplies with: Gorgonia's default, gonum.
func baselineBLAS() G.BLAS { return gonum.Implementation{} }
