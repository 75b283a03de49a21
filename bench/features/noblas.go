//go:build !openblas

package main

// newSgemm is only available with the openblas build tag.
func newSgemm(n int) (run func() (float64, error), name string) { return nil, "" }
