package kernels

import (
	"fmt"
	"os"
	"strings"
)

// CPUPath names an instruction-set path of the optimised kernels.
type CPUPath int

// The paths, in increasing order of capability: a path is usable when the CPU
// supports it, and every path below a usable one is usable too.
const (
	PathGeneric CPUPath = iota // pure Go
	PathAVX2                   // AVX2 + FMA assembly
	PathAVX512                 // AVX-512F assembly
)

func (p CPUPath) String() string {
	switch p {
	case PathGeneric:
		return "generic"
	case PathAVX2:
		return "avx2"
	case PathAVX512:
		return "avx512"
	}
	return fmt.Sprintf("CPUPath(%d)", int(p))
}

// CPUEnvVar forces a lower path than the CPU supports, for tests and
// benchmarks: DEEPNMF_CPU=generic|avx2|avx512. It is read once at start-up.
const CPUEnvVar = "DEEPNMF_CPU"

// activePath is read by every dispatching kernel. It is only written at
// start-up and by ForcePath, which documents that it must not race with
// running kernels.
var activePath, cpuEnvErr = pathFromEnv(os.Getenv(CPUEnvVar), SupportedPath())

func pathFromEnv(value string, supported CPUPath) (CPUPath, error) {
	if value == "" {
		return supported, nil
	}
	var want CPUPath
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "generic", "go", "purego":
		want = PathGeneric
	case "avx2":
		want = PathAVX2
	case "avx512":
		want = PathAVX512
	default:
		return supported, fmt.Errorf("kernels: %s=%q is not one of generic, avx2, avx512; using %s", CPUEnvVar, value, supported)
	}
	if want > supported {
		return supported, fmt.Errorf("kernels: %s=%s is not supported by this CPU or build; using %s", CPUEnvVar, want, supported)
	}
	return want, nil
}

// ActivePath is the path the kernels run on.
func ActivePath() CPUPath { return activePath }

// CPUEnvError reports a DEEPNMF_CPU value that could not be honoured (nil if
// the variable was unset or valid), so that a command can tell its user; the
// kernels then run on the best supported path.
func CPUEnvError() error { return cpuEnvErr }

// ForcePath switches every kernel to path p and returns the previous path. It
// exists for tests and benchmarks that compare paths within one process; it
// must not be called while kernels run on other goroutines.
func ForcePath(p CPUPath) (previous CPUPath, err error) {
	if p < PathGeneric || p > SupportedPath() {
		return activePath, fmt.Errorf("kernels: path %s is not supported by this CPU or build (best is %s)", p, SupportedPath())
	}
	previous, activePath = activePath, p
	return previous, nil
}
