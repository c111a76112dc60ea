package sharedtest

import (
	"path/filepath"
	"testing"
)

// outcome records how Path ended a test; stop unwinds Path as FailNow and
// SkipNow would.
type outcome struct {
	testing.TB
	failed, skipped bool
}

type stop struct{}

// Only the methods Path and Dir call are implemented; the embedded nil TB
// would panic on any other.
func (o *outcome) Helper()               {}
func (o *outcome) Fatal(...any)          { o.failed = true; panic(stop{}) }
func (o *outcome) Fatalf(string, ...any) { o.failed = true; panic(stop{}) }
func (o *outcome) Skipf(string, ...any)  { o.skipped = true; panic(stop{}) }

func pathOutcome(rel string) (o *outcome, p string) {
	o = &outcome{}
	defer func() {
		if r := recover(); r != nil && r != (stop{}) {
			panic(r)
		}
	}()
	return o, Path(o, rel)
}

// A missing shared file fails the test under CI=true and skips it elsewhere;
// a present one is returned as a path under $DEEPNMF_SHARED.
func TestPathFailsUnderCIAndSkipsElsewhere(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DEEPNMF_SHARED", dir)

	t.Setenv("CI", "true")
	if o, _ := pathOutcome("missing.json"); !o.failed || o.skipped {
		t.Errorf("CI=true: failed %v, skipped %v; want a failure", o.failed, o.skipped)
	}
	t.Setenv("CI", "")
	if o, _ := pathOutcome("missing.json"); o.failed || !o.skipped {
		t.Errorf("outside CI: failed %v, skipped %v; want a skip", o.failed, o.skipped)
	}
	if o, p := pathOutcome("."); o.failed || o.skipped || p != filepath.Clean(dir) {
		t.Errorf("present: failed %v, skipped %v, path %q; want %q", o.failed, o.skipped, p, dir)
	}
}
