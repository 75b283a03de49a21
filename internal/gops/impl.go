package gops

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"
)

// Implementation is a complete BLAS for gorgonia.Use: gonum's pure-Go implementation with
// Sgemm, the float32 matrix product, done by gops's SGEMM (the one BLAS names), spread over
// all cores when the product is large. With it, Gorgonia's own float32 products (Mul of
// dense layers, and its Conv2d) get the same speed-up as gops's ops:
//
//	gorgonia.Use(gops.Implementation{})
type Implementation struct {
	gonum.Implementation
}

// parallelFlops is the size of product, in floating-point operations, from which
// Implementation.Sgemm splits the work over cores.
const parallelFlops = 1 << 22

// Sgemm computes c = alpha·op(a)·op(b) + beta·c.
func (impl Implementation) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := tA != blas.NoTrans, tB != blas.NoTrans
	if alpha != 1 || (beta != 0 && beta != 1) || m <= 0 || n <= 0 || k <= 0 {
		blas32.Implementation().Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	mr, nr := blockShape()
	w := workers(max(m/mr, n/nr))
	if w == 1 || 2*m*n*k < parallelFlops {
		sgemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if n >= m { // split the columns of b and c
		step := (n/w + nr - 1) / nr * nr
		parallel((n+step-1)/step, func(_, i int) {
			j0 := i * step
			nn := min(step, n-j0)
			bo := j0
			if tb {
				bo = j0 * ldb
			}
			sgemm(ta, tb, m, nn, k, a, lda, b[bo:], ldb, beta, c[j0:], ldc)
		})
		return
	}
	step := (m/w + mr - 1) / mr * mr // split the rows of a and c
	parallel((m+step-1)/step, func(_, i int) {
		i0 := i * step
		mm := min(step, m-i0)
		ao := i0 * lda
		if ta {
			ao = i0
		}
		sgemm(ta, tb, mm, n, k, a[ao:], lda, b, ldb, beta, c[i0*ldc:], ldc)
	})
}
