package sweep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/deepnmf/deepnmf/internal/atomicfile"
)

// SlurmOptions are the sbatch settings of a study's array job. Empty strings
// and zeros leave the cluster's defaults.
type SlurmOptions struct {
	Partition   string
	Time        string // --time, e.g. "2-00:00:00"
	CPUsPerTask int    // default: the plan's threads per run
	Mem         string // --mem, e.g. "4G"
	Account     string
	MaxParallel int // array tasks running at once (the %MAX of --array); 0 = no limit
	// Binary is the deepnmf executable the tasks run (absolute); default
	// os.Executable().
	Binary string
	// SignalSeconds is how long before the time limit Slurm sends USR1
	// (default 90).
	SignalSeconds int
}

// safeValue keeps sbatch values on their line: no newlines, no shell
// metacharacters that would need quoting in a #SBATCH comment.
var safeValue = regexp.MustCompile(`^[A-Za-z0-9_.:@,+=/%-]*$`)

// shellQuote quotes s for bash.
func shellQuote(s string) string {
	if s != "" && regexp.MustCompile(`^[A-Za-z0-9_./:@+=-]+$`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Script returns the sbatch script of the study: one array task per plan
// entry, each running `deepnmf sweep task STUDY --index $SLURM_ARRAY_TASK_ID`.
func Script(p *Plan, o SlurmOptions) (string, error) {
	if len(p.Entries) == 0 {
		return "", errors.New("the plan has no entries")
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("finding the deepnmf binary: %w", err)
		}
		o.Binary = exe
	}
	bin, err := filepath.Abs(o.Binary)
	if err != nil {
		return "", err
	}
	if o.CPUsPerTask == 0 {
		for _, e := range p.Entries {
			o.CPUsPerTask = max(o.CPUsPerTask, e.Options.Threads)
		}
	}
	if o.SignalSeconds == 0 {
		o.SignalSeconds = 90
	}
	switch {
	case o.CPUsPerTask < 1:
		return "", fmt.Errorf("--cpus-per-task must be at least 1, got %d", o.CPUsPerTask)
	case o.MaxParallel < 0:
		return "", fmt.Errorf("--max-parallel must not be negative, got %d", o.MaxParallel)
	case o.SignalSeconds < 1:
		return "", fmt.Errorf("the signal lead time must be at least 1 s, got %d", o.SignalSeconds)
	}
	for flag, v := range map[string]string{"partition": o.Partition, "time": o.Time, "mem": o.Mem, "account": o.Account} {
		if !safeValue.MatchString(v) {
			return "", fmt.Errorf("--%s %q: only letters, digits and _.:@,+=/%%- may appear in an sbatch value", flag, v)
		}
	}
	if strings.ContainsAny(p.Dir, "\n%") {
		return "", fmt.Errorf("the study directory %q contains a newline or %%, which sbatch's --output cannot hold", p.Dir)
	}
	array := fmt.Sprintf("0-%d", len(p.Entries)-1)
	if o.MaxParallel > 0 {
		array += "%" + strconv.Itoa(o.MaxParallel)
	}
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("#!/bin/bash")
	w("# deepnmf study %s", p.Dir)
	w("# %d runs (plan %s; %s). Written by `deepnmf sweep slurm`; edit it", len(p.Entries), p.Spec, p.Budget.Label)
	w("# and resubmit it with sbatch as often as needed: finished runs are skipped, started ones resume.")
	w("#SBATCH --job-name=deepnmf-%s", sanitizeJobName(filepath.Base(p.Dir)))
	w("#SBATCH --array=%s", array)
	w("#SBATCH --cpus-per-task=%d", o.CPUsPerTask)
	if o.Partition != "" {
		w("#SBATCH --partition=%s", o.Partition)
	}
	if o.Time != "" {
		w("#SBATCH --time=%s", o.Time)
	}
	if o.Mem != "" {
		w("#SBATCH --mem=%s", o.Mem)
	}
	if o.Account != "" {
		w("#SBATCH --account=%s", o.Account)
	}
	w("#SBATCH --output=%s", filepath.Join(p.Dir, LogsDir, "%A_%a.out"))
	w("#SBATCH --open-mode=append")
	w("# Slurm may put a task back in the queue (node failure, preemption, the requeue below).")
	w("#SBATCH --requeue")
	w("# USR1 to this shell %d s before the time limit.", o.SignalSeconds)
	w("#SBATCH --signal=B:USR1@%d", o.SignalSeconds)
	w("")
	w("deepnmf=%s", shellQuote(bin))
	w("study=%s", shellQuote(p.Dir))
	w("")
	w("# On USR1 this task asks Slurm to requeue it while it still runs, the way a preemption")
	w("# does: Slurm then sends SIGTERM, on which the task stops within a moment (the epochs")
	w("# finished so far stay in its checkpoint), and starts it again later from there.")
	w("# (Requeueing after the task has exited races with the job's own completion.)")
	w("requeue=0")
	w(`on_usr1() {`)
	w(`  requeue=1`)
	w(`  echo "$(date -u +%%FT%%TZ) time limit near: requeueing job $SLURM_JOB_ID"`)
	w(`  scontrol requeue "$SLURM_JOB_ID" || kill -TERM "$task" 2>/dev/null`)
	w(`}`)
	w("trap on_usr1 USR1")
	w("")
	w(`echo "$(date -u +%%FT%%TZ) task $SLURM_ARRAY_TASK_ID (job ${SLURM_ARRAY_JOB_ID}_$SLURM_ARRAY_TASK_ID, restart ${SLURM_RESTART_COUNT:-0}) on $(hostname)"`)
	w(`"$deepnmf" sweep task "$study" --index "$SLURM_ARRAY_TASK_ID" &`)
	w("task=$!")
	w(`wait "$task"; rc=$?`)
	w("# A trapped signal ends the first wait early; the second one waits for the task itself.")
	w(`if [ "$requeue" = 1 ]; then`)
	w(`  wait "$task"; rc=$?`)
	w(`  echo "$(date -u +%%FT%%TZ) task stopped (exit $rc) before the time limit; it is back in the queue"`)
	w("  exit 0")
	w("fi")
	w("exit $rc")
	return b.String(), nil
}

func sanitizeJobName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// WriteScript writes STUDY_DIR/sweep.sbatch and returns its path.
func WriteScript(p *Plan, o SlurmOptions) (string, error) {
	s, err := Script(p, o)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(p.Dir, LogsDir), 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(p.Dir, ScriptFile)
	if err := atomicfile.WriteFile(path, []byte(s)); err != nil {
		return "", err
	}
	return path, os.Chmod(path, 0o755)
}

// Submission is one sbatch submission of a study, kept in STUDY_DIR/slurm-jobs.json.
type Submission struct {
	JobID     string    `json:"job_id"`
	Cluster   string    `json:"cluster,omitempty"`
	Submitted time.Time `json:"submitted"`
	Script    string    `json:"script"`
}

// Submit runs sbatch on the study's script and records the job id.
func Submit(ctx context.Context, p *Plan) (Submission, error) {
	script := filepath.Join(p.Dir, ScriptFile)
	if _, err := os.Stat(script); err != nil {
		return Submission{}, fmt.Errorf("%w (write it with deepnmf sweep slurm %s)", err, p.Dir)
	}
	cmd := exec.CommandContext(ctx, "sbatch", "--parsable", script)
	cmd.Dir = p.Dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return Submission{}, errors.New("sbatch is not on PATH: submit from a Slurm login node, or run the study here with deepnmf sweep run")
		}
		return Submission{}, fmt.Errorf("sbatch %s: %w: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	// --parsable prints "jobid" or "jobid;cluster".
	line := strings.TrimSpace(string(out))
	id, cluster, _ := strings.Cut(line, ";")
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return Submission{}, fmt.Errorf("sbatch printed %q, not a job id", line)
	}
	sub := Submission{JobID: id, Cluster: cluster, Submitted: time.Now().UTC(), Script: ScriptFile}
	subs, err := LoadSubmissions(p.Dir)
	if err != nil {
		return sub, err
	}
	subs = append(subs, sub)
	raw, err := json.MarshalIndent(subs, "", "  ")
	if err != nil {
		return sub, err
	}
	return sub, atomicfile.WriteFile(filepath.Join(p.Dir, JobsFile), append(raw, '\n'))
}

// LoadSubmissions reads STUDY_DIR/slurm-jobs.json (none yet: empty).
func LoadSubmissions(studyDir string) ([]Submission, error) {
	path := filepath.Join(studyDir, JobsFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var subs []Submission
	if err := json.Unmarshal(raw, &subs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return subs, nil
}

// QueuedTask is an array task that squeue still lists.
type QueuedTask struct {
	ArrayJobID string `json:"array_job_id"`
	TaskID     int    `json:"task_id"`
	JobID      string `json:"job_id"`
	State      string `json:"state"` // PENDING, RUNNING, ...
}

// Queue asks squeue for the tasks of the given array jobs, by task id (=
// plan index). The later submission wins when a task is listed twice. An
// error means squeue is unavailable or failed; status then relies on the
// tasks' own status files.
func Queue(ctx context.Context, jobIDs []string) (map[int]QueuedTask, error) {
	out := map[int]QueuedTask{}
	if len(jobIDs) == 0 {
		return out, nil
	}
	cmd := exec.CommandContext(ctx, "squeue", "--noheader", "--array", "--jobs", strings.Join(jobIDs, ","), "--format", "%F|%K|%i|%T")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		// squeue fails on ids it no longer knows; ask one by one then.
		if len(jobIDs) > 1 {
			for _, id := range jobIDs {
				m, err1 := Queue(ctx, []string{id})
				if err1 != nil {
					continue
				}
				for k, v := range m {
					out[k] = v
				}
			}
			return out, nil
		}
		if strings.Contains(stderr.String(), "Invalid job id") {
			return out, nil
		}
		return nil, fmt.Errorf("squeue: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	order := map[string]int{}
	for i, id := range jobIDs {
		order[id] = i
	}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 4 {
			continue
		}
		task, err := strconv.Atoi(f[1])
		if err != nil {
			continue // an array's pending remainder ("0-3%2") is expanded by --array
		}
		q := QueuedTask{ArrayJobID: f[0], TaskID: task, JobID: f[2], State: f[3]}
		if old, ok := out[task]; ok && order[old.ArrayJobID] > order[q.ArrayJobID] {
			continue
		}
		out[task] = q
	}
	return out, nil
}
