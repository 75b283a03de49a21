//go:build !amd64 || noasm

package gops

// setVec: there are no AVX-512 passes to turn off here.
func setVec(bool) (restore func()) { return func() {} }
