package gops

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// naive is the reference c = op(a)·op(b) + beta·c.
func naive(ta, tb bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				av, bv := a[i*lda+p], b[p*ldb+j]
				if ta {
					av = a[p*lda+i]
				}
				if tb {
					bv = b[j*ldb+p]
				}
				s += float64(av) * float64(bv)
			}
			c[i*ldc+j] = float32(s) + beta*c[i*ldc+j]
		}
	}
}

// eachBLAS runs f with every SGEMM implementation of BLASes in use in turn, and the
// first once more with the AVX-512 passes around the products turned off (their Go loops,
// as on CPUs without AVX-512: the 8x32 kernel's packing in Go, im2col and col2im rows).
func eachBLAS[T interface{ Run(string, func(T)) bool }](tb T, f func(T)) {
	defer func() {
		if err := UseBLAS(BLASes()[0]); err != nil {
			panic(err)
		}
	}()
	for _, name := range BLASes() {
		if err := UseBLAS(name); err != nil {
			panic(err)
		}
		tb.Run(name, f)
	}
	if err := UseBLAS(BLASes()[0]); err != nil {
		panic(err)
	}
	restore := setVec(false)
	defer restore()
	tb.Run(BLASes()[0]+"/no-vec", f)
}

func TestSgemm(t *testing.T) { eachBLAS(t, testSgemm) }

func testSgemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = rng.Float32()*2 - 1
		}
		return s
	}
	for _, sz := range [][3]int{{1, 1, 1}, {6, 16, 5}, {7, 17, 3}, {8, 32, 1}, {8, 32, 2}, {9, 33, 7}, {17, 65, 300}, {32, 4096, 27}, {64, 1024, 288}, {100, 300, 600}, {13, 5, 0}, {288, 1024, 64}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, beta := range []float32{0, 1} {
				m, n, k := sz[0], sz[1], sz[2]
				ta, tb := tr[0], tr[1]
				t.Run(fmt.Sprintf("%dx%dx%d/ta=%v,tb=%v,beta=%v", m, n, k, ta, tb, beta), func(t *testing.T) {
					lda, ldb, ldc := k+1, n+2, n+3
					if ta {
						lda = m + 1
					}
					if tb {
						ldb = k + 2
					}
					a, b := fill(max(m, k)*lda), fill(max(n, k)*ldb)
					c := fill(m * ldc)
					want := append([]float32(nil), c...)
					naive(ta, tb, m, n, k, a, lda, b, ldb, beta, want, ldc)
					sgemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc)
					if ok, msg := closeTo(c, want, 1e-5); !ok {
						t.Fatal(msg)
					}
				})
			}
		}
	}
}

func BenchmarkSgemm(b *testing.B) { eachBLAS(b, benchmarkSgemm) }

func benchmarkSgemm(b *testing.B) {
	for _, sz := range [][3]int{{32, 4096, 27}, {64, 1024, 288}, {128, 256, 576}, {64, 288, 1024}} {
		m, n, k := sz[0], sz[1], sz[2]
		b.Run(fmt.Sprintf("%dx%dx%d", m, n, k), func(b *testing.B) {
			x, y, z := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
			for i := range x { // not zeros: gonum skips zero multipliers
				x[i] = float32(i%7) - 3
			}
			for i := range y {
				y[i] = float32(i%5) - 2
			}
			for b.Loop() {
				sgemm(false, false, m, n, k, x, k, y, n, 0, z, n)
			}
			b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func TestImplementationSgemm(t *testing.T) { eachBLAS(t, testImplementationSgemm) }

func testImplementationSgemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = rng.Float32()*2 - 1
		}
		return s
	}
	for _, sz := range [][3]int{{32, 128, 8192}, {8192, 128, 32}, {32, 8192, 128}, {3, 5, 7}, {100, 3, 2000}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, ab := range [][2]float32{{1, 0}, {1, 1}, {0.5, 2}} {
				m, n, k := sz[0], sz[1], sz[2]
				ta, tb := tr[0], tr[1]
				lda, ldb, ldc := k, n, n
				if ta {
					lda = m
				}
				if tb {
					ldb = k
				}
				a, b, c := fill(m*k), fill(k*n), fill(m*n)
				want := append([]float32(nil), c...)
				gonum.Implementation{}.Sgemm(trans(ta), trans(tb), m, n, k, ab[0], a, lda, b, ldb, ab[1], want, ldc)
				Implementation{}.Sgemm(trans(ta), trans(tb), m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
				if ok, msg := closeTo(c, want, 1e-5); !ok {
					t.Errorf("%v %v alpha, beta %v: %s", sz, tr, ab, msg)
				}
			}
		}
	}
}

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// TestPackedA checks products whose left operand is packed once (prepackA, as a
// convolution's filters) against the naive product, for every kernel, on shapes of one and
// of several blocks of rows (mc) and of depth (kc), transposed or not, and the same
// packing used twice.
func TestPackedA(t *testing.T) {
	eachBLAS(t, func(t *testing.T) {
		kn := active.Load()
		if kn == nil {
			t.Skip("the fallback BLAS packs its own operands")
		}
		rng := rand.New(rand.NewPCG(4, 4))
		fill := func(n int) []float32 {
			s := make([]float32, n)
			for i := range s {
				s[i] = rng.Float32()*2 - 1
			}
			return s
		}
		for _, sz := range [][3]int{{1, 1, 1}, {7, 33, 5}, {32, 300, 27}, {100, 70, 700}, {200, 40, 321}, {576, 64, 128}} {
			for _, ta := range []bool{false, true} {
				m, n, k := sz[0], sz[1], sz[2]
				t.Run(fmt.Sprintf("%dx%dx%d/ta=%v", m, n, k, ta), func(t *testing.T) {
					lda := k
					if ta {
						lda = m
					}
					a := fill(max(m, k) * max(lda, k)) // naive reads a[i*lda+p] even when ta
					pa := prepackA(kn, ta, a, lda, m, k)
					defer pa.release()
					for range 2 {
						b, c := fill(k*n), fill(m*n)
						want := make([]float32, m*n)
						naive(ta, false, m, n, k, a, lda, b, n, 0, want, n)
						gemmWith(kn, m, n, k, pa, matB{false, b, n}, 0, c, n)
						if ok, msg := closeTo(c, want, 1e-5); !ok {
							t.Fatal(msg)
						}
					}
				})
			}
		}
	})
}
