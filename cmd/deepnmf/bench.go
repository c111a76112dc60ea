package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/kernels"
	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/nnmf"
	"github.com/deepnmf/deepnmf/train"
)

func init() { subcommands = append(subcommands, newBenchCmd) }

type benchFlags struct {
	o                     train.BenchOptions
	backward, mode, input string
	threads               []int
	asJSON                bool
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Time training steps and inference passes on synthetic data (images/s, peak RSS)",
		Long: `Time what ../shared/bench/pytorch_cnmf.py times, so that the two compare:
the network is built from a preset or a config with the official initialisation,
the input is 4 seeded batches of uniform [0,1) images (--input C,H,W, or H for
3×H×H) with random labels, used in turn. No data loading or augmentation is timed.

  train  forward + loss (official loss mode 0) + backward + the update of every
         Adam (one per non-empty parameter group, official learning rates) +
         the training-accuracy count: the training loop's own step
  infer  forward in evaluation mode + the accuracy count

Every step is timed on its own after --warmup untimed ones; the median, min and
max images/s are reported, with the peak RSS, the heap allocations per timed step
(0 in steady state), the parameter count, the CPU path and the thread count.`,
		Example: `  deepnmf bench --model cnmf_1x1 --threads 2 --steps 20 --warmup 3
  deepnmf bench --model cnmf_1x1 --backward unrolled --mode train --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("config") && cmd.Flags().Changed("model") {
				return errors.New("bench: give --model or --config, not both")
			}
			if cmd.Flags().Changed("config") {
				f.o.Model = ""
			}
			var err error
			if f.o.Backward, err = nnmf.ParseMethod(f.backward); err != nil {
				return fmt.Errorf("bench: --backward: %w", err)
			}
			switch f.mode {
			case "train":
				f.o.Train = true
			case "infer":
				f.o.Infer = true
			case "both":
				f.o.Train, f.o.Infer = true, true
			default:
				return fmt.Errorf("bench: --mode %q: want train, infer or both", f.mode)
			}
			if f.o.Input, err = parseShape(f.input, 3); err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			if f.o.Steps < 1 || f.o.Warmup < 0 {
				return fmt.Errorf("bench: --steps must be at least 1 and --warmup not negative (got %d, %d)", f.o.Steps, f.o.Warmup)
			}
			if f.o.Warmup == 0 {
				f.o.Warmup = -1 // an explicit 0 means none
			}
			if n := train.PrecisionNotice(f.o.Precision); n != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "bench: "+n)
			}
			var results []*train.BenchResult
			for _, n := range f.threads {
				if n < 1 {
					return fmt.Errorf("bench: --threads must be at least 1, got %d", n)
				}
				o := f.o
				o.Threads = n
				res, err := train.Bench(o)
				if err != nil {
					return err
				}
				results = append(results, res)
			}
			w := cmd.OutOrStdout()
			if f.asJSON {
				if len(results) == 1 {
					return json.NewEncoder(w).Encode(results[0])
				}
				return json.NewEncoder(w).Encode(results)
			}
			for i, res := range results {
				if i > 0 {
					fmt.Fprintln(w)
				}
				printBench(w, res)
			}
			if len(results) > 1 {
				printScaling(w, results)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.o.Model, "model", "cnmf_1x1", "network preset: "+strings.Join(nn.PresetNames(), ", "))
	fl.StringVar(&f.o.Config, "config", "", "network config file in the official JSON format (instead of --model)")
	fl.IntVar(&f.o.BatchSize, "batch-size", 50, "images per batch")
	fl.StringVar(&f.input, "input", "3,28,28", "input shape C,H,W (or H for 3×H×H)")
	fl.IntVar(&f.o.Steps, "steps", 20, "timed steps per mode")
	fl.IntVar(&f.o.Warmup, "warmup", 3, "untimed steps per mode before the timed ones")
	fl.IntSliceVar(&f.threads, "threads", []int{runtime.NumCPU()}, "goroutines per batch; a list (1,2,4) times each count and prints the parallel efficiency")
	fl.IntVar(&f.o.Iterations, "iterations", 0, "NNMF iterations of the a/b layers (0 = the config's)")
	fl.StringVar(&f.backward, "backward", nnmf.Approx.String(), "NNMF backward: approx|unrolled|implicit|last_iter|last_iter_sqrt_t")
	fl.StringVar(&f.mode, "mode", "both", "what to time: train|infer|both")
	fl.TextVar(&f.o.Precision, "precision", kernels.Float32, precisionHelp)
	fl.Uint64Var(&f.o.Seed, "seed", 0, "seed of the weights and the synthetic batches")
	fl.StringVar(&f.o.CPUProfile, "cpuprofile", "", "write a CPU profile of the timed steps to this file (go tool pprof)")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON object")
	addMaxMemoryFlag(fl, &f.o.MaxMemory)
	hiddenAlias(fl, "batch", "batch-size")
	return cmd
}

func printBench(w io.Writer, r *train.BenchResult) {
	fmt.Fprintf(w, "model %s  params %s  input %dx%dx%d  batch %d  T=%d  backward %s  precision %s\n",
		r.Model, groupDigits(r.Params), r.Input[0], r.Input[1], r.Input[2], r.Batch, r.Iterations, r.Backward, r.Precision)
	fmt.Fprintf(w, "%s  CPU path %s  threads %d  timed steps %d (+%d warm-up)\n",
		r.GoVersion, r.CPUPath, r.Threads, r.Steps, r.Warmup)
	fmt.Fprintf(w, "  %-7s %12s %19s %14s %12s %14s\n", "mode", "images/s", "min–max", "median s/step", "allocs/step", "peak RSS MiB")
	for _, p := range []struct {
		name  string
		phase *train.BenchPhase
	}{{"train", r.Train}, {"infer", r.Infer}} {
		if p.phase == nil {
			continue
		}
		ph := p.phase
		fmt.Fprintf(w, "  %-7s %12.1f %19s %14.4f %12.1f %14.1f\n", p.name, ph.ImagesPerSMedian,
			fmt.Sprintf("%.1f–%.1f", ph.ImagesPerSMin, ph.ImagesPerSMax), ph.StepSMedian, ph.AllocsPerStep,
			float64(ph.PeakRSSBytes)/(1<<20))
	}
}

// printScaling prints each thread count's speed-up and parallel efficiency
// against the first count of the list.
func printScaling(w io.Writer, results []*train.BenchResult) {
	base := results[0]
	fmt.Fprintf(w, "\nscaling against %d thread%s (speed-up, parallel efficiency = speed-up / thread ratio):\n", base.Threads, map[bool]string{true: "", false: "s"}[base.Threads == 1])
	for _, r := range results {
		ratio := float64(r.Threads) / float64(base.Threads)
		line := fmt.Sprintf("  %3d threads:", r.Threads)
		for _, p := range []struct {
			name string
			a, b *train.BenchPhase
		}{{"train", base.Train, r.Train}, {"infer", base.Infer, r.Infer}} {
			if p.a == nil || p.b == nil {
				continue
			}
			up := p.b.ImagesPerSMedian / p.a.ImagesPerSMedian
			line += fmt.Sprintf("  %s %.2f× (%.0f %%)", p.name, up, 100*up/ratio)
		}
		fmt.Fprintln(w, line)
	}
}

// precisionHelp describes --precision, the same flag on train, eval and bench.
const precisionHelp = "NNMF forward precision: float32 | bf16 (opt-in: both NNMF products with bf16 operands and float32 accumulation, on CPUs with AVX512_BF16; elsewhere float32, with a notice; the backward is float32)"
