//go:build !noasm && !openblas

package gops

import "golang.org/x/sys/cpu"

// haveKernel reports whether kern6x16 can run here.
var haveKernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kern6x16 computes a 6×16 block of c = (add ? c : 0) + a·b from packed panels: a holds
// k groups of 6 values (a column of the 6-row panel each), b holds k rows of 16 values.
//
//go:noescape
func kern6x16(k int, a, b, c *float32, ldc int, add bool)
