package nnmf

import (
	"errors"
	"testing"
	"time"

	"github.com/deepnmf/deepnmf/kernels"
)

// Forward runs long iteration counts and many rows in pieces so that it can
// be interrupted; the pieces must give the bits of one kernel call.
func TestForwardInPiecesIsOneCall(t *testing.T) {
	allPaths(t, func(t *testing.T) {
		const rows, k, d, iters = 23, 5, 13, 2*interruptIters + 7
		// Blocks of two tiles and a partial one, besides the pieces of iterations.
		defer func(w int) { interruptWork = w }(interruptWork)
		interruptWork = 2 * kernels.NNMFTileRows * k * d * interruptIters
		p := newProblem(rows, k, d, 4)
		packed := make([]float32, kernels.NNMFPackedLen(k, d))
		kernels.NNMFPack(p.w, k, d, packed)
		want := make([]float32, rows*k)
		for i := range want {
			want[i] = 1 / float32(k)
		}
		kernels.NNMFIterate(p.x, rows, k, d, iters, false, 0, packed, want, make([]float32, kernels.NNMFScratchLen(k, d)))
		for _, m := range []Method{Approx, Unrolled, LastIter} {
			layer, err := New(Config{In: d, Out: k, Iterations: iters, Method: m})
			if err != nil {
				t.Fatal(err)
			}
			h := make([]float32, rows*k)
			if err := layer.Forward(layer.NewWorkspace(rows), p.x, rows, p.w, h, true); err != nil {
				t.Fatal(err)
			}
			for i := range h {
				if h[i] != want[i] {
					t.Fatalf("%v: h[%d] = %g, one call of %d iterations gives %g", m, i, h[i], iters, want[i])
				}
			}
		}
	})
}

func TestStopInterruptsForwardAndBackward(t *testing.T) {
	const rows, k, d = 9, 4, 6
	p := newProblem(rows, k, d, 5)
	layer, err := New(Config{Name: "layer 4", In: d, Out: k, Iterations: 3, Method: Unrolled})
	if err != nil {
		t.Fatal(err)
	}
	ws := layer.NewWorkspace(rows)
	h := make([]float32, rows*k)
	gx, gw := make([]float32, rows*d), make([]float32, k*d)
	closed := make(chan struct{})
	close(closed)

	layer.Stop = closed
	err = layer.Forward(ws, p.x, rows, p.w, h, true)
	if !errors.Is(err, ErrInterrupted) || err.Error() != "layer 4: interrupted" {
		t.Fatalf("Forward with Stop closed: %v, want layer 4: interrupted", err)
	}
	// An interrupted forward keeps nothing for a backward.
	layer.Stop = nil
	if err := layer.Backward(ws, p.x, rows, p.w, h, p.g, gx, gw); err == nil || errors.Is(err, ErrInterrupted) {
		t.Errorf("Backward after an interrupted Forward: %v, want a refusal", err)
	}
	if err := layer.Forward(ws, p.x, rows, p.w, h, true); err != nil {
		t.Fatal(err)
	}
	layer.Stop = closed
	if err := layer.Backward(ws, p.x, rows, p.w, h, p.g, gx, gw); !errors.Is(err, ErrInterrupted) {
		t.Errorf("Backward with Stop closed: %v, want ErrInterrupted", err)
	}
}

// H1 of issue 16: with 10⁹ iterations one Forward would run for hours;
// closing Stop must end it within a bounded time.
func TestStopEndsAHugeIterationCountSoon(t *testing.T) {
	const rows, k, d = 64, 8, 32
	p := newProblem(rows, k, d, 6)
	layer, err := New(Config{In: d, Out: k, Iterations: 1_000_000_000})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	layer.Stop = stop
	done := make(chan error, 1)
	go func() {
		done <- layer.Forward(layer.NewWorkspace(rows), p.x, rows, p.w, make([]float32, rows*k), false)
	}()
	time.Sleep(50 * time.Millisecond)
	closedAt := time.Now()
	close(stop)
	select {
	case err := <-done:
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("Forward: %v, want ErrInterrupted", err)
		}
		t.Logf("stopped %v after Stop was closed", time.Since(closedAt))
	case <-time.After(30 * time.Second):
		t.Fatal("Forward still running 30 s after Stop was closed")
	}
}
