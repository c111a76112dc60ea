package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/kernels"
	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/nnmf"
	"github.com/deepnmf/deepnmf/train"
)

func init() { subcommands = append(subcommands, newBenchCmd) }

// benchBatches is the number of synthetic batches used in turn, so that a
// step never reruns on exactly the input it has just seen.
const benchBatches = 4

// benchInputChannels matches pytorch_cnmf.py, which times 3-channel images.
const benchInputChannels = 3

type benchOptions struct {
	model, config, backward, mode, cpuProfile string
	batch, input, steps, warmup, threads      int
	iterations                                int
	seed                                      uint64
	asJSON                                    bool
	maxMemory                                 nn.ByteSize
}

// benchPhase is the result of one mode (train or infer).
type benchPhase struct {
	ImagesPerSMedian float64 `json:"images_per_s_median"`
	ImagesPerSMin    float64 `json:"images_per_s_min"`
	ImagesPerSMax    float64 `json:"images_per_s_max"`
	StepSMedian      float64 `json:"step_s_median"`
	// AllocsPerStep is the heap allocations of the timed steps divided by
	// their number (runtime.MemStats.Mallocs).
	AllocsPerStep float64 `json:"allocs_per_step"`
	// PeakRSSBytes is the process's peak resident set at the end of the phase
	// (getrusage maxrss), so the second phase's figure includes the first's.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	Correct      int   `json:"correct"` // over the timed steps; keeps the count from being optimised away
}

type benchResult struct {
	Model      string      `json:"model"`
	Batch      int         `json:"batch"`
	Input      int         `json:"input"`
	Threads    int         `json:"threads"`
	CPUPath    string      `json:"cpu_path"`
	GoVersion  string      `json:"go_version"`
	Iterations int         `json:"iterations"`
	Backward   string      `json:"backward"`
	Params     int         `json:"params"`
	Steps      int         `json:"steps"`
	Warmup     int         `json:"warmup"`
	Seed       uint64      `json:"seed"`
	Train      *benchPhase `json:"train,omitempty"`
	Infer      *benchPhase `json:"infer,omitempty"`
}

func newBenchCmd() *cobra.Command {
	o := benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Time training steps and inference passes on synthetic data (images/s, peak RSS)",
		Long: `Time what ../shared/bench/pytorch_cnmf.py times, so that the two compare:
the network is built from a preset or a config with the official initialisation,
the input is 4 seeded batches of uniform [0,1) 3-channel images (--input × --input)
with random labels, used in turn. No data loading or augmentation is timed.

  train  forward + loss (official loss mode 0) + backward + the update of every
         Adam (one per non-empty parameter group, official learning rates) +
         the training-accuracy count
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
				o.model = ""
			}
			res, err := runBench(o)
			if err != nil {
				return err
			}
			if o.asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				return enc.Encode(res)
			}
			printBench(cmd.OutOrStdout(), res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "cnmf_1x1", "network preset: "+strings.Join(nn.PresetNames(), ", "))
	f.StringVar(&o.config, "config", "", "network config file in the official JSON format (instead of --model)")
	f.IntVar(&o.batch, "batch", 50, "images per batch")
	f.IntVar(&o.input, "input", 28, "image height and width (the crop)")
	f.IntVar(&o.steps, "steps", 20, "timed steps per mode")
	f.IntVar(&o.warmup, "warmup", 3, "untimed steps per mode before the timed ones")
	f.IntVar(&o.threads, "threads", runtime.NumCPU(), "goroutines per batch")
	f.IntVar(&o.iterations, "iterations", 0, "NNMF iterations of the a/b layers (0 = the config's)")
	f.StringVar(&o.backward, "backward", nnmf.Approx.String(), "NNMF backward: approx|unrolled|implicit|last_iter|last_iter_sqrt_t")
	f.StringVar(&o.mode, "mode", "both", "what to time: train|infer|both")
	f.Uint64Var(&o.seed, "seed", 0, "seed of the weights and the synthetic batches")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the timed steps to this file (go tool pprof)")
	f.BoolVar(&o.asJSON, "json", false, "print one JSON object")
	f.Var(&o.maxMemory, "max-memory", maxMemoryUsage)
	return cmd
}

func runBench(o benchOptions) (*benchResult, error) {
	doTrain, doInfer := o.mode == "train" || o.mode == "both", o.mode == "infer" || o.mode == "both"
	switch {
	case !doTrain && !doInfer:
		return nil, fmt.Errorf("bench: --mode %q: want train, infer or both", o.mode)
	case o.batch < 1 || o.input < 1 || o.threads < 1:
		return nil, fmt.Errorf("bench: --batch, --input and --threads must be at least 1 (got %d, %d, %d)", o.batch, o.input, o.threads)
	case o.steps < 1 || o.warmup < 0:
		return nil, fmt.Errorf("bench: --steps must be at least 1 and --warmup not negative (got %d, %d)", o.steps, o.warmup)
	case o.iterations < 0:
		return nil, fmt.Errorf("bench: --iterations must not be negative, got %d", o.iterations)
	}
	method, err := nnmf.ParseMethod(o.backward)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	var cfg *nn.Config
	name := o.model
	if o.config != "" {
		cfg, err = nn.LoadConfig(o.config)
		name = o.config
	} else {
		cfg, err = nn.Preset(o.model)
	}
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	in := nn.Shape{C: benchInputChannels, H: o.input, W: o.input}
	net, err := nn.Build(cfg, in, o.batch, nn.Options{Threads: o.threads, Backward: method, Iterations: o.iterations, MaxMemory: int64(o.maxMemory), Optimizer: true}, o.seed)
	if err != nil {
		return nil, fmt.Errorf("bench: %s on input %d×%d×%d: %w", name, in.C, in.H, in.W, err)
	}
	defer net.Close()
	stepper, err := train.NewStepper(net, train.DefaultConfig(), o.batch)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}

	// A stream of its own, so the batches do not depend on the weights' draws.
	rng := rand.New(rand.NewPCG(o.seed, 0xbe0c4))
	imageLen := in.C * in.H * in.W
	xs := make([][]float32, benchBatches)
	labels := make([][]int, benchBatches)
	for b := range xs {
		xs[b] = make([]float32, o.batch*imageLen)
		for i := range xs[b] {
			xs[b][i] = rng.Float32()
		}
		labels[b] = make([]int, o.batch)
		for i := range labels[b] {
			labels[b][i] = rng.IntN(net.Classes())
		}
	}

	iterations := cfg.Iterations
	if o.iterations > 0 {
		iterations = o.iterations
	}
	total, _ := net.ParamCount()
	res := &benchResult{
		Model: name, Batch: o.batch, Input: o.input, Threads: o.threads,
		CPUPath: kernels.ActivePath().String(), GoVersion: runtime.Version(),
		Iterations: iterations, Backward: method.String(), Params: total,
		Steps: o.steps, Warmup: o.warmup, Seed: o.seed,
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if doTrain {
		res.Train, err = timeSteps(o, func(b int) (int, error) {
			correct, _, err := stepper.TrainStep(xs[b], labels[b])
			return correct, err
		})
		if err != nil {
			return nil, fmt.Errorf("bench: train step: %w", err)
		}
	}
	if doInfer {
		res.Infer, err = timeSteps(o, func(b int) (int, error) { return stepper.Infer(xs[b], labels[b]) })
		if err != nil {
			return nil, fmt.Errorf("bench: inference: %w", err)
		}
	}
	return res, nil
}

// timeSteps runs step on the batches in turn: o.warmup untimed calls, then
// o.steps calls each timed on its own.
func timeSteps(o benchOptions, step func(batch int) (correct int, err error)) (*benchPhase, error) {
	for i := range o.warmup {
		if _, err := step(i % benchBatches); err != nil {
			return nil, err
		}
	}
	seconds := make([]float64, o.steps)
	phase := &benchPhase{}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range o.steps {
		start := time.Now()
		correct, err := step((o.warmup + i) % benchBatches)
		seconds[i] = time.Since(start).Seconds()
		if err != nil {
			return nil, err
		}
		phase.Correct += correct
	}
	runtime.ReadMemStats(&after)
	phase.AllocsPerStep = float64(after.Mallocs-before.Mallocs) / float64(o.steps)

	slices.Sort(seconds)
	images := float64(o.batch)
	phase.StepSMedian = median(seconds)
	phase.ImagesPerSMedian = images / phase.StepSMedian
	phase.ImagesPerSMin = images / seconds[len(seconds)-1]
	phase.ImagesPerSMax = images / seconds[0]
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		phase.PeakRSSBytes = int64(ru.Maxrss) * 1024 // Linux reports KiB
	}
	return phase, nil
}

// median of sorted values; the mean of the middle two for an even count, as
// Python's statistics.median.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func printBench(w io.Writer, r *benchResult) {
	fmt.Fprintf(w, "model %s  params %s  input %dx%dx%d  batch %d  T=%d  backward %s\n",
		r.Model, groupDigits(r.Params), benchInputChannels, r.Input, r.Input, r.Batch, r.Iterations, r.Backward)
	fmt.Fprintf(w, "%s  CPU path %s  threads %d  timed steps %d (+%d warm-up)\n",
		r.GoVersion, r.CPUPath, r.Threads, r.Steps, r.Warmup)
	fmt.Fprintf(w, "  %-7s %12s %19s %14s %12s %14s\n", "mode", "images/s", "min–max", "median s/step", "allocs/step", "peak RSS MiB")
	for _, p := range []struct {
		name  string
		phase *benchPhase
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
