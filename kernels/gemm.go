package kernels

import "fmt"

//go:generate sh -c "cd _asmgen/gemm && go run . -out ../../gemm_asm_amd64.s -stubs ../../gemm_asm_stubs_amd64.go -pkg kernels -tables ../../gemm_asm_tables_amd64.go"

// Sgemm computes C = alpha·op(A)·op(B) + beta·C, row-major, op(X) = Xᵀ when the
// corresponding trans flag is set. op(A) is m×k, op(B) is k×n, C is m×n with
// leading dimensions lda, ldb, ldc. beta == 0 overwrites C: NaNs in the old C
// are ignored, while NaNs and infinities in A and B propagate as in any product
// (no entry of A or B is skipped, even when it is zero).
//
// It runs on the path ActivePath reports (AVX-512, AVX2+FMA or pure Go). It is
// single-threaded and safe to call from several goroutines at once: callers
// split work across goroutines at a coarser level (rows of the batch). It does
// not allocate in steady state (packing buffers are kept on a free list).
//
// Dimensions and slice lengths inconsistent with each other are a programming
// error, not bad data, and panic with a message naming the operand.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if err := checkSgemm(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc); err != nil {
		panic(err)
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	sgemmDispatch(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// checkSgemm verifies that every operand covers the elements Sgemm will touch,
// which the assembly paths rely on instead of bounds checks.
func checkSgemm(transA, transB bool, m, n, k, lenA, lda, lenB, ldb, lenC, ldc int) error {
	if m < 0 || n < 0 || k < 0 {
		return fmt.Errorf("kernels.Sgemm: negative dimension m=%d n=%d k=%d", m, n, k)
	}
	check := func(name string, rows, cols, ld, length int) error {
		if ld < max(cols, 1) {
			return fmt.Errorf("kernels.Sgemm: leading dimension of %s is %d, below its %d columns", name, ld, cols)
		}
		if rows > 0 && cols > 0 && length < (rows-1)*ld+cols {
			return fmt.Errorf("kernels.Sgemm: %s has %d elements, needs %d for %d×%d with stride %d", name, length, (rows-1)*ld+cols, rows, cols, ld)
		}
		return nil
	}
	rowsA, colsA := m, k
	if transA {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if transB {
		rowsB, colsB = n, k
	}
	if err := check("A", rowsA, colsA, lda, lenA); err != nil {
		return err
	}
	if err := check("B", rowsB, colsB, ldb, lenB); err != nil {
		return err
	}
	return check("C", m, n, ldc, lenC)
}

// scaleC sets C = beta·C, with beta == 0 clearing C whatever it held.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		ci := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(ci)
		case 1:
		default:
			for j := range ci {
				ci[j] *= beta
			}
		}
	}
}
