package kernels

// The fused NNMF forward (spec §1.3). A tile of NNMFTileRows rows goes through
// all requested iterations while its x, h and q = x/R stay in L1; W stays in
// L1 (small layers) or L2 (D = 800) and is read once per tile and iteration for
// all rows of the tile. Both products therefore load each W element once per
// NNMFTileRows rows of FMAs, which is what keeps the FMA units fed.
//
// Layout of the packed weights (NNMFPack): W as K × Dp (rows padded with zeros
// to Dp = D rounded up to 16) for R = h·W with lanes over d, followed by Wᵀ as
// D × Kp (Kp = K rounded up to 16) for u = q·Wᵀ with lanes over k. The zero
// padding makes the padded lanes of R, q, u and h exactly zero, so no kernel
// needs a masked tail.

// NNMFTileRows is the number of rows every tile kernel works on at once: 8
// rows × 3 vectors of accumulators fill the 32 AVX-512 registers, and each
// matrix vector loaded feeds 8 rows of FMAs. (The AVX2 kernel, with 16
// registers, takes the tile as two halves of 4 rows.)
const NNMFTileRows = 8

// Float32 guards of the official code (spec §1.3, §6 item 25).
const (
	nnmfReconEps = ReconGuard // R ← h·W + 1e-20
	nnmfNormEps  = NormGuard  // h ← h / (Σh + 1e-19)
)

// NNMFPadded returns the padded sizes Kp and Dp of the packed layout.
func NNMFPadded(k, d int) (kp, dp int) { return (k + 15) &^ 15, (d + 15) &^ 15 }

// NNMFPackedLen is the length of the buffer NNMFPack fills.
func NNMFPackedLen(k, d int) int {
	kp, dp := NNMFPadded(k, d)
	return k*dp + d*kp
}

// NNMFScratchLen is the length of the scratch buffer NNMFIterate needs.
func NNMFScratchLen(k, d int) int {
	kp, dp := NNMFPadded(k, d)
	return NNMFTileRows * (2*dp + kp)
}

// NNMFPack writes the packed layout of the normalised weight w (K×D, row-major)
// into packed (length NNMFPackedLen).
func NNMFPack(w []float32, k, d int, packed []float32) {
	kp, dp := NNMFPadded(k, d)
	wp := packed[:k*dp]
	wt := packed[k*dp : k*dp+d*kp]
	clear(wp)
	clear(wt)
	for kk := 0; kk < k; kk++ {
		copy(wp[kk*dp:kk*dp+d], w[kk*d:kk*d+d])
		for j := 0; j < d; j++ {
			wt[j*kp+kk] = w[kk*d+j]
		}
	}
}

// NNMFIterate runs iters multiplicative updates (spec §1.3) on every row of x
// (rows × d, row-major) with the packed weights, updating h (rows × k) in place:
// h must hold the starting iterate (h₀ = float32(1/K) for a forward). The
// epsilon form h ← h·(1 + eps·u) is used when useEps. scratch has length
// NNMFScratchLen. Rows are independent, so the result for a row does not
// depend on which other rows share the call.
func NNMFIterate(x []float32, rows, k, d, iters int, useEps bool, eps float32, packed, h, scratch []float32) {
	if rows <= 0 || iters <= 0 {
		return
	}
	kp, dp := NNMFPadded(k, d)
	_ = x[rows*d-1]
	_ = h[rows*k-1]
	wp := packed[:k*dp]
	wt := packed[k*dp : k*dp+d*kp]
	xt := scratch[:NNMFTileRows*dp]
	qt := scratch[NNMFTileRows*dp : 2*NNMFTileRows*dp]
	ht := scratch[2*NNMFTileRows*dp : 2*NNMFTileRows*dp+NNMFTileRows*kp]
	tile := nnmfTileFunc()
	forEachTile(x, h, rows, k, d, kp, dp, xt, ht, func() {
		tile(xt, qt, ht, wp, wt, k, d, kp, dp, iters, useEps, eps)
	})
}

// forEachTile walks rows of x (rows × d) and h (rows × k) in tiles of
// NNMFTileRows: it copies each tile into the padded xt (× dp) and ht (× kp),
// calls run, and copies the updated h back. Padding lanes and the rows past
// the end of a partial tile are zero.
func forEachTile(x, h []float32, rows, k, d, kp, dp int, xt, ht []float32, run func()) {
	clear(xt)
	clear(ht)
	for r0 := 0; r0 < rows; r0 += NNMFTileRows {
		n := min(NNMFTileRows, rows-r0)
		for i := 0; i < NNMFTileRows; i++ {
			if i < n {
				copy(xt[i*dp:i*dp+d], x[(r0+i)*d:(r0+i+1)*d])
				copy(ht[i*kp:i*kp+k], h[(r0+i)*k:(r0+i+1)*k])
			} else {
				// A zero row stays exactly zero (spec §1.3 note), so the
				// padding rows of a partial tile cost time but no NaNs.
				clear(xt[i*dp : i*dp+d])
				clear(ht[i*kp : i*kp+k])
			}
		}
		run()
		for i := 0; i < n; i++ {
			copy(h[(r0+i)*k:(r0+i+1)*k], ht[i*kp:i*kp+k])
		}
	}
}

// nnmfTileFn runs iters updates on one tile: xt and qt are NNMFTileRows × dp,
// ht is NNMFTileRows × kp (padding lanes zero), wp is k × dp, wt is d × kp.
type nnmfTileFn func(xt, qt, ht, wp, wt []float32, k, d, kp, dp, iters int, useEps bool, eps float32)

// nnmfTileGo is the pure-Go tile kernel. It performs the same operations in
// the same order as NNMFIterateRef, so the two agree bit for bit.
func nnmfTileGo(xt, qt, ht, wp, wt []float32, k, d, kp, dp, iters int, useEps bool, eps float32) {
	for it := 0; it < iters; it++ {
		for i := 0; i < NNMFTileRows; i++ {
			nnmfStepGo(xt[i*dp:i*dp+d], qt[i*dp:i*dp+d], ht[i*kp:i*kp+k], wp, k, d, dp, useEps, eps)
		}
	}
}

// nnmfStepGo is one update of one row; q doubles as the R buffer. The sums
// accumulate in float64 (spec §1.3 allows it): a D = 800 dot product summed
// sequentially in float32 loses a factor ten against the official blocked
// float32 matmul and eats most of the golden tolerance.
func nnmfStepGo(x, q, h, wp []float32, k, d, ldw int, useEps bool, eps float32) {
	for j := range q {
		var s float64
		for kk := 0; kk < k; kk++ {
			s += float64(h[kk]) * float64(wp[kk*ldw+j])
		}
		q[j] = float32(s)
	}
	for j := range q {
		q[j] = x[j] / (q[j] + nnmfReconEps)
	}
	for kk := 0; kk < k; kk++ {
		wr := wp[kk*ldw : kk*ldw+d]
		var u float64
		for j, wv := range wr {
			u += float64(wv) * float64(q[j])
		}
		if useEps {
			h[kk] *= 1 + eps*float32(u)
		} else {
			h[kk] *= float32(u)
		}
	}
	var s float64
	for _, v := range h {
		s += float64(v)
	}
	sum := float32(s) + nnmfNormEps
	for kk := range h {
		h[kk] /= sum
	}
}

// NNMFIterateRef is the naive twin of NNMFIterate and its test oracle: a plain
// per-row loop over the unpacked normalised weight w (K×D) in the order of
// spec §1.3, with the sums accumulated in float64 and rounded where the spec
// rounds (so it is a strictly better answer than a float32 kernel).
func NNMFIterateRef(x []float32, rows, k, d, iters int, useEps bool, eps float32, w, h []float32) {
	r := make([]float32, d)
	u := make([]float32, k)
	for row := 0; row < rows; row++ {
		xr := x[row*d : row*d+d]
		hr := h[row*k : row*k+k]
		for it := 0; it < iters; it++ {
			for j := 0; j < d; j++ {
				var s float64
				for kk := 0; kk < k; kk++ {
					s += float64(hr[kk]) * float64(w[kk*d+j])
				}
				r[j] = float32(s)
			}
			for j := range r {
				r[j] += nnmfReconEps
			}
			for j := range r {
				r[j] = xr[j] / r[j]
			}
			for kk := 0; kk < k; kk++ {
				var s float64
				for j := 0; j < d; j++ {
					s += float64(w[kk*d+j]) * float64(r[j])
				}
				u[kk] = float32(s)
			}
			for kk := range hr {
				if useEps {
					hr[kk] *= 1 + eps*u[kk]
				} else {
					hr[kk] *= u[kk]
				}
			}
			var s float64
			for _, v := range hr {
				s += float64(v)
			}
			sum := float32(s) + nnmfNormEps
			for kk := range hr {
				hr[kk] /= sum
			}
		}
	}
}
