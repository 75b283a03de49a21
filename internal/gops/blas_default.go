//go:build !gonum && !openblas

package gops

// The default build: gops's own AVX2/FMA kernel where the CPU has it, gonum's blas32 elsewhere.
var useKernel = haveKernel

var blasName = map[bool]string{true: "gops-avx2", false: "gonum"}[useKernel]
