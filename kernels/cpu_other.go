//go:build !amd64 || noasm || purego

package kernels

// SupportedPath is the best path this CPU and build can run: without amd64
// assembly (or with the noasm or purego tag) only pure Go.
func SupportedPath() CPUPath { return PathGeneric }

// BF16Supported reports whether this CPU and build can run the bf16 NNMF
// kernel: never without the amd64 assembly.
func BF16Supported() bool { return false }
