//go:build gonum && !openblas

package gops

// Built with the tag gonum: gonum's pure-Go blas32 everywhere.
const fallbackBLAS = "gonum"

func buildKernels() []*kernel { return nil }
