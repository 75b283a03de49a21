//go:build !noasm

package gops

import "golang.org/x/sys/cpu"

// haveVec reports whether the AVX-512 routines of vec_amd64.s can run here: the passes over
// memory around the matrix products (pooling, im2col and col2im rows, packing of panels).
var haveVec = cpu.X86.HasAVX512F

// maxPool16 writes y[i] = max(r0[2i], r0[2i+1], r1[2i], r1[2i+1]) for i < n, 16 a turn.
//
//go:noescape
func maxPool16(r0, r1, y *float32, n int)

// maxPoolGrad16 is maxPool16's gradient, 16 windows a turn: the first maximum of window i,
// in the order r0[2i], r0[2i+1], r1[2i], r1[2i+1], gets dy[i] (in d0 for row r0, d1 for r1)
// and the other three 0; all four are 0 when relu and !(y[i] > 0). It writes 32·blocks
// values of d0 and of d1.
//
//go:noescape
func maxPoolGrad16(r0, r1, y, dy, d0, d1 *float32, blocks int, relu bool)

// addTo adds src[i] to dst[i] for i < n.
//
//go:noescape
func addTo(dst, src *float32, n int)

// copyRows32 packs rows of 32 values: dst[r*32+j] = src[r*ld+j] for r < rows, j < 32.
//
//go:noescape
func copyRows32(dst, src *float32, ld, rows int)

// copyRows8 packs rows of 8 values: dst[r*8+j] = src[r*ld+j] for r < rows, j < 8.
//
//go:noescape
func copyRows8(dst, src *float32, ld, rows int)

// padCopy writes a row of im2col: dst[t] = src[t-lo] for lo <= t < hi, 0 for the other
// t < n. src points at the value for dst[lo]; only src[0:hi-lo] is read.
//
//go:noescape
func padCopy(dst, src *float32, lo, hi, n int)

// gatherT32 packs a transposed panel: dst[p*32+j] = src[j*ld+p] for p < kb, j < 32.
//
//go:noescape
func gatherT32(dst, src *float32, ld, kb int)

// gatherA8 packs a panel of 8 rows: dst[p*8+r] = src[r*ld+p] for p < kb, r < 8.
//
//go:noescape
func gatherA8(dst, src *float32, ld, kb int)

// sumDot returns Σ a[i] and Σ a[i]·b[i] for i < n, in float64.
//
//go:noescape
func sumDot(a, b *float32, n int) (sa, sab float64)

// affine writes dst[i] = ca·a[i] + cb·b[i] + c0 for i < n (ca·a[i] + c0 when b is nil).
//
//go:noescape
func affine(dst, a, b *float32, n int, ca, cb, c0 float32)

// adamStep applies one Adam update to n weights, subnormals flushed to zero.
//
//go:noescape
func adamStep(w, m, v, grad *float32, n int, b1, b2, lr, eps float32)

// momentumStep applies one SGD-with-momentum update to n weights, subnormals flushed to zero.
//
//go:noescape
func momentumStep(w, vel, grad *float32, n int, mu, lr float32)

// biasReLU writes dst[i] = src[i] + b for i < n, then, when relu, 0 where that sum is not
// > 0 (NaN and -0 included): biasOp's values.
//
//go:noescape
func biasReLU(dst, src *float32, n int, b float32, relu bool)

// addMax0 writes dst[i] = max(a[i]+b[i], 0) for i < n, a NaN giving 0x7fc00000 and -0
// giving +0 (reluNaN); max(a[i], 0) when b is nil.
//
//go:noescape
func addMax0(dst, a, b *float32, n int)

// reluGrad writes dst[i] = dy[i] where y[i] > 0, else 0, for i < n.
//
//go:noescape
func reluGrad(dst, y, dy *float32, n int)

// mulTo writes dst[i] = a[i]·b[i] for i < n.
//
//go:noescape
func mulTo(dst, a, b *float32, n int)

// sumLanes adds x[i] to acc[i%16] for i < n, in order; when y is not nil, only the x[i]
// with y[i] > 0.
//
//go:noescape
func sumLanes(acc *[16]float32, x, y *float32, n int)

// im2colGather writes the im2col rows of c channels (hw values apart in src) by gathers:
// dst[(ch·q+p)·ld + t] = src[ch·hw + idx[p·ohw+t]] for p < q, t < ohw, 0 where the index
// is negative.
//
//go:noescape
func im2colGather(dst, src *float32, idx *int32, c, q, ohw, ld, hw int)
