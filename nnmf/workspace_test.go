package nnmf

import (
	"runtime"
	"testing"
)

// WorkspaceBytes is what NewWorkspace allocates, for every backward method,
// small and large layers and row counts below and above the block size.
func TestWorkspaceBytesMatchesAllocation(t *testing.T) {
	var keep *Workspace
	for m := Approx; m <= Implicit; m++ {
		for _, c := range []struct{ k, d, rows int }{{10, 75, 1}, {32, 800, 5000}, {96, 3, 40000}, {1, 1, 7}} {
			l, err := New(Config{In: c.d, Out: c.k, Iterations: 20, Method: m})
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			keep = l.NewWorkspace(c.rows)
			runtime.ReadMemStats(&after)
			got := float64(after.TotalAlloc - before.TotalAlloc)
			est := l.WorkspaceBytes(c.rows)
			// The struct itself and allocator rounding are not counted.
			if est > got || got > est*1.05+1024 {
				t.Errorf("%v K=%d D=%d rows=%d: estimate %.0f bytes, NewWorkspace allocated %.0f", m, c.k, c.d, c.rows, est, got)
			}
		}
	}
	runtime.KeepAlive(keep)
}
