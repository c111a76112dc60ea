package sharedtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Dir returns $DEEPNMF_SHARED, else the sibling "shared" of the repository
// root (the nearest directory above the working directory that holds go.mod).
func Dir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("DEEPNMF_SHARED"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), "shared")
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", wd)
		}
	}
}

// Path returns the shared file or directory rel (its elements joined under
// Dir); when it is missing the test fails under CI=true and skips otherwise.
func Path(t testing.TB, rel ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Dir(t)}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared input missing under CI=true (set DEEPNMF_SHARED): %v", err)
		}
		t.Skipf("shared input missing: %v", err)
	}
	return p
}

// ReadJSON decodes the shared JSON file rel into v; a missing file is
// handled as by Path.
func ReadJSON(t testing.TB, v any, rel ...string) {
	t.Helper()
	p := Path(t, rel...)
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}

// Tensor is one entry of a golden file's "tensors" object (schema in
// ../shared/golden/README.md): the shape and the flat row-major data.
type Tensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

// Tensors returns the "tensors" object of ../shared/golden/<name>.
func Tensors(t testing.TB, name string) map[string]Tensor {
	t.Helper()
	var f struct {
		Tensors map[string]Tensor `json:"tensors"`
	}
	ReadJSON(t, &f, "golden", name)
	return f.Tensors
}
