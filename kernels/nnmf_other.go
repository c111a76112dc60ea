//go:build !amd64 || noasm || purego

package kernels

func nnmfTileFunc() nnmfTileFn { return nnmfTileGo }

func nnmfApproxTileFunc() nnmfApproxTileFn { return nil }
