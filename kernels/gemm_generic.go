package kernels

import "sync"

// The pure-Go path of Sgemm: C = beta·C first, then K slabs of
// alpha·op(A)·op(B) accumulated by a 4×2 register-blocked kernel. A transposed
// B is first copied slab by slab into row-major order so that the kernel
// always reads rows of B. Go does not vectorise, so this is the portable
// fallback and the noasm path, not the engine.

const genericKC = 256

// genericBufs holds the transposed-B slabs between calls (never emptied, so
// steady-state calls allocate nothing).
var genericBufs struct {
	sync.Mutex
	free [][]float32
}

func getGenericBuf(n int) []float32 {
	genericBufs.Lock()
	defer genericBufs.Unlock()
	for i, b := range genericBufs.free {
		if len(b) >= n {
			last := len(genericBufs.free) - 1
			genericBufs.free[i] = genericBufs.free[last]
			genericBufs.free = genericBufs.free[:last]
			return b
		}
	}
	return make([]float32, n)
}

func putGenericBuf(b []float32) {
	genericBufs.Lock()
	genericBufs.free = append(genericBufs.free, b)
	genericBufs.Unlock()
}

// sgemmGeneric runs Sgemm in pure Go (dimensions checked, m, n, k > 0).
func sgemmGeneric(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	scaleC(m, n, beta, c, ldc)
	var bt []float32
	if transB {
		bt = getGenericBuf(genericKC * n)
		defer putGenericBuf(bt)
	}
	// op(A)(i, p) = a[i·rs + p·ps].
	rs, ps := lda, 1
	if transA {
		rs, ps = 1, lda
	}
	for p0 := 0; p0 < k; p0 += genericKC {
		kc := min(genericKC, k-p0)
		var bs []float32
		var ldbs int
		if transB {
			for j := 0; j < n; j++ {
				for p, v := range b[j*ldb+p0 : j*ldb+p0+kc] {
					bt[p*n+j] = v
				}
			}
			bs, ldbs = bt, n
		} else {
			bs, ldbs = b[p0*ldb:], ldb
		}
		genericSlab(m, n, kc, alpha, a[p0*ps:], rs, ps, bs, ldbs, c, ldc)
	}
}

// genericSlab adds alpha·A·B to C for A(i, p) = a[i·rs + p·ps] (m×kc) and
// B(p, j) = b[p·ldb + j] (kc×n).
func genericSlab(m, n, kc int, alpha float32, a []float32, rs, ps int, b []float32, ldb int, c []float32, ldc int) {
	i := 0
	for ; i+4 <= m; i += 4 {
		j := 0
		// 4×2 blocks: eight accumulators and six operands fit the sixteen
		// SSE registers Go allocates from, so nothing spills.
		for ; j+2 <= n; j += 2 {
			var c00, c01, c10, c11, c20, c21, c30, c31 float32
			ai := i * rs
			for p := 0; p < kc; p++ {
				ap := ai + p*ps
				a0, a1, a2, a3 := a[ap], a[ap+rs], a[ap+2*rs], a[ap+3*rs]
				bp := b[p*ldb+j : p*ldb+j+2]
				b0, b1 := bp[0], bp[1]
				c00 += a0 * b0
				c01 += a0 * b1
				c10 += a1 * b0
				c11 += a1 * b1
				c20 += a2 * b0
				c21 += a2 * b1
				c30 += a3 * b0
				c31 += a3 * b1
			}
			c[i*ldc+j] += alpha * c00
			c[i*ldc+j+1] += alpha * c01
			c[(i+1)*ldc+j] += alpha * c10
			c[(i+1)*ldc+j+1] += alpha * c11
			c[(i+2)*ldc+j] += alpha * c20
			c[(i+2)*ldc+j+1] += alpha * c21
			c[(i+3)*ldc+j] += alpha * c30
			c[(i+3)*ldc+j+1] += alpha * c31
		}
		for ; j < n; j++ {
			for r := i; r < i+4; r++ {
				genericDot(r, j, kc, alpha, a, rs, ps, b, ldb, c, ldc)
			}
		}
	}
	for ; i < m; i++ {
		for j := 0; j < n; j++ {
			genericDot(i, j, kc, alpha, a, rs, ps, b, ldb, c, ldc)
		}
	}
}

// genericDot adds alpha·Σ_p A(i, p)·B(p, j) to C(i, j).
func genericDot(i, j, kc int, alpha float32, a []float32, rs, ps int, b []float32, ldb int, c []float32, ldc int) {
	var s float32
	for p := 0; p < kc; p++ {
		s += a[i*rs+p*ps] * b[p*ldb+j]
	}
	c[i*ldc+j] += alpha * s
}
