package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/experiment"
	"github.com/deepnmf/deepnmf/nnmf"
)

func init() { subcommands = append(subcommands, newBackwardCostCmd) }

type backwardCostOptions struct {
	out, model, backward          string
	iterations                    []int
	batch, steps, warmup, threads int
	asJSON                        bool
}

// backwardCostResult is what `deepnmf backward-cost --json` prints.
type backwardCostResult struct {
	Rows  []experiment.CostRow `json:"rows"`
	Files []string             `json:"files"`
}

func newBackwardCostCmd() *cobra.Command {
	o := backwardCostOptions{}
	cmd := &cobra.Command{
		Use:   "backward-cost",
		Short: "Time per training step and peak memory of each NNMF backward method against T",
		Long: `The speed and memory comparison of spec §4.2: for every --backward method and
every --iterations T, one child process runs 'deepnmf bench --mode train' on
synthetic batches (see 'deepnmf bench --help'), so that the peak resident memory
of each configuration is its own (the child's getrusage maxrss). Rows run one
after another. Writes backward_cost.csv, backward_cost.json and
backward_cost.png/.svg (time per step and peak memory against T, one line per
method) into --out.`,
		Example: `  deepnmf backward-cost --out studies/cost
  deepnmf backward-cost --backward approx,unrolled --iterations 5,20 --steps 5 --out /tmp/cost --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := runBackwardCost(cmd, o)
			if err != nil {
				return err
			}
			if o.asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			printCostRows(cmd.OutOrStdout(), res.Rows)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "output directory (created)")
	f.StringVar(&o.model, "model", "cnmf_1x1", "network preset")
	f.StringVar(&o.backward, "backward", "approx,unrolled,implicit", "comma-separated NNMF backward methods")
	f.IntSliceVar(&o.iterations, "iterations", []int{5, 10, 20, 40}, "NNMF iterations T")
	f.IntVar(&o.batch, "batch-size", 50, "images per batch")
	f.IntVar(&o.steps, "steps", 10, "timed steps per configuration")
	f.IntVar(&o.warmup, "warmup", 2, "untimed steps per configuration")
	f.IntVar(&o.threads, "threads", runtime.NumCPU(), "goroutines per batch")
	f.BoolVar(&o.asJSON, "json", false, "print one JSON object")
	return cmd
}

func runBackwardCost(cmd *cobra.Command, o backwardCostOptions) (*backwardCostResult, error) {
	if o.out == "" {
		return nil, errors.New("backward-cost: give --out DIR")
	}
	methods := strings.Split(o.backward, ",")
	for _, m := range methods {
		if _, err := nnmf.ParseMethod(m); err != nil {
			return nil, fmt.Errorf("backward-cost: --backward: %w", err)
		}
	}
	for _, t := range o.iterations {
		if t < 1 {
			return nil, fmt.Errorf("backward-cost: --iterations must be at least 1, got %d", t)
		}
	}
	if o.batch < 1 || o.steps < 1 || o.warmup < 0 || o.threads < 1 {
		return nil, fmt.Errorf("backward-cost: --batch-size, --steps and --threads must be at least 1 and --warmup not negative (got %d, %d, %d, %d)", o.batch, o.steps, o.threads, o.warmup)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("backward-cost: cannot find the deepnmf binary to run bench in: %w", err)
	}
	co := experiment.CostOptions{Exe: exe, Methods: methods, Iterations: o.iterations, Model: o.model,
		Batch: o.batch, Steps: o.steps, Warmup: o.warmup, Threads: o.threads}
	bar := newProgress(terminalErr(cmd), len(methods)*len(o.iterations), "backward-cost", "config")
	var log io.Writer = io.Discard
	if !o.asJSON {
		log = cmd.ErrOrStderr()
	}
	rows, err := experiment.BackwardCost(cmd.Context(), co, func(r experiment.CostRow) {
		bar.Add(1)
		if terminalErr(cmd) == nil {
			fmt.Fprintf(log, "%s T=%d: %.4f s/step, peak %.0f MiB\n", r.Method, r.Iterations, r.StepSeconds, float64(r.PeakRSSBytes)/(1<<20))
		}
	})
	bar.Finish()
	if err != nil {
		return nil, err
	}
	files, err := experiment.WriteBackwardCost(o.out, rows)
	if err != nil {
		return nil, fmt.Errorf("backward-cost: %w", err)
	}
	return &backwardCostResult{Rows: rows, Files: files}, nil
}

func printCostRows(w io.Writer, rows []experiment.CostRow) {
	fmt.Fprintf(w, "%-17s %5s %12s %10s %14s\n", "backward", "T", "s/step", "images/s", "peak RSS MiB")
	for _, r := range rows {
		fmt.Fprintf(w, "%-17s %5d %12.4f %10.1f %14.1f\n", r.Method, r.Iterations, r.StepSeconds, r.ImagesPerS, float64(r.PeakRSSBytes)/(1<<20))
	}
}
