package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// nnmfProblem returns L1-normalised non-negative rows x (row 1 all zero, as
// after a ReLU of a dead patch) and a row-stochastic W.
func nnmfProblem(rows, k, d int, rng *rand.Rand) (x, w []float32) {
	x = make([]float32, rows*d)
	for r := 0; r < rows; r++ {
		if r == 1 {
			continue
		}
		var s float32
		for j := 0; j < d; j++ {
			v := rng.Float32()
			if rng.IntN(4) == 0 {
				v = 0
			}
			x[r*d+j] = v
			s += v
		}
		for j := 0; j < d; j++ {
			x[r*d+j] /= s + 1e-19
		}
	}
	w = make([]float32, k*d)
	for kk := 0; kk < k; kk++ {
		var s float32
		for j := 0; j < d; j++ {
			w[kk*d+j] = rng.Float32()
			s += w[kk*d+j]
		}
		for j := 0; j < d; j++ {
			w[kk*d+j] /= s
		}
	}
	return x, w
}

func TestNNMFIterateMatchesRef(t *testing.T) {
	shapes := []struct{ rows, k, d int }{
		{1, 1, 1}, {3, 5, 12}, {9, 5, 12}, {7, 32, 75}, {5, 64, 800}, {6, 96, 1024}, {4, 10, 96},
		{5, 17, 33}, {4, 64, 80}, {6, 80, 100}, {3, 3, 16}, {2, 130, 7}, {5, 48, 400}, {4, 16, 240},
		// Whole and partial 8-row tiles, and the block widths of both
		// products: dp/16 = 1…7 and kp/16 = 1…6 vectors.
		{8, 32, 75}, {16, 64, 80}, {17, 32, 75}, {23, 96, 112}, {9, 48, 64}, {11, 80, 33}, {10, 20, 50},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	allPaths(t, func(t testing.TB, p CPUPath) {
		for _, sh := range shapes {
			for _, useEps := range []bool{false, true} {
				name := fmt.Sprintf("%s rows=%d k=%d d=%d eps=%v", p, sh.rows, sh.k, sh.d, useEps)
				x, w := nnmfProblem(sh.rows, sh.k, sh.d, rng)
				const iters, eps = 5, 0.3
				want := make([]float32, sh.rows*sh.k)
				for i := range want {
					want[i] = float32(1.0 / float64(sh.k))
				}
				// Guards past the end of every buffer: NaN after the
				// inputs (a read past the end would poison h), a sentinel
				// after the outputs (a write past the end would change it).
				const guard = 64
				nan := float32(math.NaN())
				got, gotAll := withGuard(want, guard, nan)
				NNMFIterateRef(x, sh.rows, sh.k, sh.d, iters, useEps, eps, w, want)
				x, _ = withGuard(x, guard, nan)
				packed, _ := withGuard(make([]float32, NNMFPackedLen(sh.k, sh.d)), guard, nan)
				NNMFPack(w, sh.k, sh.d, packed)
				scratch, scratchAll := withGuard(make([]float32, NNMFScratchLen(sh.k, sh.d)), guard, -7)
				NNMFIterate(x, sh.rows, sh.k, sh.d, iters, useEps, eps, packed, got, scratch)
				for i, v := range gotAll[len(got):] {
					if !math.IsNaN(float64(v)) {
						t.Fatalf("%s: h[%d] past the end written (%v)", name, len(got)+i, v)
					}
				}
				for i, v := range scratchAll[len(scratch):] {
					if v != -7 {
						t.Fatalf("%s: scratch[%d] past the end written (%v)", name, len(scratch)+i, v)
					}
				}
				for r := 0; r < sh.rows; r++ {
					var num, den float64
					for kk := 0; kk < sh.k; kk++ {
						e := float64(got[r*sh.k+kk]) - float64(want[r*sh.k+kk])
						num += e * e
						den += float64(want[r*sh.k+kk]) * float64(want[r*sh.k+kk])
					}
					tol := 2e-6
					if p == PathGeneric {
						tol = 0 // same operations in the same order as the twin
					}
					if testing.Verbose() && r == 0 && sh.k == 64 {
						t.Logf("%s: row 0 relative error %.3g", name, math.Sqrt(num/den))
					}
					if num > tol*tol*den || math.IsNaN(num) {
						t.Errorf("%s: row %d relative error %.3g > %g", name, r, math.Sqrt(num/den), tol)
					}
				}
			}
		}
	})
}

// withGuard returns a copy of s and its whole buffer, which continues with n
// copies of g. The copy has length and capacity len(s), so the code under test
// cannot reach the guard through it, only past it.
func withGuard(s []float32, n int, g float32) (cp, all []float32) {
	all = make([]float32, len(s)+n)
	copy(all, s)
	for i := len(s); i < len(all); i++ {
		all[i] = g
	}
	return all[:len(s):len(s)], all
}
