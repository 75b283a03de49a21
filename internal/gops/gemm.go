package gops

import (
	"fmt"
	"sync"
)

// A kernel is gemm's micro-kernel: run computes an mr×nr block of c = (add ? c : 0) + a·b
// (row stride ldc) from packed panels, a holding k groups of mr values (a column of the
// mr-row panel each) and b k rows of nr values.
type kernel struct {
	name   string
	mr, nr int
	run    func(k int, a, b, c *float32, ldc int, add bool)
}

// Block sizes of gemm, after Goto and van de Geijn: a kc×nc panel of b stays in L2, a
// mc×kc panel of a in L1/L2, and the micro-kernel streams through them. mc and nc are
// multiples of every kernel's mr (6, 8) and nr (16, 32).
const (
	kc      = 320
	mc      = 96
	nc      = 256
	maxTile = 8 * 32
)

// packs holds the packing buffers of one gemm call. It is larger than 32 KiB, so the
// allocator gives it whole pages: every buffer starts on a 64-byte boundary.
type packs struct {
	a   [mc * kc]float32
	b   [kc * nc]float32
	tmp [maxTile]float32
}

// gemmBuffers recycles packing buffers across calls and goroutines.
var gemmBuffers = sync.Pool{New: func() any { return new(packs) }}

// gemm computes c = a·b + beta·c (beta 0 or 1) with the micro-kernel kn; arguments as in
// sgemm.
func gemm(kn *kernel, ta, tb bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmWith(kn, m, n, k, matA{ta, a, lda}, matB{tb, b, ldb}, beta, c, ldc)
}

// An aPacker copies the block [i0, i0+mb) × [p0, p0+kb) of the left operand into panels of
// mr rows, column after column (dst[panel][p][r]), the last panel padded with zeros.
type aPacker interface {
	packA(mr, i0, p0, mb, kb int, dst []float32)
}

// A bPacker copies the block [p0, p0+kb) × [j0, j0+nb) of the right operand into panels of
// nr columns, row after row (dst[panel][p][j]), the last panel padded with zeros.
type bPacker interface {
	packB(nr, p0, j0, kb, nb int, dst []float32)
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

func (m matA) packA(mr, i0, p0, mb, kb int, dst []float32) {
	packA(mr, m.t, m.a, m.ld, i0, p0, mb, kb, dst)
}

func (m matB) packB(nr, p0, j0, kb, nb int, dst []float32) {
	packB(nr, m.t, m.b, m.ld, p0, j0, kb, nb, dst)
}

// gemmWith computes c (m×n) = a·b + beta·c (beta 0 or 1) for operands that pack themselves:
// an operand need not exist as a matrix (see the convolution's image packers).
func gemmWith[A aPacker, B bPacker](kn *kernel, m, n, k int, a A, b B, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	// the kernels write whole tiles through a pointer: c must hold every row they touch
	if ldc < n || len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("gops: gemm: c of %d values cannot hold %d rows of %d, %d apart", len(c), m, n, ldc))
	}
	if k == 0 {
		if beta == 0 {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	mr, nr := kn.mr, kn.nr
	kstep := kStep(k)
	pre, _ := any(a).(*packedA)
	if pre != nil && (pre.mr != mr || pre.m != m || pre.k != k) {
		panic(fmt.Sprintf("gops: gemm: a packed as %d×%d for mr %d, used as %d×%d for mr %d", pre.m, pre.k, pre.mr, m, k, mr))
	}
	p := gemmBuffers.Get().(*packs)
	defer gemmBuffers.Put(p)
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kstep {
			kb := min(kstep, k-pc)
			b.packB(nr, pc, jc, kb, nb, p.b[:])
			add := pc > 0 || beta != 0
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				pa := p.a[:]
				if pre != nil {
					pa = pre.block(ic, pc)
				} else {
					a.packA(mr, ic, pc, mb, kb, pa)
				}
				for jr := 0; jr < nb; jr += nr {
					nn := min(nr, nb-jr)
					bp := &p.b[jr*kb]
					for ir := 0; ir < mb; ir += mr {
						mm := min(mr, mb-ir)
						ap := &pa[ir*kb]
						ci := (ic+ir)*ldc + jc + jr
						if mm == mr && nn == nr {
							kn.run(kb, ap, bp, &c[ci], ldc, add)
							continue
						}
						// edge tile: through a full-size scratch tile
						t := p.tmp[:mr*nr]
						if add {
							for r := 0; r < mm; r++ {
								copy(t[r*nr:r*nr+nn], c[ci+r*ldc:ci+r*ldc+nn])
							}
						}
						kn.run(kb, ap, bp, &t[0], nr, add)
						for r := 0; r < mm; r++ {
							copy(c[ci+r*ldc:ci+r*ldc+nn], t[r*nr:r*nr+nn])
						}
					}
				}
			}
		}
	}
}

// kStep is the depth of gemm's blocks of k: k in blocks of equal depth, none deeper than
// kc (288 is one block, not 256 + 32).
func kStep(k int) int {
	return (k + (k+kc-1)/kc - 1) / ((k + kc - 1) / kc)
}

// packedA is a left operand packed whole, once, for every product that shares it (a
// convolution's filters, used by each image's product): its blocks in gemm's order and
// layout, which gemm reads in place instead of packing them again for each product and
// each block of columns.
type packedA struct {
	mr, m, k int
	buf      []float32
	off      []int // the block (ic/mc, pc/kStep(k)) starts at off[ic/mc*kBlocks + pc/kStep(k)]
	kBlocks  int
}

// prepackA packs a (m×k, or k×m when ta) for kn's panels. Give buf back with release.
func prepackA(kn *kernel, ta bool, a []float32, lda, m, k int) *packedA {
	kstep := kStep(max(k, 1))
	pa := &packedA{mr: kn.mr, m: m, k: k, kBlocks: (k + kstep - 1) / kstep}
	rows := (m + kn.mr - 1) / kn.mr * kn.mr // panels padded to whole ones
	pa.buf = getScratch(max(1, rows*k))
	for ic := 0; ic < m; ic += mc {
		mb := min(mc, m-ic)
		for pc := 0; pc < k; pc += kstep {
			kb := min(kstep, k-pc)
			off := (ic*k + (mb+kn.mr-1)/kn.mr*kn.mr*pc)
			pa.off = append(pa.off, off)
			packA(kn.mr, ta, a, lda, ic, pc, mb, kb, pa.buf[off:])
		}
	}
	return pa
}

// block returns the packed block of rows from ic, columns from pc.
func (pa *packedA) block(ic, pc int) []float32 {
	return pa.buf[pa.off[ic/mc*pa.kBlocks+pc/kStep(pa.k)]:]
}

// packA copies a block from the packed panels (gemm reads them in place instead).
func (pa *packedA) packA(mr, i0, p0, mb, kb int, dst []float32) {
	copy(dst[:(mb+mr-1)/mr*mr*kb], pa.block(i0, p0))
}

// release gives the packing buffer back.
func (pa *packedA) release() { putScratch(pa.buf) }

// packA copies the block a[i0:i0+mb, p0:p0+kb] (of aᵀ when ta) into panels of mr rows,
// column after column (dst[panel][p][r]), the last panel padded with zeros.
func packA(mr int, ta bool, a []float32, lda, i0, p0, mb, kb int, dst []float32) {
	for ir := 0; ir < mb; ir += mr {
		mm := min(mr, mb-ir)
		d := dst[ir*kb : ir*kb+mr*kb]
		if ta {
			if mm == 8 && mr == 8 && haveVec && kb > 0 { // one call per panel, not one per column
				src := a[p0*lda+i0+ir : (p0+kb-1)*lda+i0+ir+8]
				copyRows8(&d[0], &src[0], lda, kb)
				continue
			}
			for p := 0; p < kb; p++ {
				src := a[(p0+p)*lda+i0+ir:]
				dp := d[p*mr : p*mr+mr]
				copy(dp, src[:mm])
				clear(dp[mm:])
			}
			continue
		}
		base := (i0+ir)*lda + p0
		switch {
		case mm == 6 && mr == 6:
			r0, r1, r2 := a[base:][:kb], a[base+lda:][:kb], a[base+2*lda:][:kb]
			r3, r4, r5 := a[base+3*lda:][:kb], a[base+4*lda:][:kb], a[base+5*lda:][:kb]
			for p := range r0 {
				q := d[p*6 : p*6+6]
				q[0], q[1], q[2], q[3], q[4], q[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
			}
		case mm == 8 && mr == 8 && haveVec && 7*lda+1 < 1<<31:
			src := a[base : base+7*lda+kb] // the block, bounds-checked
			gatherA8(&d[0], &src[0], lda, kb)
		case mm == 8 && mr == 8:
			r0, r1, r2, r3 := a[base:][:kb], a[base+lda:][:kb], a[base+2*lda:][:kb], a[base+3*lda:][:kb]
			r4, r5, r6, r7 := a[base+4*lda:][:kb], a[base+5*lda:][:kb], a[base+6*lda:][:kb], a[base+7*lda:][:kb]
			for p := range r0 {
				q := d[p*8 : p*8+8]
				q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p], r6[p], r7[p]
			}
		default:
			for r := 0; r < mr; r++ {
				if r >= mm {
					for p := 0; p < kb; p++ {
						d[p*mr+r] = 0
					}
					continue
				}
				row := a[base+r*lda:][:kb]
				for p, v := range row {
					d[p*mr+r] = v
				}
			}
		}
	}
}

// packB copies the block b[p0:p0+kb, j0:j0+nb] (of bᵀ when tb) into panels of nr columns,
// row after row (dst[panel][p][j]), the last panel padded with zeros.
func packB(nr int, tb bool, b []float32, ldb, p0, j0, kb, nb int, dst []float32) {
	for jr := 0; jr < nb; jr += nr {
		nn := min(nr, nb-jr)
		d := dst[jr*kb : jr*kb+nr*kb]
		if !tb {
			if nn == 32 && nr == 32 && haveVec && kb > 0 { // one call per panel, not one per row
				src := b[p0*ldb+j0+jr : (p0+kb-1)*ldb+j0+jr+32]
				copyRows32(&d[0], &src[0], ldb, kb)
				continue
			}
			for p := 0; p < kb; p++ {
				dp := d[p*nr : p*nr+nr]
				copy(dp, b[(p0+p)*ldb+j0+jr:][:nn])
				clear(dp[nn:])
			}
			continue
		}
		packT(d, nr, b[(j0+jr)*ldb+p0:], ldb, nn, kb)
	}
}

// packT writes the transpose of the nn×kb block src (row stride ld) into dst as kb rows of
// nr values, the last nr-nn of each row zero: dst[p*nr+j] = src[j*ld+p]. It goes through
// the block 8 values of p at a time, so that each row of src is read a cache line at a
// time and each row of dst written whole.
func packT(dst []float32, nr int, src []float32, ld, nn, kb int) {
	if nn == 32 && nr == 32 && haveVec && kb > 0 && 31*ld < 1<<31 {
		s := src[:31*ld+kb] // the block, bounds-checked
		gatherT32(&dst[0], &s[0], ld, kb)
		return
	}
	const step = 8
	p := 0
	for ; p+step <= kb; p += step {
		d := dst[p*nr : (p+step)*nr]
		for j := 0; j < nn; j++ {
			s := (*[step]float32)(src[j*ld+p:])
			d[j], d[nr+j], d[2*nr+j], d[3*nr+j] = s[0], s[1], s[2], s[3]
			d[4*nr+j], d[5*nr+j], d[6*nr+j], d[7*nr+j] = s[4], s[5], s[6], s[7]
		}
		if nn < nr {
			for q := 0; q < step; q++ {
				clear(d[q*nr+nn : (q+1)*nr])
			}
		}
	}
	for ; p < kb; p++ {
		d := dst[p*nr : (p+1)*nr]
		for j := 0; j < nn; j++ {
			d[j] = src[j*ld+p]
		}
		clear(d[nn:])
	}
}
