package kernels

// The fused approximate NNMF backward (spec §1.4): for each row
//
//	r = 1/(h·W + 1e-20), F = x⊙r, gradX = r ⊙ ((h⊙g)·W),
//	gradW += (h⊙g)ᵀF − hᵀ(F⊙gradX),
//
// computed tile by tile (NNMFTileRows rows) so that R, hg·W, F and F⊙gradX
// never leave the cache, and W is read once per tile for both products. The
// weight gradient collects in a padded Kp × Dp accumulator (NNMFApproxAccLen)
// that NNMFApproxFlush adds into the caller's K × D gradient.

// NNMFApproxFused reports whether NNMFApprox runs as one assembly kernel per
// tile on the active path. Where it does not, the Go tile is far slower than
// three GEMMs, and a caller should use the GEMM formulation.
func NNMFApproxFused() bool { return nnmfApproxTileFunc() != nil }

// NNMFApproxScratchLen is the length of the scratch buffer NNMFApprox needs.
func NNMFApproxScratchLen(k, d int) int {
	kp, dp := NNMFPadded(k, d)
	return NNMFTileRows * (2*kp + 2*dp + 2*d)
}

// NNMFApproxAccLen is the length of NNMFApprox's weight-gradient accumulator.
func NNMFApproxAccLen(k, d int) int {
	kp, dp := NNMFPadded(k, d)
	return kp * dp
}

// NNMFPackW writes only the W part of the NNMFPack layout (K × Dp, rows
// padded with zeros), which is all NNMFApprox reads.
func NNMFPackW(w []float32, k, d int, packed []float32) {
	_, dp := NNMFPadded(k, d)
	wp := packed[:k*dp]
	for kk := 0; kk < k; kk++ {
		copy(wp[kk*dp:kk*dp+d], w[kk*d:kk*d+d])
		clear(wp[kk*dp+d : kk*dp+dp])
	}
}

// NNMFApprox runs the approximate backward on rows of x (rows × d) with the
// packed W (NNMFPack or NNMFPackW of the normalised weight), the layer's
// output h and its gradient g (rows × k): it overwrites gradX (rows × d) and
// adds ∂L/∂W into acc (NNMFApproxAccLen, padded) in row order. scratch has
// length NNMFApproxScratchLen.
func NNMFApprox(x []float32, rows, k, d int, packed, h, g, gradX, acc, scratch []float32) {
	if rows <= 0 {
		return
	}
	kp, dp := NNMFPadded(k, d)
	_ = x[rows*d-1]
	_ = h[rows*k-1]
	_ = g[rows*k-1]
	_ = gradX[rows*d-1]
	_ = acc[kp*dp-1]
	wp := packed[:k*dp]
	const n8 = NNMFTileRows
	at := scratch[:2*n8*kp]
	bt := scratch[2*n8*kp : 2*n8*kp+2*n8*dp]
	// The last, partial tile goes through zero-filled copies (xs, gs), so
	// that the kernel never reads or writes past the caller's rows.
	xs := scratch[2*n8*kp+2*n8*dp : 2*n8*kp+2*n8*dp+n8*d]
	gs := scratch[2*n8*kp+2*n8*dp+n8*d : 2*n8*kp+2*n8*dp+2*n8*d]
	tile := nnmfApproxTileFunc()
	if tile == nil {
		tile = nnmfApproxTileGo
	}
	mask := 0xffff
	if t := d % 16; t != 0 {
		mask = 1<<t - 1
	}
	clear(at)
	for r0 := 0; r0 < rows; r0 += n8 {
		n := min(n8, rows-r0)
		for i := 0; i < n8; i++ {
			hgRow, hRow := at[i*kp:i*kp+k], at[(n8+i)*kp:(n8+i)*kp+k]
			if i < n {
				hr, gr := h[(r0+i)*k:(r0+i+1)*k], g[(r0+i)*k:(r0+i+1)*k]
				copy(hRow, hr)
				for j, hv := range hr {
					hgRow[j] = hv * gr[j]
				}
			} else {
				// Zero rows give R = 0, r = 1e20, and F, gradX and their
				// product exactly 0: they add nothing to the accumulator.
				clear(hgRow)
				clear(hRow)
			}
		}
		if n == n8 {
			tile(x[r0*d:(r0+n8)*d], gradX[r0*d:(r0+n8)*d], at, bt, wp, acc, k, kp, d, dp, mask)
			continue
		}
		clear(xs)
		copy(xs, x[r0*d:(r0+n)*d])
		tile(xs, gs, at, bt, wp, acc, k, kp, d, dp, mask)
		copy(gradX[r0*d:(r0+n)*d], gs)
	}
}

// NNMFApproxFlush adds the padded accumulator acc into gradW (k × d) and
// clears it for the next call.
func NNMFApproxFlush(acc []float32, k, d int, gradW []float32) {
	_, dp := NNMFPadded(k, d)
	for kk := 0; kk < k; kk++ {
		a, g := acc[kk*dp:kk*dp+d], gradW[kk*d:kk*d+d]
		for j, v := range a {
			g[j] += v
		}
	}
	clear(acc[:NNMFApproxAccLen(k, d)])
}

// nnmfApproxTileFn runs the fused backward on one tile of NNMFTileRows rows;
// see _asmgen/nnmf/approx.go for the layout of x, gx, at, bt and acc.
type nnmfApproxTileFn func(x, gx, at, bt, wp, acc []float32, k, kp, d, dp, mask int)

// nnmfApproxTileGo is the pure-Go twin of the tile kernel: the same
// operations in the same order, with the products rounded separately where
// the assembly fuses them into FMAs (so the two agree to rounding).
func nnmfApproxTileGo(x, gx, at, bt, wp, acc []float32, k, kp, d, dp, _ int) {
	const n8 = NNMFTileRows
	for i := 0; i < n8; i++ {
		hg, h := at[i*kp:i*kp+k], at[(n8+i)*kp:(n8+i)*kp+k]
		for j := 0; j < dp; j++ {
			var rv, pv float32
			for kk := 0; kk < k; kk++ {
				rv += h[kk] * wp[kk*dp+j]
				pv += hg[kk] * wp[kk*dp+j]
			}
			var xv float32
			if j < d {
				xv = x[i*d+j]
			}
			r := 1 / (rv + nnmfReconEps)
			f := xv * r
			gxv := r * pv
			if j < d {
				gx[i*d+j] = gxv
			}
			bt[i*dp+j] = f
			bt[(n8+i)*dp+j] = f * gxv
		}
	}
	for kk := 0; kk < kp; kk++ {
		a := acc[kk*dp : kk*dp+dp]
		for i := 0; i < n8; i++ {
			s, f := at[i*kp+kk], bt[i*dp:i*dp+dp]
			for j := range a {
				a[j] += s * f[j]
			}
		}
		for i := 0; i < n8; i++ {
			s, fg := at[(n8+i)*kp+kk], bt[(n8+i)*dp:(n8+i)*dp+dp]
			for j := range a {
				a[j] -= s * fg[j]
			}
		}
	}
}
