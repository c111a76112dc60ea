package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/deepnmf/deepnmf/internal/atomicfile"
	"github.com/deepnmf/deepnmf/train"
)

// StatusFile is the small file a sweep process keeps in each run directory
// it works on, so that status can tell running, failed and interrupted runs
// apart and name the Slurm task.
const StatusFile = "sweep-status.json"

// Run states.
const (
	StateDone        = "done"
	StateRunning     = "running"
	StateFailed      = "failed"
	StateInterrupted = "interrupted" // started, stopped, resumable
	StatePending     = "pending"     // queued in Slurm
	StateNotStarted  = "not started"
)

// RunStatus is what a sweep process writes into StatusFile.
type RunStatus struct {
	State   string    `json:"state"` // running, done, failed, interrupted
	Epoch   int       `json:"epoch"` // epochs finished
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Updated time.Time `json:"updated"`
	Error   string    `json:"error,omitempty"`
	// Slurm identifies the array task, when run by one.
	SlurmJobID      string `json:"slurm_job_id,omitempty"`
	SlurmArrayJobID string `json:"slurm_array_job_id,omitempty"`
	SlurmTaskID     string `json:"slurm_array_task_id,omitempty"`
	SlurmRestarts   int    `json:"slurm_restart_count,omitempty"`
}

// newRunStatus fills in the process and Slurm identity.
func newRunStatus(state string, epoch int) RunStatus {
	host, _ := os.Hostname()
	s := RunStatus{State: state, Epoch: epoch, Host: host, PID: os.Getpid(), Updated: time.Now().UTC(),
		SlurmJobID: os.Getenv("SLURM_JOB_ID"), SlurmArrayJobID: os.Getenv("SLURM_ARRAY_JOB_ID"), SlurmTaskID: os.Getenv("SLURM_ARRAY_TASK_ID")}
	s.SlurmRestarts, _ = strconv.Atoi(os.Getenv("SLURM_RESTART_COUNT"))
	return s
}

func writeRunStatus(runDir string, s RunStatus) error {
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(runDir, StatusFile), append(raw, '\n'))
}

func readRunStatus(runDir string) (RunStatus, bool) {
	raw, err := os.ReadFile(filepath.Join(runDir, StatusFile))
	if err != nil {
		return RunStatus{}, false
	}
	var s RunStatus
	if json.Unmarshal(raw, &s) != nil {
		return RunStatus{}, false
	}
	return s, true
}

// EntryStatus is one line of `deepnmf sweep status`.
type EntryStatus struct {
	Index   int      `json:"index"`
	Name    string   `json:"name"`
	Group   string   `json:"group"`
	State   string   `json:"state"`
	Epoch   int      `json:"epoch"`    // epochs finished
	Epochs  int      `json:"epochs"`   // the cap
	TestAcc *float64 `json:"test_acc"` // after the last finished epoch, percent
	Error   string   `json:"error,omitempty"`
	Host    string   `json:"host,omitempty"`
	// Slurm is "<array job>_<task>" of the task that runs, ran or will run it.
	Slurm      string `json:"slurm,omitempty"`
	SlurmState string `json:"slurm_state,omitempty"`
}

// StudyStatus is the status of every entry of a study.
type StudyStatus struct {
	Study   string         `json:"study"`
	Budget  string         `json:"budget"`
	Counts  map[string]int `json:"counts"`
	Epochs  int            `json:"epochs_done"`
	Total   int            `json:"epochs_total"`
	Entries []EntryStatus  `json:"entries"`
	// SlurmError says why the queue could not be asked, if it could not.
	SlurmError string `json:"slurm_error,omitempty"`
}

// finished reports whether the run in runDir is complete: final weights
// written and the epoch cap reached or the stop rule fired.
func finished(runDir string, epochs int, done int) bool {
	if _, err := os.Stat(filepath.Join(runDir, train.FinalFile)); err != nil {
		return false
	}
	if done >= epochs {
		return true
	}
	st, err := readRunState(runDir)
	return err == nil && st.Stopped
}

// Status reports every entry of the study. It asks squeue about the
// submitted array jobs when squeue is available.
func Status(ctx context.Context, studyDir string) (StudyStatus, error) {
	p, err := LoadPlan(studyDir)
	if err != nil {
		return StudyStatus{}, err
	}
	st := StudyStatus{Study: p.Dir, Budget: p.Budget.Label, Counts: map[string]int{}}
	// Ask squeue about the recorded submissions and about any array job a
	// task has written into its status file (a script submitted by hand).
	var ids []string
	subs, err := LoadSubmissions(p.Dir)
	if err != nil {
		return st, err
	}
	for _, s := range subs {
		ids = appendNew(ids, s.JobID)
	}
	for _, e := range p.Entries {
		if rs, ok := readRunStatus(e.RunDir); ok && rs.SlurmArrayJobID != "" {
			ids = appendNew(ids, rs.SlurmArrayJobID)
		}
	}
	queue := map[int]QueuedTask{}
	queueKnown := false
	if len(ids) > 0 {
		if q, err := Queue(ctx, ids); err != nil {
			st.SlurmError = err.Error()
		} else {
			queue, queueKnown = q, true
		}
	}
	host, _ := os.Hostname()
	for _, e := range p.Entries {
		es, err := entryStatus(e, queue, queueKnown, host)
		if err != nil {
			return st, err
		}
		st.Entries = append(st.Entries, es)
		st.Counts[es.State]++
		st.Epochs += es.Epoch
		st.Total += es.Epochs
	}
	return st, nil
}

func entryStatus(e Entry, queue map[int]QueuedTask, queueKnown bool, host string) (EntryStatus, error) {
	es := EntryStatus{Index: e.Index, Name: e.Name(), Group: e.Group, Epochs: e.Options.Epochs, State: StateNotStarted}
	ms, err := readMetrics(e.RunDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return es, fmt.Errorf("%s: %w", e.RunDir, err)
	}
	es.Epoch = len(ms)
	if len(ms) > 0 {
		acc := ms[len(ms)-1].TestAcc()
		es.TestAcc = &acc
	}
	rs, hasStatus := readRunStatus(e.RunDir)
	if hasStatus {
		es.Host = rs.Host
		if rs.SlurmArrayJobID != "" {
			es.Slurm = rs.SlurmArrayJobID + "_" + rs.SlurmTaskID
		}
	}
	q, queued := queue[e.Index]
	if queued {
		es.Slurm, es.SlurmState = q.ArrayJobID+"_"+strconv.Itoa(q.TaskID), q.State
	}
	_, statErr := os.Stat(e.RunDir)
	switch {
	case finished(e.RunDir, e.Options.Epochs, len(ms)):
		es.State = StateDone
	case queued && q.State == "RUNNING":
		es.State = StateRunning
	case hasStatus && rs.State == StateRunning && alive(rs, host, queueKnown, queued):
		es.State = StateRunning
	case queued:
		es.State = StatePending
	case hasStatus && rs.State == StateFailed:
		es.State, es.Error = StateFailed, rs.Error
	case len(ms) > 0 || hasStatus || statErr == nil && !emptyDir(e.RunDir):
		es.State = StateInterrupted
	}
	return es, nil
}

// alive reports whether the process a status file names still runs. On
// another host it can only trust the file, unless Slurm was asked and does
// not list the task.
func alive(rs RunStatus, host string, queueKnown, queued bool) bool {
	if rs.SlurmJobID != "" && queueKnown {
		return queued
	}
	if rs.Host != host {
		return true
	}
	return rs.PID > 0 && syscall.Kill(rs.PID, 0) == nil
}

func emptyDir(dir string) bool {
	entries, err := os.ReadDir(dir)
	return err == nil && len(entries) == 0
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
