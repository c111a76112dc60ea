//go:build !amd64 || noasm || purego

package kernels

func nnmfTileFunc() nnmfTileFn { return nnmfTileGo }

func nnmfApproxTileFunc() nnmfApproxTileFn { return nil }

// nnmfTileBF16Asm is never reached without the assembly (BF16Active is
// false); it is the twin so that the dispatch compiles everywhere.
func nnmfTileBF16Asm(xt, ht []float32, hb, qb, w2, wt2 []uint32, k, d, kp, dp, iters int, useEps bool, eps float32) {
	nnmfTileBF16Go(xt, ht, hb, qb, w2, wt2, k, d, kp, dp, iters, useEps, eps)
}
