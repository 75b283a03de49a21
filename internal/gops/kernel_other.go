//go:build !amd64 || noasm || openblas

package gops

// kernels lists the micro-kernels this CPU can run: none on this architecture or build.
func kernels() []*kernel { return nil }
