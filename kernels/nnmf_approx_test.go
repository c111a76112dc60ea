package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// approxRef is the oracle of NNMFApprox, written from the formulas of spec
// §1.4 in float64: gradX = r⊙((h⊙g)·W), gradW = (h⊙g)ᵀF − hᵀ(F⊙gradX) with
// r = 1/(h·W + 1e-20), F = x⊙r. It also returns, per gradW element, the sum
// of the absolute values of the terms, the scale its rounding error lives on
// (the two products cancel to a small difference).
func approxRef(x []float32, rows, k, d int, w, h, g []float32) (gradX, gradW, scale []float64) {
	gradX = make([]float64, rows*d)
	gradW = make([]float64, k*d)
	scale = make([]float64, k*d)
	for r := 0; r < rows; r++ {
		for j := 0; j < d; j++ {
			var rv, pv float64
			for kk := 0; kk < k; kk++ {
				hv := float64(h[r*k+kk])
				rv += hv * float64(w[kk*d+j])
				pv += hv * float64(g[r*k+kk]) * float64(w[kk*d+j])
			}
			inv := 1 / (rv + 1e-20)
			f := float64(x[r*d+j]) * inv
			gx := inv * pv
			gradX[r*d+j] = gx
			for kk := 0; kk < k; kk++ {
				hv := float64(h[r*k+kk])
				a := hv * float64(g[r*k+kk]) * f
				b := hv * f * gx
				gradW[kk*d+j] += a - b
				scale[kk*d+j] += math.Abs(a) + math.Abs(b)
			}
		}
	}
	return gradX, gradW, scale
}

func TestNNMFApproxMatchesRef(t *testing.T) {
	shapes := []struct{ rows, k, d int }{
		{1, 1, 1}, {3, 5, 12}, {9, 5, 12}, {7, 32, 75}, {5, 64, 800}, {6, 96, 1024}, {4, 10, 96},
		{5, 17, 33}, {2, 130, 7},
		// Whole and partial 8-row tiles; dp/16 = 1…7 vectors (the 3-, 2- and
		// 1-vector blocks, 4 as 2 + 2) and kp/16 = 1…6 (k-groups of 8).
		{8, 32, 75}, {16, 64, 80}, {17, 32, 75}, {23, 96, 112}, {9, 48, 64}, {11, 80, 33}, {10, 20, 50},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	allPaths(t, func(t testing.TB, p CPUPath) {
		for _, sh := range shapes {
			name := fmt.Sprintf("%s rows=%d k=%d d=%d", p, sh.rows, sh.k, sh.d)
			x, w := nnmfProblem(sh.rows, sh.k, sh.d, rng)
			h := make([]float32, sh.rows*sh.k)
			for i := range h {
				h[i] = rng.Float32() / float32(sh.k)
			}
			g := make([]float32, sh.rows*sh.k)
			for i := range g {
				g[i] = 2*rng.Float32() - 1
			}
			wantX, wantW, scale := approxRef(x, sh.rows, sh.k, sh.d, w, h, g)

			// NaN past the end of every input, a sentinel past every output.
			const guard = 64
			nan := float32(math.NaN())
			xg, _ := withGuard(x, guard, nan)
			hg, _ := withGuard(h, guard, nan)
			gg, _ := withGuard(g, guard, nan)
			packed, _ := withGuard(make([]float32, NNMFPackedLen(sh.k, sh.d)), guard, nan)
			NNMFPackW(w, sh.k, sh.d, packed)
			gradX, gradXAll := withGuard(make([]float32, sh.rows*sh.d), guard, -5)
			acc, accAll := withGuard(make([]float32, NNMFApproxAccLen(sh.k, sh.d)), guard, -6)
			scratch, scratchAll := withGuard(make([]float32, NNMFApproxScratchLen(sh.k, sh.d)), guard, -7)
			// gradW starts non-zero: the flush adds.
			gradW, gradWAll := withGuard(make([]float32, sh.k*sh.d), guard, -8)
			for i := range gradW {
				gradW[i] = 0.25
			}
			// Two calls over the rows split unevenly: the accumulator sums across
			// calls, as over the backward's row blocks.
			split := sh.rows / 3
			NNMFApprox(xg, split, sh.k, sh.d, packed, hg, gg, gradX, acc, scratch)
			NNMFApprox(xg[split*sh.d:], sh.rows-split, sh.k, sh.d, packed, hg[split*sh.k:], gg[split*sh.k:], gradX[split*sh.d:], acc, scratch)
			NNMFApproxFlush(acc, sh.k, sh.d, gradW)
			for _, b := range []struct {
				what  string
				all   []float32
				n     int
				guard float32
			}{{"gradX", gradXAll, len(gradX), -5}, {"acc", accAll, len(acc), -6}, {"scratch", scratchAll, len(scratch), -7}, {"gradW", gradWAll, len(gradW), -8}} {
				for i, v := range b.all[b.n:] {
					if v != b.guard {
						t.Fatalf("%s: %s[%d] past the end written (%v)", name, b.what, b.n+i, v)
					}
				}
			}
			for i, v := range acc {
				if v != 0 {
					t.Fatalf("%s: accumulator[%d] = %v after the flush, want 0", name, i, v)
				}
			}
			const tol = 2e-5
			for r := 0; r < sh.rows; r++ {
				var num, den float64
				for j := 0; j < sh.d; j++ {
					e := float64(gradX[r*sh.d+j]) - wantX[r*sh.d+j]
					num += e * e
					den += wantX[r*sh.d+j] * wantX[r*sh.d+j]
				}
				if num > tol*tol*den || math.IsNaN(num) {
					t.Errorf("%s: gradX row %d relative error %.3g > %g", name, r, math.Sqrt(num/den), tol)
				}
			}
			for i, v := range gradW {
				e := math.Abs(float64(v) - 0.25 - wantW[i])
				if e > tol*scale[i]+1e-7 || math.IsNaN(float64(v)) {
					t.Errorf("%s: gradW[%d] = %v, want 0.25 + %v (term scale %.3g)", name, i, v, wantW[i], scale[i])
					break
				}
			}
		}
	})
}

// TestNNMFApproxTileTwin runs the assembly tile (where there is one) and its
// Go twin on the same tile: they perform the same operations in the same
// order and differ only where the assembly fuses a product into an FMA.
func TestNNMFApproxTileTwin(t *testing.T) {
	asm := nnmfApproxTileFunc()
	if asm == nil {
		t.Skipf("no fused tile kernel on path %s", ActivePath())
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, sh := range []struct{ k, d int }{{32, 75}, {64, 800}, {10, 96}, {17, 33}} {
		kp, dp := NNMFPadded(sh.k, sh.d)
		x, w := nnmfProblem(NNMFTileRows, sh.k, sh.d, rng)
		packed := make([]float32, NNMFPackedLen(sh.k, sh.d))
		NNMFPackW(w, sh.k, sh.d, packed)
		at := make([]float32, 2*NNMFTileRows*kp)
		for i := 0; i < NNMFTileRows; i++ {
			for kk := 0; kk < sh.k; kk++ {
				h := rng.Float32() / float32(sh.k)
				at[(NNMFTileRows+i)*kp+kk] = h
				at[i*kp+kk] = h * (2*rng.Float32() - 1)
			}
		}
		mask := 0xffff
		if t := sh.d % 16; t != 0 {
			mask = 1<<t - 1
		}
		run := func(tile nnmfApproxTileFn) (gx, acc []float32) {
			bt := make([]float32, 2*NNMFTileRows*dp)
			gx = make([]float32, NNMFTileRows*sh.d)
			acc = make([]float32, kp*dp)
			tile(x, gx, at, bt, packed, acc, sh.k, kp, sh.d, dp, mask)
			return gx, acc
		}
		gx1, acc1 := run(asm)
		gx2, acc2 := run(nnmfApproxTileGo)
		for _, c := range []struct {
			what string
			a, b []float32
		}{{"gradX", gx1, gx2}, {"gradW", acc1, acc2}} {
			var num, den float64
			for i := range c.a {
				e := float64(c.a[i]) - float64(c.b[i])
				num += e * e
				den += float64(c.b[i]) * float64(c.b[i])
			}
			if num > 1e-10*den || math.IsNaN(num) {
				t.Errorf("k=%d d=%d: %s of the assembly and the Go twin differ by %.3g (relative)", sh.k, sh.d, c.what, math.Sqrt(num/den))
			}
		}
	}
}
