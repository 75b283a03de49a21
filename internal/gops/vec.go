package gops

import "math"

// SumDot returns Σ a[i] and Σ a[i]·b[i] over a, in float64; b holds at least len(a) values.
// With AVX-512 the sums run in 16 float64 lanes added at the end, so the result may differ
// from a loop's in the last bits; it is the same bits from call to call.
func SumDot(a, b []float32) (sa, sab float64) {
	if len(a) == 0 {
		return 0, 0
	}
	b = b[:len(a)]
	if haveVec {
		return sumDot(&a[0], &b[0], len(a))
	}
	for i, v := range a {
		sa += float64(v)
		sab += float64(v) * float64(b[i])
	}
	return sa, sab
}

// Affine writes dst[i] = ca·a[i] + cb·b[i] + c0 for every i of dst, in float32, or
// ca·a[i] + c0 when b is nil; a and b hold at least len(dst) values. With AVX-512 the
// products are fused into the sums (one rounding).
func Affine(dst, a, b []float32, ca, cb, c0 float32) {
	if len(dst) == 0 {
		return
	}
	a = a[:len(dst)]
	var bp *float32
	if b != nil {
		b = b[:len(dst)]
		bp = &b[0]
	}
	if haveVec {
		affine(&dst[0], &a[0], bp, len(dst), ca, cb, c0)
		return
	}
	if b == nil {
		for i, v := range a {
			dst[i] = ca*v + c0
		}
		return
	}
	for i, v := range a {
		dst[i] = ca*v + cb*b[i] + c0
	}
}

// stepChunk is how many weights one goroutine updates at a time in AdamStep and
// MomentumStep.
const stepChunk = 1 << 15

// AdamStep applies one Adam update to the weights w from their gradient g, in place:
// m = b1·m + (1-b1)·g, v = b2·v + (1-b2)·g², w -= lr·m / (sqrt(v) + eps). Subnormal
// results are flushed to zero: the moments of a weight whose gradient is zero decay
// geometrically through the subnormal range, where every operation on an Intel CPU takes a
// microcode assist (measured: a dense layer's four million Adam updates per step made the
// step seven times slower after a few hundred steps). Large tensors are spread over all
// cores; every weight's update is independent, so the result does not depend on them.
func AdamStep(w, m, v, g []float32, b1, b2, lr, eps float32) {
	n := len(w)
	m, v, g = m[:n], v[:n], g[:n]
	parallel((n+stepChunk-1)/stepChunk, func(_, c int) {
		lo, hi := c*stepChunk, min(n, (c+1)*stepChunk)
		if haveVec {
			adamStep(&w[lo], &m[lo], &v[lo], &g[lo], hi-lo, b1, b2, lr, eps)
			return
		}
		for j := lo; j < hi; j++ {
			mj := flush(b1*m[j] + (1-b1)*g[j])
			vj := flush(b2*v[j] + (1-b2)*g[j]*g[j])
			m[j], v[j] = mj, vj
			w[j] = flush(w[j] - lr*mj/(float32(math.Sqrt(float64(vj)))+eps))
		}
	})
}

// MomentumStep applies one update of SGD with momentum to the weights w from their
// gradient g, in place: vel = mu·vel - lr·g, w += vel; subnormals flushed to zero and
// large tensors spread over all cores as in AdamStep.
func MomentumStep(w, vel, g []float32, mu, lr float32) {
	n := len(w)
	vel, g = vel[:n], g[:n]
	parallel((n+stepChunk-1)/stepChunk, func(_, c int) {
		lo, hi := c*stepChunk, min(n, (c+1)*stepChunk)
		if haveVec {
			momentumStep(&w[lo], &vel[lo], &g[lo], hi-lo, mu, lr)
			return
		}
		for j := lo; j < hi; j++ {
			vj := flush(mu*vel[j] - lr*g[j])
			vel[j] = vj
			w[j] = flush(w[j] + vj)
		}
	})
}

// flush returns 0 for a subnormal x, else x.
func flush(x float32) float32 {
	b := math.Float32bits(x)
	if b&0x7f800000 == 0 {
		b = 0
	}
	return math.Float32frombits(b)
}
