//go:build amd64 && !noasm && !purego

package kernels

import "unsafe"

//go:generate sh -c "cd _asmgen/nnmf && go run . -out ../../nnmf_amd64.s -stubs ../../nnmf_stubs_amd64.go -pkg kernels"

func nnmfTileFunc() nnmfTileFn {
	switch ActivePath() {
	case PathAVX512:
		return nnmfTileAVX512Go
	case PathAVX2:
		return nnmfTileAVX2Go
	}
	return nnmfTileGo
}

// The assembly reads the slices through raw pointers; NNMFIterate has checked
// their lengths (tiles of NNMFTileRows × dp and × kp, W k × dp, Wᵀ d × kp).

func nnmfTileAVX512Go(xt, qt, ht, wp, wt []float32, k, d, kp, dp, iters int, useEps bool, eps float32) {
	nnmfTileAVX512(unsafe.SliceData(xt), unsafe.SliceData(qt), unsafe.SliceData(ht), unsafe.SliceData(wp), unsafe.SliceData(wt), k, d, kp, dp, iters, b2i(useEps), eps)
}

// nnmfTileAVX2Go runs the 4-row AVX2 kernel on each half of the tile: rows are
// independent, so the halves may run one after the other.
func nnmfTileAVX2Go(xt, qt, ht, wp, wt []float32, k, d, kp, dp, iters int, useEps bool, eps float32) {
	const half = NNMFTileRows / 2
	for r := 0; r < NNMFTileRows; r += half {
		nnmfTileAVX2(&xt[r*dp], &qt[r*dp], &ht[r*kp], unsafe.SliceData(wp), unsafe.SliceData(wt), k, d, kp, dp, iters, b2i(useEps), eps)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nnmfTileBF16Asm runs the AVX512_BF16 tile kernel; NNMFIterateBF16 has
// checked the lengths (and BF16Active).
func nnmfTileBF16Asm(xt, ht []float32, hb, qb, w2, wt2 []uint32, k, d, kp, dp, iters int, useEps bool, eps float32) {
	nnmfTileBF16AVX512(unsafe.SliceData(xt), unsafe.SliceData(ht), unsafe.SliceData(hb), unsafe.SliceData(qb), unsafe.SliceData(w2), unsafe.SliceData(wt2), k, d, kp, dp, iters, b2i(useEps), eps)
}

// nnmfApproxTileFunc is the fused backward's tile kernel on the active path,
// nil where there is none (AVX2 has too few registers for its blocks).
func nnmfApproxTileFunc() nnmfApproxTileFn {
	if ActivePath() == PathAVX512 {
		return nnmfApproxTileAVX512Go
	}
	return nil
}

func nnmfApproxTileAVX512Go(x, gx, at, bt, wp, acc []float32, k, kp, d, dp, mask int) {
	nnmfApproxTileAVX512(unsafe.SliceData(x), unsafe.SliceData(gx), unsafe.SliceData(at), unsafe.SliceData(bt), unsafe.SliceData(wp), unsafe.SliceData(acc), k, kp, d, dp, mask)
}
