//go:build !amd64 || noasm || openblas

package gops

// haveKernel reports whether kern6x16 can run here: not on this architecture.
const haveKernel = false

func kern6x16(k int, a, b, c *float32, ldc int, add bool) {
	panic("gops: kern6x16 called without an assembly kernel")
}
