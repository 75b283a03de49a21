//go:build !amd64 || noasm

package gops

// haveVec reports whether the AVX-512 routines can run here: not on this architecture.
const haveVec = false

func maxPool16(r0, r1, y *float32, n int) { panic("gops: maxPool16 without assembly") }

func maxPoolGrad16(r0, r1, y, dy, d0, d1 *float32, blocks int, relu bool) {
	panic("gops: maxPoolGrad16 without assembly")
}

func addTo(dst, src *float32, n int) { panic("gops: addTo without assembly") }

func copyRows32(dst, src *float32, ld, rows int) { panic("gops: copyRows32 without assembly") }

func copyRows8(dst, src *float32, ld, rows int) { panic("gops: copyRows8 without assembly") }

func padCopy(dst, src *float32, lo, hi, n int) { panic("gops: padCopy without assembly") }

func gatherT32(dst, src *float32, ld, kb int) { panic("gops: gatherT32 without assembly") }

func gatherA8(dst, src *float32, ld, kb int) { panic("gops: gatherA8 without assembly") }

func sumDot(a, b *float32, n int) (sa, sab float64) { panic("gops: sumDot without assembly") }

func affine(dst, a, b *float32, n int, ca, cb, c0 float32) { panic("gops: affine without assembly") }

func adamStep(w, m, v, grad *float32, n int, b1, b2, lr, eps float32) {
	panic("gops: adamStep without assembly")
}

func momentumStep(w, vel, grad *float32, n int, mu, lr float32) {
	panic("gops: momentumStep without assembly")
}

func biasReLU(dst, src *float32, n int, b float32, relu bool) {
	panic("gops: biasReLU without assembly")
}

func addMax0(dst, a, b *float32, n int) { panic("gops: addMax0 without assembly") }

func reluGrad(dst, y, dy *float32, n int) { panic("gops: reluGrad without assembly") }

func mulTo(dst, a, b *float32, n int) { panic("gops: mulTo without assembly") }

func sumLanes(acc *[16]float32, x, y *float32, n int) { panic("gops: sumLanes without assembly") }

func im2colGather(dst, src *float32, idx *int32, c, q, ohw, ld, hw int) {
	panic("gops: im2colGather without assembly")
}
