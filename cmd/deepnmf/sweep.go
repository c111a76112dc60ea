package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/deepnmf/deepnmf/experiment/sweep"
	"github.com/deepnmf/deepnmf/train"
)

func init() { subcommands = append(subcommands, newSweepCmd) }

func newSweepCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Plan, run and summarise studies of many runs, here or as a Slurm array job",
		Long: `A study is a directory holding a plan (one entry per training run: networks ×
seeds × any grid of training options) and the runs' directories. Run it on this
machine (sweep run), or on a Slurm cluster as one array job (sweep slurm --submit;
each task runs sweep task). Every process resumes runs from their last checkpoint
and skips finished ones, so a study can be killed, resubmitted and continued at
any time. sweep collect makes the accuracy table (mean ± std over seeds).`,
		Example: `  deepnmf sweep plan paper --epochs 3 --limit-train 10000 --seeds 2 --out study
  deepnmf sweep run study --jobs 2
  deepnmf sweep slurm study --partition cpu --time 2-00:00:00 --submit
  deepnmf sweep status study
  deepnmf sweep collect study`,
	}
	cmd.AddCommand(newSweepPlanCmd(), newSweepRunCmd(), newSweepTaskCmd(), newSweepSlurmCmd(), newSweepStatusCmd(), newSweepCollectCmd())
	return cmd
}

type sweepPlanOptions struct {
	out    string
	budget sweep.BudgetFlags
}

func newSweepPlanCmd() *cobra.Command {
	var o sweepPlanOptions
	cmd := &cobra.Command{
		Use:   "plan SPEC.json|paper|balance --out STUDY_DIR",
		Short: "Expand a study spec into STUDY_DIR/plan.json",
		Long: `Expand a study spec into STUDY_DIR/plan.json: one entry per run, each with its
complete training options and its run directory STUDY_DIR/runs/<model>-<dataset>-seed<S>[-<axis>=<value>…].

SPEC.json is a JSON object: "models" (preset names or network config files,
relative to the spec file), "seeds" (a list), and any deepnmf train option under
its flag name in snake_case (dataset, epochs, limit_train, limit_test, lr_a,
iterations, backward, augment, batch_size, threads, …). A list is a grid axis,
a single value applies to every run. Example (four runs):

  {"models": ["cnmf_1x1", "cnn_1x1"], "seeds": [1, 2], "dataset": "mnist", "epochs": 1, "limit_train": 300}

Options not given are the paper's protocol (cifar10, batch 50, 500 epochs, the
official learning rates), with 1 thread per run. Config files are copied into
STUDY_DIR/configs.

Built-in specs, on CIFAR-10 with the paper's protocol unless the budget flags
reduce it (a reduced budget is labelled in status and collect):
  paper    cnn, cnmf, cnn_1x1, cnmf_1x1 (the accuracy table, spec §4.1) × 5 seeds
  balance  the parameter-balance family (deepnmf inspect --balance) × 3 seeds
Seeds are 21, 22, … (21 is the official seed).`,
		Example: `  deepnmf sweep plan paper --out study
  deepnmf sweep plan paper --epochs 3 --limit-train 10000 --seeds 2 --out study-small
  deepnmf sweep plan balance --seeds 3 --threads 4 --out balance
  deepnmf sweep plan my-spec.json --out my-study`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.out == "" {
				return errors.New("--out STUDY_DIR is required")
			}
			var spec *sweep.Spec
			var err error
			switch args[0] {
			case "paper", "balance":
				if o.budget.DataDir != "" {
					if o.budget.DataDir, err = filepath.Abs(o.budget.DataDir); err != nil {
						return err
					}
				}
				if args[0] == "paper" {
					spec, err = sweep.PaperSpec(o.budget)
				} else {
					spec, err = sweep.BalanceSpec(o.budget)
				}
			default:
				for _, name := range []string{"epochs", "limit-train", "limit-test", "seeds", "threads", "data-dir"} {
					if cmd.Flags().Changed(name) {
						return fmt.Errorf("--%s is for the built-in specs; put %s into %s instead", name, strings.ReplaceAll(name, "-", "_"), args[0])
					}
				}
				spec, err = sweep.ReadSpec(args[0])
			}
			if err != nil {
				return err
			}
			p, err := spec.WritePlan(o.out)
			if err != nil {
				return err
			}
			groups := map[string]bool{}
			for _, e := range p.Entries {
				groups[e.Group] = true
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d runs in %d groups (%s)\n", filepath.Join(p.Dir, sweep.PlanFile), len(p.Entries), len(groups), p.Budget.Label)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "study directory to create")
	f.IntVar(&o.budget.Epochs, "epochs", sweep.PaperEpochs, "epoch cap per run (built-in specs)")
	f.IntVar(&o.budget.LimitTrain, "limit-train", 0, "train on the first N training images only (built-in specs; 0 = all)")
	f.IntVar(&o.budget.LimitTest, "limit-test", 0, "test on the first N test images only (built-in specs; 0 = all)")
	f.IntVar(&o.budget.Seeds, "seeds", 0, "runs per network (built-in specs; default 5 for paper, 3 for balance)")
	f.IntVar(&o.budget.Threads, "threads", 1, "threads per run, fixed in the plan (a run is bit-reproducible for a given count)")
	f.StringVar(&o.budget.DataDir, "data-dir", "", "data directory recorded in the plan (default $DEEPNMF_DATA, else the user cache)")
	return cmd
}

type sweepSlurmOptions struct {
	slurm  sweep.SlurmOptions
	submit bool
}

func newSweepSlurmCmd() *cobra.Command {
	var o sweepSlurmOptions
	cmd := &cobra.Command{
		Use:   "slurm STUDY_DIR",
		Short: "Write the study's Slurm array script (and submit it with --submit)",
		Long: `Write STUDY_DIR/sweep.sbatch: one array job with a task per plan entry
(--array=0-(N-1)%MAX), each running "deepnmf sweep task STUDY_DIR --index
$SLURM_ARRAY_TASK_ID" with this deepnmf binary (its absolute path; keep it on a
file system the nodes see). Logs go to STUDY_DIR/logs/<job>_<task>.out.

The script asks for USR1 90 s before the time limit (--signal=B:USR1@90) and
traps it: the task stops at its next safe point, keeping the epochs finished so
far in its checkpoint, and the task requeues itself (scontrol requeue), resuming
where it stopped. A cancelled, preempted or failed task resumes from its last
checkpoint whenever the script is submitted again; finished runs are skipped.
The script is plain bash: edit and resubmit it with sbatch as you like.

--submit runs sbatch and records the job id in STUDY_DIR/slurm-jobs.json, which
sweep status uses to ask squeue.`,
		Example: `  deepnmf sweep slurm study --partition cpu --time 2-00:00:00 --mem 4G --max-parallel 20 --submit`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := sweep.LoadPlan(args[0])
			if err != nil {
				return err
			}
			path, err := sweep.WriteScript(p, o.slurm)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "wrote %s (%d array tasks)\n", path, len(p.Entries))
			if !o.submit {
				fmt.Fprintf(w, "submit with: sbatch %s   (or: deepnmf sweep slurm %s --submit)\n", path, args[0])
				return nil
			}
			sub, err := sweep.Submit(cmd.Context(), p)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "submitted array job %s; follow it with: deepnmf sweep status %s\n", sub.JobID, args[0])
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.slurm.Partition, "partition", "", "Slurm partition (default: the cluster's)")
	f.StringVar(&o.slurm.Time, "time", "", "time limit per task, e.g. 2-00:00:00 (default: the partition's)")
	f.IntVar(&o.slurm.CPUsPerTask, "cpus-per-task", 0, "CPUs per task (default: the plan's threads per run)")
	f.StringVar(&o.slurm.Mem, "mem", "", "memory per task, e.g. 4G (default: the cluster's)")
	f.StringVar(&o.slurm.Account, "account", "", "Slurm account to charge")
	f.IntVar(&o.slurm.MaxParallel, "max-parallel", 0, "array tasks running at once (0 = no limit)")
	f.BoolVar(&o.submit, "submit", false, "submit the script with sbatch and record the job id")
	return cmd
}

type sweepStatusOptions struct{ asJSON bool }

func newSweepStatusCmd() *cobra.Command {
	var o sweepStatusOptions
	cmd := &cobra.Command{
		Use:   "status STUDY_DIR",
		Short: "Show every run of a study: done, running, pending, interrupted, failed or not started",
		Long: `Show every run of a study: its state (done, running, pending in the Slurm
queue, interrupted (started and resumable), failed, not started), the epochs
finished, the test accuracy after the last one, and for Slurm the array job
and task (from squeue when it is available, else from the task's own status file).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := sweep.Status(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if o.asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(st)
			}
			printSweepStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print one JSON object")
	return cmd
}

func printSweepStatus(w io.Writer, st sweep.StudyStatus) {
	fmt.Fprintf(w, "study %s (%s)\n", st.Study, st.Budget)
	var parts []string
	for _, s := range []string{sweep.StateDone, sweep.StateRunning, sweep.StatePending, sweep.StateInterrupted, sweep.StateFailed, sweep.StateNotStarted} {
		if n := st.Counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	fmt.Fprintf(w, "%d runs: %s; %d of %d epochs\n", len(st.Entries), strings.Join(parts, ", "), st.Epochs, st.Total)
	if st.SlurmError != "" {
		fmt.Fprintf(w, "(squeue: %s)\n", st.SlurmError)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "index\trun\tstate\tepoch\ttest acc %\tslurm\t")
	for _, e := range st.Entries {
		acc := "–"
		if e.TestAcc != nil {
			acc = fmt.Sprintf("%.2f", *e.TestAcc)
		}
		slurm := e.Slurm
		if e.SlurmState != "" {
			slurm += " " + e.SlurmState
		}
		state := e.State
		if e.Error != "" {
			state += ": " + e.Error
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%s\t%s\t\n", e.Index, e.Name, state, e.Epoch, e.Epochs, acc, slurm)
	}
	tw.Flush()
}

type sweepCollectOptions struct {
	asJSON bool
	out    string
}

func newSweepCollectCmd() *cobra.Command {
	var o sweepCollectOptions
	cmd := &cobra.Command{
		Use:   "collect STUDY_DIR | RUN_DIR...",
		Short: "Summarise a study (or any run directories) into a table: mean ± std over seeds",
		Long: `Summarise the runs of a study by group (runs that differ only in their seed):
mean ± sample standard deviation of the final and the best test accuracy, the
parameter count, epochs, wall time per run, and the study's budget. For the
networks of the paper's accuracy table (cnn, cnmf, cnn_1x1, cnmf_1x1 on CIFAR-10)
the paper's figures (spec §4.1) stand beside this study's, labelled "paper" and
"this study".

Writes table.csv, table.json and table.md into --out (default STUDY_DIR) and
prints the Markdown table (--json: the JSON). Given run directories instead of a
study, groups them by their options.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t sweep.Table
			var err error
			out := o.out
			if _, statErr := os.Stat(filepath.Join(args[0], sweep.PlanFile)); statErr == nil && len(args) == 1 {
				t, err = sweep.CollectStudy(args[0])
				if out == "" {
					out = args[0]
				}
			} else {
				t, err = sweep.Collect(args)
			}
			if err != nil {
				return err
			}
			if out != "" {
				if err := t.WriteFiles(out); err != nil {
					return err
				}
			}
			if o.asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(t)
			}
			return t.WriteMarkdown(cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the table as one JSON object")
	cmd.Flags().StringVar(&o.out, "out", "", "directory for table.csv, table.json and table.md (default: STUDY_DIR; none for run directories)")
	return cmd
}

type sweepRunOptions struct {
	local sweep.LocalOptions
}

func newSweepRunCmd() *cobra.Command {
	var o sweepRunOptions
	cmd := &cobra.Command{
		Use:   "run STUDY_DIR",
		Short: "Run a study's unfinished runs on this machine, --jobs at a time",
		Long: `Train every unfinished run of the study on this machine, --jobs at a time
(default: the CPU count divided by the threads per run; jobs × threads may not
exceed the CPU count unless --oversubscribe). Finished runs are skipped, started
ones resume from their last checkpoint: the command may be stopped (Ctrl-C), or
killed outright, at any moment and given again, without losing or repeating an
epoch that was finished. Runs of the same dataset share one loaded copy.

Shows a line for the study (runs done, epochs left, ETA) and one per running job,
redrawn on a terminal and printed every 30 s otherwise. Each run's training log
goes to RUN_DIR/train.log. Runs another process holds (a Slurm task, another
sweep run) are left to it.`,
		Example: `  deepnmf sweep run study --jobs 2`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := sweep.LoadPlan(args[0])
			if err != nil {
				return err
			}
			o.local.Out = cmd.OutOrStdout()
			if f, ok := o.local.Out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				o.local.Terminal = true
			}
			rep, err := sweep.RunLocal(cmd.Context(), p, o.local)
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%d runs finished now, %d were already done", rep.Finished, rep.AlreadyDone)
			if len(rep.Busy) > 0 {
				fmt.Fprintf(w, ", %d held by another process (%s)", len(rep.Busy), strings.Join(rep.Busy, ", "))
			}
			fmt.Fprintln(w)
			if errors.Is(err, train.ErrInterrupted) {
				return fmt.Errorf("%w; the runs keep their checkpoints: continue with deepnmf sweep run %s", err, args[0])
			}
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.local.Jobs, "jobs", 0, "runs trained at once (default: CPUs / threads per run)")
	f.IntVar(&o.local.Threads, "threads", 0, "threads per run (default: the plan's; another count changes the runs' bits)")
	f.BoolVar(&o.local.Oversubscribe, "oversubscribe", false, "allow jobs × threads above the CPU count")
	return cmd
}

type sweepTaskOptions struct {
	index   int
	threads int
}

func newSweepTaskCmd() *cobra.Command {
	var o sweepTaskOptions
	cmd := &cobra.Command{
		Use:   "task STUDY_DIR --index I",
		Short: "Start or resume one run of a study (what a Slurm array task runs)",
		Long: `Start or resume the run of plan entry --index and train it to its end; a
finished run is left as it is. This is what each task of the array job of
deepnmf sweep slurm runs, with --index $SLURM_ARRAY_TASK_ID. It writes nothing
outside the run's directory, where RUN_DIR/sweep-status.json records its state,
host and Slurm job. SIGUSR1, SIGTERM or SIGINT stop it at its next safe point:
the epochs finished so far stay in the run's checkpoint.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("index") {
				return errors.New("--index is required (the plan entry, 0-based)")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGUSR1)
			defer stop()
			sum, err := sweep.RunTask(ctx, args[0], o.index, sweep.TaskOptions{Threads: o.threads, Log: cmd.OutOrStdout()})
			if errors.Is(err, sweep.ErrDone) {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: already finished (%d epochs); nothing to do\n", sum.RunDir, sum.Epochs)
				return nil
			}
			return err
		},
	}
	cmd.Flags().IntVar(&o.index, "index", 0, "plan entry to run (0-based; $SLURM_ARRAY_TASK_ID in the array job)")
	cmd.Flags().IntVar(&o.threads, "threads", 0, "threads (default: the plan's; another count changes the run's bits)")
	return cmd
}
