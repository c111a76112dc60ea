package kernels

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestPoolRunsEveryShardOnce runs many short and a few long Runs, with pauses
// that let the workers park, and checks that every Run calls each shard
// exactly once and returns only after all of them finished.
func TestPoolRunsEveryShardOnce(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4} {
		p := NewPool(n)
		counts := make([]atomic.Int64, n)
		var running atomic.Int64
		fn := func(s int) {
			running.Add(1)
			counts[s].Add(1)
			if s%2 == 1 {
				time.Sleep(time.Duration(s) * time.Microsecond)
			}
			running.Add(-1)
		}
		runs := 3000
		if testing.Short() {
			runs = 300
		}
		for r := 1; r <= runs; r++ {
			p.Run(fn)
			if got := running.Load(); got != 0 {
				t.Fatalf("n=%d run %d: Run returned with %d shards still running", n, r, got)
			}
			for s := range counts {
				if got := counts[s].Load(); got != int64(r) {
					t.Fatalf("n=%d run %d: shard %d ran %d times", n, r, s, got)
				}
			}
			if r%500 == 0 {
				time.Sleep(2 * time.Millisecond) // long enough for everyone to park
			}
		}
		p.Close()
	}
}

// TestPoolCloseStopsWorkers: Close ends the workers whether they spin or are
// parked, and a closed pool leaves no goroutine behind.
func TestPoolCloseStopsWorkers(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		p := NewPool(4)
		p.Run(func(int) {})
		if i%2 == 0 {
			time.Sleep(time.Millisecond) // parked
		}
		p.Close()
		p.Close() // a second Close is harmless
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > before {
		t.Fatalf("%d goroutines after closing the pools, %d before", got, before)
	}
}

// TestPoolRunAllocatesNothing: a warm pool's Run allocates nothing, also
// when the workers park between Runs.
func TestPoolRunAllocatesNothing(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	var sink atomic.Int64
	fn := func(s int) { sink.Add(int64(s)) }
	for i := 0; i < 100; i++ {
		p.Run(fn)
	}
	if a := testing.AllocsPerRun(1000, func() { p.Run(fn) }); a != 0 {
		t.Errorf("Run allocates %.2f objects per call", a)
	}
}
