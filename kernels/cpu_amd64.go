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
