package kernels

// Sgemm computes C = alpha·op(A)·op(B) + beta·C, row-major, op(X) = Xᵀ when the
// corresponding trans flag is set. op(A) is m×k, op(B) is k×n, C is m×n with
// leading dimensions lda, ldb, ldc. beta == 0 overwrites C (NaNs in C ignored).
//
// This is the portable version; the kernels issue replaces its body with the
// dispatch to assembly. It is single-threaded: callers split work across
// goroutines at a coarser level (rows of the batch).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		ci := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(ci)
		} else if beta != 1 {
			for j := range ci {
				ci[j] *= beta
			}
		}
		for p := 0; p < k; p++ {
			var av float32
			if transA {
				av = a[p*lda+i]
			} else {
				av = a[i*lda+p]
			}
			av *= alpha
			if av == 0 {
				continue
			}
			if transB {
				for j := range ci {
					ci[j] += av * b[j*ldb+p]
				}
			} else {
				bp := b[p*ldb : p*ldb+n]
				for j, bv := range bp {
					ci[j] += av * bv
				}
			}
		}
	}
}
