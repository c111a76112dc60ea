//go:build noasm || purego

package kernels

import "testing"

// TestPureGoBuildHasNoAssemblyPath: with -tags noasm or -tags purego no
// assembly path is offered, whatever the CPU.
func TestPureGoBuildHasNoAssemblyPath(t *testing.T) {
	if p := SupportedPath(); p != PathGeneric {
		t.Fatalf("SupportedPath() = %s in a pure-Go build", p)
	}
	if _, err := ForcePath(PathAVX2); err == nil {
		t.Fatal("ForcePath(avx2) succeeded in a pure-Go build")
	}
}
