package nn

import (
	"errors"
	"testing"
	"time"
)

func TestSetInterrupt(t *testing.T) {
	net, x, g := benchNetwork(t, "cnmf_1x1", 2, 2)
	defer net.Close()
	ref, _, _ := benchNetwork(t, "cnmf_1x1", 2, 2)
	defer ref.Close()
	closed := make(chan struct{})
	close(closed)

	net.SetInterrupt(closed)
	if _, err := net.Forward(x, 2); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Forward after the channel was closed: %v, want ErrInterrupted", err)
	}
	net.SetInterrupt(nil)
	if err := net.Backward(g); err == nil {
		t.Error("Backward after an interrupted Forward succeeded")
	}
	// The interruption left nothing behind: the next batch is as on a network
	// that was never interrupted.
	got, err := net.Forward(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Forward(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("output %d = %g after an interruption, %g without", i, got[i], want[i])
		}
	}
	net.SetInterrupt(closed)
	if err := net.Backward(g); !errors.Is(err, ErrInterrupted) {
		t.Errorf("Backward after the channel was closed: %v, want ErrInterrupted", err)
	}
}

// H1 of issue 16: with --iterations 1000000 one batch takes hours; closing
// the channel must end it within a bounded time (inside an NNMF layer).
func TestInterruptInsideAHugeBatch(t *testing.T) {
	cfg, err := Preset("cnmf_1x1")
	if err != nil {
		t.Fatal(err)
	}
	net, err := Build(cfg, Shape{3, 28, 28}, 2, Options{Threads: 2, Iterations: 1_000_000}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	x := make([]float32, 2*3*28*28)
	for i := range x {
		x[i] = float32(i%7) / 7
	}
	stop := make(chan struct{})
	net.SetInterrupt(stop)
	done := make(chan error, 1)
	go func() {
		_, err := net.Forward(x, 2)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	closedAt := time.Now()
	close(stop)
	select {
	case err := <-done:
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("Forward: %v, want ErrInterrupted", err)
		}
		t.Logf("%v; stopped %v after the channel was closed", err, time.Since(closedAt))
	case <-time.After(30 * time.Second):
		t.Fatal("Forward still running 30 s after the channel was closed")
	}
}
