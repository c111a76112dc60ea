//go:build amd64 && !noasm && !purego

package kernels

import (
	"math/rand/v2"
	"testing"
)

func TestTransposeInto(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, sh := range [][4]int{{1, 1, 1, 1}, {8, 8, 8, 8}, {12, 384, 1024, 12}, {17, 9, 20, 19}, {32, 267, 800, 32}, {11, 3, 3, 16}, {7, 40, 41, 7}} {
		rows, cols, lds, ldd := sh[0], sh[1], sh[2], sh[3]
		src := randomSlice(rng, (rows-1)*lds+cols)
		dst := randomSlice(rng, (cols-1)*ldd+rows)
		want := append([]float32(nil), dst...)
		for r := 0; r < rows; r++ {
			for p := 0; p < cols; p++ {
				want[p*ldd+r] = src[r*lds+p]
			}
		}
		transposeInto(dst, ldd, src, lds, rows, cols)
		for i := range want {
			if dst[i] != want[i] {
				t.Fatalf("rows=%d cols=%d lds=%d ldd=%d: element %d = %g, want %g", rows, cols, lds, ldd, i, dst[i], want[i])
			}
		}
	}
}
