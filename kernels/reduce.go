package kernels

import "fmt"

// Row and column reductions of a row-major rows×cols matrix. Sums run in a
// fixed order (rows top to bottom, columns left to right) so that results are
// reproducible; callers that split rows across goroutines add the per-shard
// results in shard order.

func checkMatrix(op string, n, rows, cols, dst, wantDst int) error {
	if rows < 0 || cols < 0 {
		return fmt.Errorf("kernels.%s: negative shape %d×%d", op, rows, cols)
	}
	if n < rows*cols {
		return fmt.Errorf("kernels.%s: matrix has %d elements, %d×%d needs %d", op, n, rows, cols, rows*cols)
	}
	if dst < wantDst {
		return fmt.Errorf("kernels.%s: destination has %d elements, needs %d", op, dst, wantDst)
	}
	return nil
}

// AddColSums adds the column sums of x (rows×cols) to dst[0:cols].
func AddColSums(dst, x []float32, rows, cols int) error {
	if err := checkMatrix("AddColSums", len(x), rows, cols, len(dst), cols); err != nil {
		return err
	}
	d := dst[:cols]
	for i := 0; i < rows; i++ {
		for j, v := range x[i*cols : (i+1)*cols] {
			d[j] += v
		}
	}
	return nil
}

// AddColSums64 adds the column sums of x to dst[0:cols], accumulating in
// float64 (for statistics over many rows, such as BatchNorm means).
func AddColSums64(dst []float64, x []float32, rows, cols int) error {
	if err := checkMatrix("AddColSums64", len(x), rows, cols, len(dst), cols); err != nil {
		return err
	}
	d := dst[:cols]
	for i := 0; i < rows; i++ {
		for j, v := range x[i*cols : (i+1)*cols] {
			d[j] += float64(v)
		}
	}
	return nil
}

// AddColSquaredDeviations64 adds Σ_i (x[i,j] − mean[j])² to dst[j] in float64
// (the two-pass variance of BatchNorm).
func AddColSquaredDeviations64(dst []float64, x []float32, rows, cols int, mean []float64) error {
	if err := checkMatrix("AddColSquaredDeviations64", len(x), rows, cols, len(dst), cols); err != nil {
		return err
	}
	if len(mean) < cols {
		return fmt.Errorf("kernels.AddColSquaredDeviations64: mean has %d elements, needs %d", len(mean), cols)
	}
	d, mu := dst[:cols], mean[:cols]
	for i := 0; i < rows; i++ {
		for j, v := range x[i*cols : (i+1)*cols] {
			dev := float64(v) - mu[j]
			d[j] += dev * dev
		}
	}
	return nil
}

// RowSums writes the sum of each row of x into dst[0:rows].
func RowSums(dst, x []float32, rows, cols int) error {
	if err := checkMatrix("RowSums", len(x), rows, cols, len(dst), rows); err != nil {
		return err
	}
	for i := 0; i < rows; i++ {
		var s float32
		for _, v := range x[i*cols : (i+1)*cols] {
			s += v
		}
		dst[i] = s
	}
	return nil
}
