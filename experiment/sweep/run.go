package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/train"
)

// LocalOptions configure a local run of a study.
type LocalOptions struct {
	// Jobs is the number of runs trained at once (default: the CPU count
	// divided by the threads per run, at least 1).
	Jobs int
	// Threads overrides the plan's threads per run (0 keeps them).
	Threads int
	// Oversubscribe allows Jobs × threads above the CPU count.
	Oversubscribe bool
	// Out gets the progress display: one line per running job and the
	// study's count and ETA.
	Out io.Writer
	// Terminal redraws the display in place (Out is a terminal); otherwise
	// a plain block of lines is printed every Interval and whenever a run
	// starts or ends.
	Terminal bool
	Interval time.Duration // default train.LogInterval
	// LogName is the file in each run directory that gets the run's
	// training log (default "train.log").
	LogName string
}

// LocalReport is the outcome of RunLocal.
type LocalReport struct {
	Finished    int // runs trained to their end by this call
	AlreadyDone int // runs that were finished before
	Interrupted int
	Busy        []string // runs another process holds (its lock)
	Failed      map[string]error
}

// RunLocal trains every unfinished entry of the plan on this machine, Jobs
// at a time, in plan order. Finished runs are skipped and started ones
// resume from their last checkpoint, so RunLocal may be killed at any moment
// and called again. Runs of the same dataset share one loaded copy. When ctx
// is cancelled the running jobs stop at their next safe point (keeping their
// checkpoints) and RunLocal returns train.ErrInterrupted.
func RunLocal(ctx context.Context, p *Plan, o LocalOptions) (LocalReport, error) {
	rep := LocalReport{Failed: map[string]error{}}
	threads := o.Threads
	if threads == 0 {
		for _, e := range p.Entries {
			threads = max(threads, e.Options.Threads)
		}
	}
	cpus := runtime.NumCPU()
	if o.Jobs == 0 {
		o.Jobs = max(1, cpus/max(threads, 1))
	}
	if o.Jobs < 1 {
		return rep, fmt.Errorf("--jobs must be at least 1, got %d", o.Jobs)
	}
	if o.Jobs*threads > cpus && !o.Oversubscribe {
		return rep, fmt.Errorf("%d jobs × %d threads per run needs %d CPUs, this machine has %d (lower --jobs or --threads, or allow it with --oversubscribe)", o.Jobs, threads, o.Jobs*threads, cpus)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Interval == 0 {
		o.Interval = train.LogInterval
	}
	if o.LogName == "" {
		o.LogName = "train.log"
	}
	var todo []Entry
	for _, e := range p.Entries {
		if st, err := readRunState(e.RunDir); err == nil && finished(e.RunDir, e.Options.Epochs, len(st.History)) {
			rep.AlreadyDone++
			continue
		}
		todo = append(todo, e)
	}
	prog := newProgress(p, o, rep.AlreadyDone)
	defer prog.stop()
	loader := &datasets{m: map[string]*dsOnce{}}
	jobs := make(chan Entry)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(o.Jobs, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range jobs {
				sum, err := runOne(ctx, e, o, loader, prog)
				mu.Lock()
				switch {
				case err == nil:
					rep.Finished++
				case errors.Is(err, ErrDone):
					rep.AlreadyDone++
				case errors.Is(err, train.ErrInterrupted):
					rep.Interrupted++
				case errors.Is(err, train.ErrLocked):
					rep.Busy = append(rep.Busy, e.Name())
				default:
					rep.Failed[e.Name()] = err
				}
				mu.Unlock()
				prog.end(e, sum, err)
			}
		}()
	}
feed:
	for _, e := range todo {
		select {
		case jobs <- e:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	prog.stop()
	switch {
	case ctx.Err() != nil:
		return rep, train.ErrInterrupted
	case len(rep.Failed) > 0:
		names := make([]string, 0, len(rep.Failed))
		for n := range rep.Failed {
			names = append(names, n)
		}
		sort.Strings(names)
		msgs := make([]string, len(names))
		for i, n := range names {
			msgs[i] = fmt.Sprintf("%s: %v", n, rep.Failed[n])
		}
		return rep, fmt.Errorf("%d of %d runs failed:\n  %s", len(names), len(p.Entries), strings.Join(msgs, "\n  "))
	}
	return rep, nil
}

func runOne(ctx context.Context, e Entry, o LocalOptions, loader *datasets, prog *progress) (train.Summary, error) {
	ds, err := loader.get(e.Options.Dataset, e.Options.DataDir)
	if err != nil {
		return train.Summary{}, err
	}
	if err := os.MkdirAll(e.RunDir, 0o755); err != nil {
		return train.Summary{}, err
	}
	prog.begin(e)
	log := &lazyLog{path: filepath.Join(e.RunDir, o.LogName)}
	defer log.Close()
	return RunEntry(ctx, e, TaskOptions{Threads: o.Threads, Data: ds, Log: log, Hooks: prog.hooks(e)})
}

// lazyLog opens the run's log file at its first line: before the run
// directory holds run.json, a file in it would make the run refuse to start.
type lazyLog struct {
	path string
	f    *os.File
}

func (l *lazyLog) Write(b []byte) (int, error) {
	if l.f == nil {
		f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return 0, err
		}
		l.f = f
	}
	return l.f.Write(b)
}

func (l *lazyLog) Close() {
	if l.f != nil {
		l.f.Close()
	}
}

// datasets loads each (dataset, data directory) once and shares it.
type datasets struct {
	mu sync.Mutex
	m  map[string]*dsOnce
}

type dsOnce struct {
	once sync.Once
	ds   *data.Dataset
	err  error
}

func (d *datasets) get(name, dir string) (*data.Dataset, error) {
	d.mu.Lock()
	k := name + "\x00" + dir
	x, ok := d.m[k]
	if !ok {
		x = &dsOnce{}
		d.m[k] = x
	}
	d.mu.Unlock()
	x.once.Do(func() {
		root, err := data.ResolveDir(dir)
		if err != nil {
			x.err = err
			return
		}
		x.ds, x.err = data.Load(name, root)
	})
	return x.ds, x.err
}
