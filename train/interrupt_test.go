package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deepnmf/deepnmf/nn"
)

// cancelInForward is the session's network, which cancels the context at
// the start of its n-th Forward (counted from 1): the network itself then
// stops inside the batch, before the engine's next check between batches.
type cancelInForward struct {
	*nn.Network
	n      int
	cancel context.CancelFunc
}

func (c *cancelInForward) Forward(x []float32, batch int) ([]float32, error) {
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return c.Network.Forward(x, batch)
}

// An interruption inside a batch is one between batches: the epoch is
// abandoned, the checkpoint stays, and the resumed run is bit-identical to
// an uninterrupted one.
func TestInterruptInsideABatchResumesBitIdentically(t *testing.T) {
	ds := syntheticCIFAR(t, 200, 100)
	root := t.TempDir()
	ctx := context.Background()
	full := filepath.Join(root, "full")
	if err := runSession(t, ctx, tinyOptions(2), full, false, ds, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		forward int // the Forward that cancels: epoch 0 has 3 train and 2 test batches
		where   string
	}{
		{"training", 3 + 2 + 2, "during epoch 2 (inside batch 2 of 3)"},
		{"testing", 3 + 2 + 3 + 1, "while testing after epoch 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(root, c.name)
			var before map[string][]byte
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			err := runSession(t, cctx, tinyOptions(2), dir, false, ds, func(s *Session) {
				s.Engine.Net = &cancelInForward{Network: s.Net, n: c.forward, cancel: cancel}
				s.Engine.Hooks.EpochDone = func(m Metrics) { before = snapshot(t, dir) }
				s.Engine.Hooks.BatchDone = func(epoch, batch, _ int, _ float32) {
					if c.name == "training" && epoch == 1 && batch == 1 {
						t.Error("the batch whose forward was interrupted finished")
					}
				}
			})
			if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), c.where) {
				t.Fatalf("interrupted run returned %v, want ErrInterrupted %s", err, c.where)
			}
			checkUnchanged(t, dir, before)
			if err := runSession(t, ctx, Options{}, dir, true, ds, nil); err != nil {
				t.Fatal(err)
			}
			if got, want := metricsWithoutTimes(t, dir), metricsWithoutTimes(t, full); got != want {
				t.Errorf("metrics differ from the uninterrupted run:\n%s\nwant\n%s", got, want)
			}
			for _, name := range []string{FinalFile, filepath.Join(CheckpointDir, ModelFile), filepath.Join(CheckpointDir, OptimizerFile)} {
				sameFiles(t, name, filepath.Join(full, name), filepath.Join(dir, name))
			}
		})
	}
}

// H1 of issue 16: with --iterations 1000000 one batch takes hours and
// Ctrl-C was ignored until it ended.
func TestInterruptWithAHugeIterationCount(t *testing.T) {
	ds := syntheticCIFAR(t, 100, 50)
	dir := filepath.Join(t.TempDir(), "run")
	opts := tinyOptions(1)
	opts.Iterations = 1_000_000
	opts.LimitTrain = 100
	opts.Data = ds
	s, err := Start(opts, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	s.Hooks.EpochStart = func(int, int) { close(started) }
	done := make(chan error, 1)
	go func() {
		_, err := s.Train(ctx, new(strings.Builder), nil)
		done <- err
	}()
	<-started
	time.Sleep(200 * time.Millisecond) // well inside the first batch's forward
	cancelled := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "inside batch 1 of") {
			t.Fatalf("Train returned %v, want ErrInterrupted inside batch 1 (the first)", err)
		}
		t.Logf("stopped %v after the cancellation: %v", time.Since(cancelled), err)
	case <-time.After(30 * time.Second):
		t.Fatal("training still running 30 s after the cancellation")
	}
	if HasCheckpoint(dir) {
		t.Error("an interrupted first epoch left a checkpoint")
	}
	if _, err := os.Stat(filepath.Join(dir, FinalFile)); err == nil {
		t.Error("an interrupted run wrote final weights")
	}
}
