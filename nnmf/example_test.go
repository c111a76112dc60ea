package nnmf_test

import (
	"fmt"

	"github.com/deepnmf/deepnmf/nnmf"
)

// The NNMF layer alone: explain two non-negative rows by a dictionary of
// three atoms. Each row of h sums to 1 and weights the atoms that
// reconstruct it.
func Example() {
	const rows, d, k = 2, 4, 3
	layer, err := nnmf.New(nnmf.Config{In: d, Out: k, Iterations: 200, Method: nnmf.Approx})
	if err != nil {
		panic(err)
	}
	// The raw weight V; the layer works with its row-normalised |V|.
	v := []float32{
		1, 1, 0, 0, // atom 0: the first half
		0, 0, 1, 1, // atom 1: the second half
		1, 0, 0, 1, // atom 2: the ends
	}
	w := make([]float32, k*d)
	nnmf.NormalizeWeights(v, w, k, d)
	x := []float32{
		0.5, 0.5, 0, 0, // exactly atom 0
		0.25, 0.25, 0.25, 0.25, // atoms 0 and 1 in equal parts
	}
	h := make([]float32, rows*k)
	ws := layer.NewWorkspace(rows)
	if err := layer.Forward(ws, x, rows, w, h, false); err != nil {
		panic(err)
	}
	for r := range rows {
		fmt.Printf("row %d: h = [%.2f %.2f %.2f]\n", r, h[r*k], h[r*k+1], h[r*k+2])
	}
	// Output:
	// row 0: h = [1.00 0.00 0.00]
	// row 1: h = [0.50 0.50 0.00]
}
