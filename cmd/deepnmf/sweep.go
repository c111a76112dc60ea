package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/experiment/sweep"
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
