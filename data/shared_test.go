package data

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedPath finds a file of ../shared (or $DEEPNMF_SHARED). Missing files
// fail the test under CI=true and skip it elsewhere.
func sharedPath(t testing.TB, rel string) string {
	t.Helper()
	dir := os.Getenv("DEEPNMF_SHARED")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for d := wd; ; d = filepath.Dir(d) {
			if exists(filepath.Join(d, "go.mod")) {
				dir = filepath.Join(filepath.Dir(d), "shared")
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	p := filepath.Join(dir, rel)
	if dir == "" || !exists(p) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared file %s missing (set DEEPNMF_SHARED)", p)
		}
		t.Skipf("shared file %s missing", p)
	}
	return p
}
