package train

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/deepnmf/deepnmf/kernels"
	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/nnmf"
)

// benchBatches is the number of synthetic batches used in turn, so that a
// step never reruns on exactly the input it has just seen.
const benchBatches = 4

// BenchOptions sets up Bench; the zero value of a field takes its default.
type BenchOptions struct {
	Model, Config string // preset name, or network config file (wins)
	Network       *nn.Config
	Input         nn.Shape          // one image; default 3×28×28 (what pytorch_cnmf.py times)
	BatchSize     int               // default 50
	Steps, Warmup int               // timed and untimed steps per mode (defaults 20 and 3; Warmup −1 = none)
	Threads       int               // default: all cores
	Iterations    int               // > 0 overrides the config's NNMF iterations
	Backward      nnmf.Method       // NNMF backward method
	Precision     kernels.Precision // NNMF forward precision (float32 where bf16 is not available)
	Train, Infer  bool              // what to time; neither means both
	Seed          uint64
	CPUProfile    string // write a CPU profile of the timed steps here
	MaxMemory     int64  // the network's memory budget (nn.Options.MaxMemory; 0 = half of the RAM)
}

// BenchPhase is the result of one mode (train or infer).
type BenchPhase struct {
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

// BenchResult is what Bench measured and on what.
type BenchResult struct {
	Model      string `json:"model"`
	Batch      int    `json:"batch_size"`
	Input      []int  `json:"input"` // C, H, W
	Threads    int    `json:"threads"`
	CPUPath    string `json:"cpu_path"`
	GoVersion  string `json:"go_version"`
	Iterations int    `json:"iterations"`
	Backward   string `json:"backward"`
	// Precision is the precision the NNMF forwards ran in, PrecisionAsked
	// the one requested (they differ where bf16 falls back to float32).
	Precision      string      `json:"precision"`
	PrecisionAsked string      `json:"precision_requested"`
	Params         int         `json:"params"`
	Steps          int         `json:"steps"`
	Warmup         int         `json:"warmup"`
	Seed           uint64      `json:"seed"`
	Train          *BenchPhase `json:"train,omitempty"`
	Infer          *BenchPhase `json:"infer,omitempty"`
}

// Bench times what ../shared/bench/pytorch_cnmf.py times, so that the two
// compare: the network of o with the official initialisation, fed seeded
// batches of uniform [0,1) images with random labels, used in turn (no data
// loading or augmentation is timed). A training step is the Stepper's (the
// engine's step); an inference pass is the test loop's.
func Bench(o BenchOptions) (*BenchResult, error) {
	if o.Input == (nn.Shape{}) {
		o.Input = nn.Shape{C: 3, H: 28, W: 28}
	}
	if o.BatchSize == 0 {
		o.BatchSize = 50
	}
	if o.Steps == 0 {
		o.Steps = 20
	}
	switch o.Warmup {
	case 0:
		o.Warmup = 3
	case -1:
		o.Warmup = 0
	}
	if o.Threads == 0 {
		o.Threads = runtime.NumCPU()
	}
	if !o.Train && !o.Infer {
		o.Train, o.Infer = true, true
	}
	switch {
	case o.BatchSize < 1 || o.Threads < 1 || o.Input.C < 1 || o.Input.H < 1 || o.Input.W < 1:
		return nil, fmt.Errorf("bench: batch size, threads and input must be positive (got %d, %d, %v)", o.BatchSize, o.Threads, o.Input)
	case o.Steps < 1 || o.Warmup < 0:
		return nil, fmt.Errorf("bench: steps must be at least 1 and warm-up not negative (got %d, %d)", o.Steps, o.Warmup)
	case o.Iterations < 0:
		return nil, fmt.Errorf("bench: iterations must not be negative, got %d", o.Iterations)
	}
	opts := Options{Model: o.Model, Config: o.Config, Network: o.Network, Iterations: o.Iterations}
	cfg, err := opts.NetworkConfig()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	in := o.Input
	net, err := nn.Build(cfg, in, o.BatchSize, nn.Options{Threads: o.Threads, Backward: o.Backward, Iterations: o.Iterations, Precision: o.Precision, MaxMemory: o.MaxMemory, Optimizer: true}, o.Seed)
	if err != nil {
		return nil, fmt.Errorf("bench: %s on input %d×%d×%d: %w", opts.networkSource(), in.C, in.H, in.W, err)
	}
	defer net.Close()
	stepper, err := NewStepper(net, DefaultConfig(), o.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}

	// A stream of its own, so the batches do not depend on the weights' draws.
	rng := rand.New(rand.NewPCG(o.Seed, 0xbe0c4))
	imageLen := in.C * in.H * in.W
	xs := make([][]float32, benchBatches)
	labels := make([][]int, benchBatches)
	for b := range xs {
		xs[b] = make([]float32, o.BatchSize*imageLen)
		for i := range xs[b] {
			xs[b][i] = rng.Float32()
		}
		labels[b] = make([]int, o.BatchSize)
		for i := range labels[b] {
			labels[b][i] = rng.IntN(net.Classes())
		}
	}
	total, _ := net.ParamCount()
	res := &BenchResult{
		Model: opts.ModelName(), Batch: o.BatchSize, Input: []int{in.C, in.H, in.W}, Threads: o.Threads,
		CPUPath: kernels.ActivePath().String(), GoVersion: runtime.Version(),
		Iterations: cfg.Iterations, Backward: o.Backward.String(), Params: total,
		Precision: net.EffectivePrecision().String(), PrecisionAsked: o.Precision.String(),
		Steps: o.Steps, Warmup: o.Warmup, Seed: o.Seed,
	}
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if o.Train {
		res.Train, err = timeSteps(o, func(b int) (int, error) {
			correct, _, err := stepper.TrainStep(xs[b], labels[b])
			return correct, err
		})
		if err != nil {
			return nil, fmt.Errorf("bench: train step: %w", err)
		}
	}
	if o.Infer {
		res.Infer, err = timeSteps(o, func(b int) (int, error) { return stepper.Infer(xs[b], labels[b]) })
		if err != nil {
			return nil, fmt.Errorf("bench: inference: %w", err)
		}
	}
	return res, nil
}

// timeSteps runs step on the batches in turn: o.Warmup untimed calls, then
// o.Steps calls each timed on its own.
func timeSteps(o BenchOptions, step func(batch int) (correct int, err error)) (*BenchPhase, error) {
	for i := range o.Warmup {
		if _, err := step(i % benchBatches); err != nil {
			return nil, err
		}
	}
	seconds := make([]float64, o.Steps)
	phase := &BenchPhase{}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range o.Steps {
		start := time.Now()
		correct, err := step((o.Warmup + i) % benchBatches)
		seconds[i] = time.Since(start).Seconds()
		if err != nil {
			return nil, err
		}
		phase.Correct += correct
	}
	runtime.ReadMemStats(&after)
	phase.AllocsPerStep = float64(after.Mallocs-before.Mallocs) / float64(o.Steps)

	slices.Sort(seconds)
	images := float64(o.BatchSize)
	phase.StepSMedian = median(seconds)
	phase.ImagesPerSMedian = images / phase.StepSMedian
	phase.ImagesPerSMin = images / seconds[len(seconds)-1]
	phase.ImagesPerSMax = images / seconds[0]
	phase.PeakRSSBytes = peakRSS()
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
