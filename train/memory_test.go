package train

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deepnmf/deepnmf/nn"
)

func TestWorkspaceBatch(t *testing.T) {
	for _, c := range []struct{ batch, train, test, want int }{
		{50, 50000, 10000, 50}, {5000, 100, 10000, 5000}, {5000, 100, 300, 300}, {40000, 100, 100, 100}, {7, 0, 0, 1},
	} {
		if got := WorkspaceBatch(c.batch, c.train, c.test); got != c.want {
			t.Errorf("WorkspaceBatch(%d, %d, %d) = %d, want %d", c.batch, c.train, c.test, got, c.want)
		}
	}
}

// P5 of issue 16: a batch size larger than the data gets buffers for the
// data only, and trains as one batch of all images.
func TestPrepareClampsBatchToData(t *testing.T) {
	opts := tinyOptions(1)
	opts.BatchSize, opts.LimitTrain, opts.LimitTest = 5000, 100, 60
	opts.Data = syntheticCIFAR(t, 200, 80)
	s, err := Start(opts, filepath.Join(t.TempDir(), "run"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Net.MaxBatch() != 100 || s.Engine.MaxBatch != 100 {
		t.Errorf("buffers for batch %d (network) and %d (engine), want 100 (the training images)", s.Net.MaxBatch(), s.Engine.MaxBatch)
	}
	if s.Opts.BatchSize != 5000 {
		t.Errorf("the run's batch size became %d; only the buffers shrink", s.Opts.BatchSize)
	}
}

// P5 of issue 16: --batch-size 40000 and --threads 10000 are refused from
// the memory estimate before the dataset is even looked for, naming the
// config, batch × threads and the limit.
func TestPrepareRefusesOverBudgetBeforeLoadingData(t *testing.T) {
	for _, c := range []struct{ batch, threads int }{{40000, 2}, {50, 10000}} {
		opts := DefaultOptions()
		opts.BatchSize, opts.Threads, opts.MaxMemory = c.batch, c.threads, 1<<30
		opts.DataDir = t.TempDir() // empty: loading would fail with another error
		start := time.Now()
		_, err := Start(opts, filepath.Join(t.TempDir(), "run"))
		var mle *nn.MemoryLimitError
		if !errors.As(err, &mle) {
			t.Fatalf("batch %d threads %d: got %v, want a memory limit error", c.batch, c.threads, err)
		}
		for _, want := range []string{"preset cnmf_1x1 on cifar10 input 3×28×28", "× " + strconv.Itoa(c.threads) + " threads", "1.0 GiB"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("refusing took %v", d)
		}
	}
}
