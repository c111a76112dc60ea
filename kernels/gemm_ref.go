package kernels

// SgemmRef is the naive twin of Sgemm and the oracle of its tests:
// C = alpha·op(A)·op(B) + beta·C with row-major storage, op(X) = Xᵀ when the
// trans flag is set. op(A) is m×k, op(B) is k×n, C is m×n. Accumulates in float64
// so that it is a strictly better answer than any float32 kernel.
func SgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			ci := &c[i*ldc+j]
			if beta == 0 {
				*ci = alpha * float32(s)
			} else {
				*ci = alpha*float32(s) + beta**ci
			}
		}
	}
}
