package kernels

import "testing"

func TestPathFromEnv(t *testing.T) {
	cases := []struct {
		value     string
		supported CPUPath
		want      CPUPath
		wantErr   bool
	}{
		{"", PathAVX512, PathAVX512, false},
		{"generic", PathAVX512, PathGeneric, false},
		{"AVX2", PathAVX512, PathAVX2, false},
		{"avx512", PathAVX2, PathAVX2, true},
		{"sse", PathAVX2, PathAVX2, true},
		{"avx2", PathGeneric, PathGeneric, true},
	}
	for _, c := range cases {
		got, err := pathFromEnv(c.value, c.supported)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("pathFromEnv(%q, %s) = %s, %v; want %s, error %v", c.value, c.supported, got, err, c.want, c.wantErr)
		}
	}
}

func TestForcePathRejectsUnsupported(t *testing.T) {
	if _, err := ForcePath(SupportedPath() + 1); err == nil {
		t.Fatalf("ForcePath above %s succeeded", SupportedPath())
	}
	if ActivePath() > SupportedPath() {
		t.Fatalf("active path %s above supported %s", ActivePath(), SupportedPath())
	}
}
