package kernels

// sgemmGeneric is the pure-Go path of Sgemm (dimensions already checked, m, n,
// k > 0). It first applies beta to C, then accumulates alpha·op(A)·op(B) four
// rows of C at a time so that each loaded B value serves four FMAs.
func sgemmGeneric(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	scaleC(m, n, beta, c, ldc)
	aAt := func(i, p int) float32 {
		if transA {
			return alpha * a[p*lda+i]
		}
		return alpha * a[i*lda+p]
	}
	if transB {
		// B row j is column j of op(B): dot products along k.
		for i := 0; i < m; i++ {
			ci := c[i*ldc : i*ldc+n]
			for j := range ci {
				bj := b[j*ldb : j*ldb+k]
				var s0, s1, s2, s3 float32
				p := 0
				for ; p+4 <= k; p += 4 {
					s0 += aAt(i, p) * bj[p]
					s1 += aAt(i, p+1) * bj[p+1]
					s2 += aAt(i, p+2) * bj[p+2]
					s3 += aAt(i, p+3) * bj[p+3]
				}
				for ; p < k; p++ {
					s0 += aAt(i, p) * bj[p]
				}
				ci[j] += (s0 + s1) + (s2 + s3)
			}
		}
		return
	}
	i := 0
	for ; i+4 <= m; i += 4 {
		c0 := c[i*ldc : i*ldc+n]
		c1 := c[(i+1)*ldc : (i+1)*ldc+n]
		c2 := c[(i+2)*ldc : (i+2)*ldc+n]
		c3 := c[(i+3)*ldc : (i+3)*ldc+n]
		for p := 0; p < k; p++ {
			a0, a1, a2, a3 := aAt(i, p), aAt(i+1, p), aAt(i+2, p), aAt(i+3, p)
			bp := b[p*ldb : p*ldb+n]
			c0, c1, c2, c3 := c0[:len(bp)], c1[:len(bp)], c2[:len(bp)], c3[:len(bp)]
			for j, bv := range bp {
				c0[j] += a0 * bv
				c1[j] += a1 * bv
				c2[j] += a2 * bv
				c3[j] += a3 * bv
			}
		}
	}
	for ; i < m; i++ {
		ci := c[i*ldc : i*ldc+n]
		for p := 0; p < k; p++ {
			av := aAt(i, p)
			bp := b[p*ldb : p*ldb+n]
			ci := ci[:len(bp)]
			for j, bv := range bp {
				ci[j] += av * bv
			}
		}
	}
}
