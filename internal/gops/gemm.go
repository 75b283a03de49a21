package gops

import "sync"

// Block sizes of gemm, after Goto and van de Geijn: a kc×nc panel of b stays in L2, a
// mc×kc panel of a in L1/L2, and the 6×16 micro-kernel streams through them.
const (
	mr, nr = 6, 16
	kc     = 256
	mc     = 16 * mr
	nc     = 16 * nr
)

// packs holds the packing buffers of one gemm call.
type packs struct {
	a   [mc * kc]float32
	b   [kc * nc]float32
	tmp [mr * nr]float32
}

// gemmBuffers recycles packing buffers across calls and goroutines.
var gemmBuffers = sync.Pool{New: func() any { return new(packs) }}

// gemm computes c = a·b + beta·c (beta 0 or 1) with the AVX2 micro-kernel; arguments as in
// sgemm. Only call it when haveKernel.
func gemm(ta, tb bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmWith(m, n, k, matA{ta, a, lda}, matB{tb, b, ldb}, beta, c, ldc)
}

// An aPacker copies the block [i0, i0+mb) × [p0, p0+kb) of the left operand into panels of
// mr rows, column after column (dst[panel][p][r]), the last panel padded with zeros.
type aPacker interface {
	packA(i0, p0, mb, kb int, dst []float32)
}

// A bPacker copies the block [p0, p0+kb) × [j0, j0+nb) of the right operand into panels of
// nr columns, row after row (dst[panel][p][j]), the last panel padded with zeros.
type bPacker interface {
	packB(p0, j0, kb, nb int, dst []float32)
}

// matA and matB are row-major matrices (transposed when t) as gemm operands.
type matA struct {
	t  bool
	a  []float32
	ld int
}

type matB struct {
	t  bool
	b  []float32
	ld int
}

func (m matA) packA(i0, p0, mb, kb int, dst []float32) { packA(m.t, m.a, m.ld, i0, p0, mb, kb, dst) }
func (m matB) packB(p0, j0, kb, nb int, dst []float32) { packB(m.t, m.b, m.ld, p0, j0, kb, nb, dst) }

// gemmWith computes c (m×n) = a·b + beta·c (beta 0 or 1) for operands that pack themselves:
// an operand need not exist as a matrix (see the convolution's image packers).
func gemmWith[A aPacker, B bPacker](m, n, k int, a A, b B, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if beta == 0 {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	p := gemmBuffers.Get().(*packs)
	defer gemmBuffers.Put(p)
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			b.packB(pc, jc, kb, nb, p.b[:])
			add := pc > 0 || beta != 0
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				a.packA(ic, pc, mb, kb, p.a[:])
				for jr := 0; jr < nb; jr += nr {
					nn := min(nr, nb-jr)
					bp := &p.b[jr*kb]
					for ir := 0; ir < mb; ir += mr {
						mm := min(mr, mb-ir)
						ap := &p.a[ir*kb]
						ci := (ic+ir)*ldc + jc + jr
						if mm == mr && nn == nr {
							kern6x16(kb, ap, bp, &c[ci], ldc, add)
							continue
						}
						// edge tile: through a full-size scratch tile
						t := p.tmp[:]
						if add {
							for r := 0; r < mm; r++ {
								copy(t[r*nr:r*nr+nn], c[ci+r*ldc:ci+r*ldc+nn])
							}
						}
						kern6x16(kb, ap, bp, &t[0], nr, add)
						for r := 0; r < mm; r++ {
							copy(c[ci+r*ldc:ci+r*ldc+nn], t[r*nr:r*nr+nn])
						}
					}
				}
			}
		}
	}
}

// packA copies the block a[i0:i0+mb, p0:p0+kb] (of aᵀ when ta) into panels of mr rows,
// column after column (dst[panel][p][r]), the last panel padded with zeros.
func packA(ta bool, a []float32, lda, i0, p0, mb, kb int, dst []float32) {
	for ir := 0; ir < mb; ir += mr {
		mm := min(mr, mb-ir)
		d := dst[ir*kb : ir*kb+mr*kb]
		if !ta {
			if mm == mr {
				base := (i0+ir)*lda + p0
				r0, r1, r2 := a[base:][:kb], a[base+lda:][:kb], a[base+2*lda:][:kb]
				r3, r4, r5 := a[base+3*lda:][:kb], a[base+4*lda:][:kb], a[base+5*lda:][:kb]
				for p := range r0 {
					q := d[p*mr : p*mr+mr]
					q[0], q[1], q[2], q[3], q[4], q[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
				}
				continue
			}
			for r := 0; r < mr; r++ {
				if r >= mm {
					for p := 0; p < kb; p++ {
						d[p*mr+r] = 0
					}
					continue
				}
				row := a[(i0+ir+r)*lda+p0:][:kb]
				for p, v := range row {
					d[p*mr+r] = v
				}
			}
			continue
		}
		for p := 0; p < kb; p++ {
			src := a[(p0+p)*lda+i0+ir:]
			dp := d[p*mr : p*mr+mr]
			if mm == mr {
				*(*[mr]float32)(dp) = *(*[mr]float32)(src)
				continue
			}
			copy(dp, src[:mm])
			clear(dp[mm:])
		}
	}
}

// packB copies the block b[p0:p0+kb, j0:j0+nb] (of bᵀ when tb) into panels of nr columns,
// row after row (dst[panel][p][j]), the last panel padded with zeros.
func packB(tb bool, b []float32, ldb, p0, j0, kb, nb int, dst []float32) {
	for jr := 0; jr < nb; jr += nr {
		nn := min(nr, nb-jr)
		d := dst[jr*kb : jr*kb+nr*kb]
		if !tb {
			if nn == nr {
				for p := 0; p < kb; p++ {
					*(*[nr]float32)(d[p*nr:]) = *(*[nr]float32)(b[(p0+p)*ldb+j0+jr:])
				}
				continue
			}
			for p := 0; p < kb; p++ {
				dp := d[p*nr : p*nr+nr]
				copy(dp, b[(p0+p)*ldb+j0+jr:][:nn])
				clear(dp[nn:])
			}
			continue
		}
		for j := 0; j < nr; j++ {
			if j >= nn {
				for p := 0; p < kb; p++ {
					d[p*nr+j] = 0
				}
				continue
			}
			col := b[(j0+jr+j)*ldb+p0:][:kb]
			for p, v := range col {
				d[p*nr+j] = v
			}
		}
	}
}
