package gops

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

// SumSqDev returns Σ (x[i] - mu)² over x, in float64, summed as SumDot.
func SumSqDev(x []float32, mu float64) float64 {
	if len(x) == 0 {
		return 0
	}
	if haveVec {
		return sumSqDev(&x[0], mu, len(x))
	}
	var s float64
	for _, v := range x {
		d := float64(v) - mu
		s += d * d
	}
	return s
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
