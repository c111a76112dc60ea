package kernels

import "fmt"

// Plain element-wise helpers for the layers. They are written as simple loops
// on purpose: none of them is a measured hot spot next to GEMM and the NNMF
// iterations. dst may alias x where both are inputs of the same length.

func sameLen(op string, n int, lens ...int) error {
	for _, l := range lens {
		if l != n {
			return fmt.Errorf("kernels.%s: slice lengths differ (%d vs %d)", op, l, n)
		}
	}
	return nil
}

// Axpy adds alpha·x to y.
func Axpy(alpha float32, x, y []float32) error {
	if err := sameLen("Axpy", len(y), len(x)); err != nil {
		return err
	}
	for i, v := range x {
		y[i] += alpha * v
	}
	return nil
}

// Scale multiplies x by alpha in place.
func Scale(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

// ReLU writes max(x, 0) into dst. A NaN stays NaN, as in torch.relu, and
// −0 becomes +0.
func ReLU(dst, x []float32) error {
	if err := sameLen("ReLU", len(dst), len(x)); err != nil {
		return err
	}
	if rowKernels() && len(x) >= 64 {
		head := len(x) &^ 63
		reluAVX512(&dst[0], &x[0], head)
		dst, x = dst[head:], x[head:]
	}
	for i, v := range x {
		if v < 0 {
			v = 0
		}
		dst[i] = v + 0 // −0 + 0 is +0
	}
	return nil
}

// ReLUBackward writes the gradient of ReLU: dx = dy where x > 0, else 0
// (PyTorch's threshold_backward; x may be the ReLU's input or its output).
func ReLUBackward(dx, dy, x []float32) error {
	if err := sameLen("ReLUBackward", len(dx), len(dy), len(x)); err != nil {
		return err
	}
	for i, v := range x {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
	return nil
}

// AddRowVector adds v (length cols) to every row of x (rows×cols), as a bias
// add over channels-last rows.
func AddRowVector(x []float32, rows, cols int, v []float32) error {
	if err := checkMatrix("AddRowVector", len(x), rows, cols, len(v), cols); err != nil {
		return err
	}
	v = v[:cols]
	for i := 0; i < rows; i++ {
		row := x[i*cols : (i+1)*cols]
		for j, b := range v {
			row[j] += b
		}
	}
	return nil
}
