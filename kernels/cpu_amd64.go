//go:build amd64 && !noasm && !purego

package kernels

import "golang.org/x/sys/cpu"

// SupportedPath is the best path this CPU and build can run. x/sys/cpu already
// checks that the OS saves the wide registers.
func SupportedPath() CPUPath {
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return PathAVX512
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return PathAVX2
	}
	return PathGeneric
}

// BF16Supported reports whether this CPU and build can run the bf16 NNMF
// kernel (whatever the active path): AVX512_BF16 on top of the AVX-512 path.
func BF16Supported() bool { return cpu.X86.HasAVX512BF16 && SupportedPath() == PathAVX512 }
