package sweep

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/deepnmf/deepnmf/train"
)

// progress is the display of a local run: a line for the study (runs done,
// running, failed, epochs left, ETA) and one per running job.
type progress struct {
	mu       sync.Mutex
	out      io.Writer
	terminal bool
	interval time.Duration
	jobs     int

	total, done, failed int
	epochsLeft          int // epochs still to train, over all unfinished runs
	running             map[int]*jobState
	epochSecs           float64 // finished epochs' wall time in this process
	epochsHere          int
	drawn               int // lines of the last terminal redraw
	stopOnce            sync.Once
	quit                chan struct{}
	wg                  sync.WaitGroup
	now                 func() time.Time
}

type jobState struct {
	name           string
	epoch, epochs  int // epoch being trained (0-based), cap
	phase          string
	images, target int
	epochStart     time.Time
	lastAcc        float64
	hasAcc         bool
}

func newProgress(p *Plan, o LocalOptions, alreadyDone int) *progress {
	pr := &progress{out: o.Out, terminal: o.Terminal, interval: o.Interval, jobs: o.Jobs,
		total: len(p.Entries), done: alreadyDone, running: map[int]*jobState{}, quit: make(chan struct{}), now: time.Now}
	for _, e := range p.Entries {
		n := 0
		if st, err := readRunState(e.RunDir); err == nil {
			if finished(e.RunDir, e.Options.Epochs, len(st.History)) {
				continue
			}
			n = len(st.History)
		}
		pr.epochsLeft += max(e.Options.Epochs-n, 0)
	}
	every := o.Interval
	if o.Terminal {
		every = time.Second
	}
	pr.wg.Add(1)
	go func() {
		defer pr.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-pr.quit:
				return
			case <-t.C:
				pr.mu.Lock()
				pr.draw()
				pr.mu.Unlock()
			}
		}
	}()
	return pr
}

func (pr *progress) stop() {
	pr.stopOnce.Do(func() {
		close(pr.quit)
		pr.wg.Wait()
	})
}

func (pr *progress) begin(e Entry) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.running[e.Index] = &jobState{name: e.Name(), epochs: e.Options.Epochs, phase: "starting", epochStart: pr.now()}
	pr.event(fmt.Sprintf("start %s", e.Name()))
}

func (pr *progress) end(e Entry, sum train.Summary, err error) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	delete(pr.running, e.Index)
	var msg string
	switch {
	case err == nil:
		pr.done++
		msg = fmt.Sprintf("done  %s: %d epochs, final test acc %.2f %%, best %.2f %%", e.Name(), sum.Epochs, sum.FinalTestAcc, sum.BestTestAcc)
	case errors.Is(err, ErrDone):
		pr.done++
		return
	default:
		if !isInterrupt(err) {
			pr.failed++
		}
		msg = fmt.Sprintf("stop  %s: %v", e.Name(), err)
	}
	pr.event(msg)
}

func isInterrupt(err error) bool {
	return errors.Is(err, train.ErrInterrupted) || errors.Is(err, train.ErrLocked)
}

// event prints a line about a run starting or ending, then the display.
func (pr *progress) event(line string) {
	pr.clear()
	fmt.Fprintln(pr.out, line)
	pr.draw()
}

func (pr *progress) hooks(e Entry) train.Hooks {
	idx := e.Index
	with := func(f func(j *jobState)) {
		pr.mu.Lock()
		if j := pr.running[idx]; j != nil {
			f(j)
		}
		pr.mu.Unlock()
	}
	return train.Hooks{
		EpochStart: func(epoch, _ int) {
			with(func(j *jobState) { j.epoch, j.phase, j.images, j.target, j.epochStart = epoch, "train", 0, 0, pr.now() })
		},
		BatchDone: func(_, _, images int, _ float32) { with(func(j *jobState) { j.images += images }) },
		TestStart: func(_, _ int) { with(func(j *jobState) { j.phase, j.images = "test", 0 }) },
		TestBatch: func(_, _, images int) { with(func(j *jobState) { j.images += images }) },
		EpochDone: func(m train.Metrics) {
			pr.mu.Lock()
			defer pr.mu.Unlock()
			if j := pr.running[idx]; j != nil {
				pr.epochSecs += pr.now().Sub(j.epochStart).Seconds()
				pr.epochsHere++
				j.lastAcc, j.hasAcc, j.phase = m.TestAcc(), true, "saved"
				j.target = m.TrainImages
			}
			pr.epochsLeft = max(pr.epochsLeft-1, 0)
		},
	}
}

// eta estimates the time left: the epochs left at the mean epoch time seen
// so far, spread over the jobs.
func (pr *progress) eta() (time.Duration, bool) {
	per := 0.0
	if pr.epochsHere > 0 {
		per = pr.epochSecs / float64(pr.epochsHere)
	} else {
		return 0, false
	}
	jobs := min(pr.jobs, max(pr.total-pr.done-pr.failed, 1))
	left := float64(pr.epochsLeft) * per / float64(max(jobs, 1))
	// the epochs under way are partly done
	for _, j := range pr.running {
		if j.phase == "train" || j.phase == "test" {
			left -= min(pr.now().Sub(j.epochStart).Seconds(), per) / float64(max(jobs, 1))
		}
	}
	return time.Duration(max(left, 0) * float64(time.Second)).Round(time.Second), true
}

func (pr *progress) lines() []string {
	eta := "ETA after the first epoch"
	if d, ok := pr.eta(); ok {
		eta = "ETA " + d.String()
	}
	head := fmt.Sprintf("study: %d/%d runs done, %d running", pr.done, pr.total, len(pr.running))
	if pr.failed > 0 {
		head += fmt.Sprintf(", %d failed", pr.failed)
	}
	head += fmt.Sprintf("; %s left; %s", plural(pr.epochsLeft, "epoch"), eta)
	out := []string{head}
	idx := make([]int, 0, len(pr.running))
	for i := range pr.running {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		j := pr.running[i]
		l := fmt.Sprintf("  [%d] %s  epoch %d/%d %s", i, j.name, j.epoch+1, j.epochs, j.phase)
		if j.phase == "train" || j.phase == "test" {
			l += fmt.Sprintf(" %s images", groupDigits(j.images))
		}
		if j.hasAcc {
			l += fmt.Sprintf("  last test acc %.2f %%", j.lastAcc)
		}
		out = append(out, l)
	}
	return out
}

// clear removes the last terminal redraw.
func (pr *progress) clear() {
	if pr.terminal && pr.drawn > 0 {
		fmt.Fprintf(pr.out, "\x1b[%dF\x1b[J", pr.drawn)
		pr.drawn = 0
	}
}

func (pr *progress) draw() {
	ls := pr.lines()
	if pr.terminal {
		pr.clear()
		for _, l := range ls {
			fmt.Fprintf(pr.out, "\x1b[2K%s\n", l)
		}
		pr.drawn = len(ls)
		return
	}
	fmt.Fprintln(pr.out, strings.Join(ls, "\n"))
}
