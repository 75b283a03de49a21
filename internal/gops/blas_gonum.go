//go:build !openblas

package gops

const blasName = "gonum"
