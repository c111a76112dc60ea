package sweep

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/deepnmf/deepnmf/train"
)

// The display counts runs and epochs and estimates the time left from the
// epochs finished so far, spread over the jobs.
func TestProgressLinesAndETA(t *testing.T) {
	p, err := mustSpec(PaperSpec(BudgetFlags{Epochs: 3, Seeds: 1})).WritePlan(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	pr := newProgress(p, LocalOptions{Jobs: 2, Out: &out, Interval: time.Hour}, 0)
	defer pr.stop()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pr.now = func() time.Time { return clock }
	if pr.epochsLeft != 12 {
		t.Fatalf("%d epochs left, want 4 runs × 3", pr.epochsLeft)
	}
	e0, e1 := p.Entries[0], p.Entries[1]
	pr.begin(e0)
	pr.begin(e1)
	h0, h1 := pr.hooks(e0), pr.hooks(e1)
	h0.EpochStart(0, 10)
	h1.EpochStart(0, 10)
	h0.BatchDone(0, 0, 50, 0)
	if l := pr.lines(); !strings.Contains(l[0], "0/4 runs done, 2 running; 12 epochs left; ETA after the first epoch") ||
		!strings.Contains(l[1], "[0] cnn-cifar10-seed21  epoch 1/3 train 50 images") {
		t.Errorf("lines %q", l)
	}
	clock = clock.Add(20 * time.Second)
	h0.EpochDone(train.Metrics{Epoch: 0, TestCorrect: 25, TestImages: 100, TrainImages: 500})
	h0.EpochStart(1, 10)
	clock = clock.Add(5 * time.Second)
	// 11 epochs left at 20 s, over 2 jobs, less the 5 s and 20 s (capped at
	// one epoch) the running epochs have done: 110 − 12.5 = 97.5 s → 98 s.
	l := pr.lines()
	if !strings.Contains(l[0], "11 epochs left; ETA 1m38s") || !strings.Contains(l[1], "epoch 2/3 train 0 images  last test acc 25.00 %") {
		t.Errorf("lines %q", l)
	}
	pr.end(e1, train.Summary{Epochs: 3, FinalTestAcc: 30, BestTestAcc: 31}, nil)
	if l := pr.lines(); !strings.Contains(l[0], "1/4 runs done, 1 running") || len(l) != 2 {
		t.Errorf("after a run ended: %q", l)
	}
	if !strings.Contains(out.String(), "done  cnmf-cifar10-seed21: 3 epochs, final test acc 30.00 %, best 31.00 %") {
		t.Errorf("event lines:\n%s", out.String())
	}
}
