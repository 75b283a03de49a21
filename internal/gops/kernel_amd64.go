//go:build !noasm && !openblas

package gops

import "golang.org/x/sys/cpu"

// kernels lists the micro-kernels this CPU can run, the fastest first.
func kernels() []*kernel {
	var ks []*kernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, &kernel{name: "gops-avx512", mr: 8, nr: 32, run: kern8x32})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &kernel{name: "gops-avx2", mr: 6, nr: 16, run: kern6x16})
	}
	return ks
}

// kern6x16 computes a 6×16 block of c = (add ? c : 0) + a·b from packed panels: a holds
// k groups of 6 values (a column of the 6-row panel each), b holds k rows of 16 values.
// AVX2 and FMA3.
//
//go:noescape
func kern6x16(k int, a, b, c *float32, ldc int, add bool)

// kern8x32 is kern6x16 for an 8×32 block, with AVX-512F.
//
//go:noescape
func kern8x32(k int, a, b, c *float32, ldc int, add bool)
