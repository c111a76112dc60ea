package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/train"
)

// TaskOptions are the choices of one run of a plan entry.
type TaskOptions struct {
	// Threads overrides the plan's threads per run (0 keeps them; another
	// count makes the run no longer bit-identical to one with the plan's).
	Threads int
	// Data is an already loaded dataset to use (nil: load the entry's).
	Data *data.Dataset
	// Log gets the run's training log (epoch lines); nil discards it.
	Log io.Writer
	// Hooks observe the engine (progress of a local pool).
	Hooks train.Hooks
}

// ErrDone is returned by RunEntry for a run that was already finished; it
// wrote nothing.
var ErrDone = errors.New("the run is already finished")

// entryOptions are the options a process trains an entry with. A network
// config file of the study becomes an in-memory config named after the file,
// so that run.json does not record the study's path and the study directory
// may move (or be mounted elsewhere on the cluster's nodes) between resumes.
func entryOptions(e Entry, o TaskOptions) (train.Options, error) {
	opts := e.Options
	if opts.Config != "" {
		cfg, err := nn.LoadConfig(opts.Config)
		if err != nil {
			return opts, fmt.Errorf("entry %d: %w", e.Index, err)
		}
		opts.Name = opts.ModelName()
		opts.Network, opts.Config = cfg, ""
	}
	if o.Threads > 0 {
		opts.Threads = o.Threads
	}
	opts.Data = o.Data
	return opts, nil
}

// RunEntry starts or resumes the run of one plan entry and trains it to the
// end, or until ctx is cancelled (train.ErrInterrupted: the epochs finished
// so far stay checkpointed). A finished run is left untouched (ErrDone). It
// writes nothing outside the entry's run directory, where it keeps
// StatusFile up to date.
func RunEntry(ctx context.Context, e Entry, o TaskOptions) (train.Summary, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if st, err := readRunState(e.RunDir); err == nil && finished(e.RunDir, e.Options.Epochs, len(st.History)) {
		return train.Summary{RunDir: e.RunDir, Epochs: len(st.History)}, ErrDone
	}
	opts, err := entryOptions(e, o)
	if err != nil {
		return train.Summary{}, err
	}
	s, err := train.StartOrResume(opts, e.RunDir)
	if err != nil {
		// Only a run directory may take a status file: in any other
		// directory it would make the next start refuse it.
		if !errors.Is(err, train.ErrLocked) && fileExists(filepath.Join(e.RunDir, train.RunInfoFile)) {
			st := newRunStatus(StateFailed, 0)
			st.Error = err.Error()
			writeRunStatus(e.RunDir, st)
		}
		return train.Summary{}, err
	}
	defer s.Close()
	for _, n := range s.Notices {
		fmt.Fprintf(o.Log, "%s: %s\n", e.RunDir, n)
	}
	if err := writeRunStatus(e.RunDir, newRunStatus(StateRunning, s.Engine.Epoch)); err != nil {
		return train.Summary{}, err
	}
	user := o.Hooks.EpochDone
	o.Hooks.EpochDone = func(m train.Metrics) {
		writeRunStatus(e.RunDir, newRunStatus(StateRunning, m.Epoch+1))
		if user != nil {
			user(m)
		}
	}
	s.Hooks = o.Hooks
	sum, err := s.Train(ctx, o.Log, nil)
	st := newRunStatus(StateDone, sum.Epochs)
	switch {
	case errors.Is(err, train.ErrInterrupted):
		st.State = StateInterrupted
	case err != nil:
		st.State, st.Error = StateFailed, err.Error()
	}
	if werr := writeRunStatus(e.RunDir, st); werr != nil && err == nil {
		err = werr
	}
	return sum, err
}

// RunTask is `deepnmf sweep task`: RunEntry for entry index of the study
// (what one Slurm array task runs).
func RunTask(ctx context.Context, studyDir string, index int, o TaskOptions) (train.Summary, error) {
	p, err := LoadPlan(studyDir)
	if err != nil {
		return train.Summary{}, err
	}
	e, err := p.Entry(index)
	if err != nil {
		return train.Summary{}, err
	}
	return RunEntry(ctx, e, o)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
