//go:build amd64 && !noasm

package kernels

func nnmfTileFunc() nnmfTileFn { return nnmfTileGo }
