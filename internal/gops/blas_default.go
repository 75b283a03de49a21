//go:build !gonum && !openblas

package gops

// The default build: gops's own kernels where the CPU has AVX-512F or AVX2 and FMA,
// gonum's blas32 elsewhere.
const fallbackBLAS = "gonum"

func buildKernels() []*kernel { return kernels() }
