package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/kernels"
	"github.com/deepnmf/deepnmf/nn"
)

// ModelSource says where a trained model comes from: a run directory written
// by deepnmf train, or a weights file with an optional config.
type ModelSource struct {
	// RunDir is a run directory: its final.safetensors (else its last
	// checkpoint's weights), config.json, dataset, batch size and BatchNorm
	// mode.
	RunDir string
	// Weights is a safetensors file with the official state_dict keys; with
	// RunDir it replaces the run's weights.
	Weights string
	// Config is a network config file or a preset name. It may be empty for
	// weights written by deepnmf (they carry their config) and for a run.
	Config string
}

// OpenOptions adjusts how a model is opened; zero values take what the run
// or the weights recorded, else the official defaults.
type OpenOptions struct {
	Dataset   string // dataset whose input shape and classes the network is built for
	BatchSize int    // largest batch the network takes (BatchNorm uses each batch's statistics)
	Threads   int    // worker goroutines (0 = all cores)
	// RunningStats, if not nil, says whether the weights carry BatchNorm
	// running statistics to use instead of batch statistics.
	RunningStats *bool
	// MaxMemory is the network's memory budget (nn.Options.MaxMemory; 0 =
	// half of the machine's RAM).
	MaxMemory int64
	// Precision of the NNMF forward iterations (default float32; see
	// Options.Precision).
	Precision kernels.Precision
}

// Model is a trained network opened for evaluation, with what deepnmf
// recorded about it.
type Model struct {
	Net          *nn.Network
	Config       *nn.Config
	ConfigSource string    // the config file, preset or weights metadata the network was built from
	Weights      string    // the weights file loaded
	Name         string    // the model's name (preset, config base name, or the run's)
	Dataset      data.Info // the dataset the network was built for
	Input        nn.Shape  // one image: channels × crop × crop
	BatchSize    int
	RunningStats bool
	Run          *RunInfo // the run's run.json, nil for bare weights
}

// Close releases the network's worker goroutines.
func (m *Model) Close() { m.Net.Close() }

// OpenModel builds the network of src and loads its weights. Errors name the
// file that does not fit: the weights, the config, or the run directory.
func OpenModel(src ModelSource, o OpenOptions) (*Model, error) {
	if src.RunDir == "" && src.Weights == "" {
		return nil, errors.New("open model: give a run directory or a weights file")
	}
	if o.BatchSize < 0 || o.Threads < 0 {
		return nil, fmt.Errorf("open model: batch size and threads must not be negative, got %d and %d", o.BatchSize, o.Threads)
	}
	m := &Model{Weights: src.Weights, ConfigSource: src.Config, BatchSize: o.BatchSize}
	dataset := o.Dataset
	if src.RunDir != "" {
		info, err := LoadRunInfo(src.RunDir)
		if err != nil {
			return nil, err
		}
		m.Run = &info
		m.Name = info.Options.ModelName()
		if m.ConfigSource == "" {
			m.ConfigSource = filepath.Join(src.RunDir, "config.json")
		}
		if m.Weights == "" {
			if m.Weights, err = runWeights(src.RunDir); err != nil {
				return nil, err
			}
		}
		if dataset == "" {
			dataset = info.Options.Dataset
		}
		if m.BatchSize == 0 {
			m.BatchSize = info.Options.BatchSize
		}
		m.RunningStats = info.Options.RunningStats
	}
	var meta map[string]string
	if dataset == "" || m.ConfigSource == "" || m.Name == "" {
		// Weights saved by deepnmf carry their dataset, model name and
		// config; PyTorch's carry none, and loading them names the problem.
		if _, md, err := nn.ReadSafetensors(m.Weights); err == nil {
			meta = md
		}
	}
	if dataset == "" {
		dataset = meta["dataset"]
	}
	if dataset == "" {
		dataset = "cifar10"
	}
	if m.Name == "" {
		m.Name = meta["model"]
	}
	var err error
	if m.ConfigSource == "" {
		if m.Config, err = nn.ConfigFromWeights(m.Weights); err != nil {
			return nil, err
		}
		m.ConfigSource = m.Weights + " (metadata)"
	} else if m.Config, err = ConfigOrPreset(m.ConfigSource); err != nil {
		return nil, err
	}
	if m.Name == "" {
		m.Name = strings.TrimSuffix(filepath.Base(m.ConfigSource), filepath.Ext(m.ConfigSource))
	}
	if o.RunningStats != nil {
		m.RunningStats = *o.RunningStats
	}
	if m.BatchSize == 0 {
		m.BatchSize = data.DefaultBatchSize
	}
	threads := o.Threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	if m.Dataset, err = data.Lookup(dataset); err != nil {
		return nil, err
	}
	m.Input = nn.Shape{C: m.Dataset.Channels, H: m.Dataset.Crop, W: m.Dataset.Crop}
	if m.Net, err = buildFor(m.Config, m.ConfigSource, m.Dataset, m.BatchSize, nn.Options{Threads: threads, RunningStats: m.RunningStats, MaxMemory: o.MaxMemory, Precision: o.Precision}, 0); err != nil {
		return nil, err
	}
	if err := m.Net.LoadWeights(m.Weights); err != nil {
		m.Close()
		return nil, weightsMismatch(err, m.ConfigSource, m.Dataset.Name, m.Input)
	}
	return m, nil
}

// buildFor builds cfg for a dataset's input and checks that its outputs are
// the dataset's classes; errors name source, the dataset and the input.
func buildFor(cfg *nn.Config, source string, ds data.Info, maxBatch int, opt nn.Options, seed uint64) (*nn.Network, error) {
	in := nn.Shape{C: ds.Channels, H: ds.Crop, W: ds.Crop}
	net, err := nn.Build(cfg, in, maxBatch, opt, seed)
	if err != nil {
		return nil, fmt.Errorf("%s on %s input %d×%d×%d: %w", source, ds.Name, in.C, in.H, in.W, err)
	}
	if net.Classes() != ds.NumClasses() {
		net.Close()
		return nil, fmt.Errorf("the network of %s has %d outputs, dataset %s has %d classes", source, net.Classes(), ds.Name, ds.NumClasses())
	}
	return net, nil
}

// runWeights is a run's final weights, else its last checkpoint's.
func runWeights(runDir string) (string, error) {
	for _, p := range []string{
		filepath.Join(runDir, FinalFile),
		filepath.Join(runDir, CheckpointDir, ModelFile),
		filepath.Join(runDir, checkpointPrev, ModelFile),
	} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("run %s holds no weights yet (neither %s nor %s): it was stopped before its first epoch ended",
		runDir, FinalFile, filepath.Join(CheckpointDir, ModelFile))
}

// ConfigOrPreset reads a network config file, or a preset when no such
// file exists.
func ConfigOrPreset(s string) (*nn.Config, error) {
	if _, err := os.Stat(s); err == nil {
		return nn.LoadConfig(s)
	}
	cfg, err := nn.Preset(s)
	if err != nil {
		return nil, fmt.Errorf("config %q is neither a file nor a preset: %w", s, err)
	}
	return cfg, nil
}

// weightsMismatch adds to a weights-loading error what the network was built
// for: weights of another config, or trained on a dataset with another image
// shape (MNIST's 1×24×24 against CIFAR-10's 3×28×28), fail with shapes only.
func weightsMismatch(err error, config, dataset string, in nn.Shape) error {
	// Only a key-by-key mismatch (a joined list) gets the hint; a file that
	// cannot be opened or read is no question of config or dataset.
	var keys interface{ Unwrap() []error }
	if !errors.As(err, &keys) {
		return err
	}
	if strings.Contains(err.Error(), ".running_mean") {
		return fmt.Errorf("%w\n(BatchNorm running statistics are present in only one of the weights and the network: see the running-stats option)", err)
	}
	return fmt.Errorf("%w\n(the network was built from %s for %s input %d×%d×%d: were the weights trained with another config or dataset?)",
		err, config, dataset, in.C, in.H, in.W)
}

// DataDir is the data directory to read the model's dataset from: flag if
// given; for a run, else the directory it was started with, else (without
// $DEEPNMF_DATA) the one it last read, as a resume would; "" leaves the
// choice to data.ResolveDir.
func (m *Model) DataDir(flag string) string {
	if m.Run == nil {
		return flag
	}
	return resumeDataDir(flag, m.Run.Options.DataDir, os.Getenv(data.EnvDataDir), m.Run.DataRoot)
}

// Predict runs the network in evaluation mode on n prepared images x
// (NCHW, the dataset's crop) and returns the n × classes probabilities,
// valid until the next call. The images form one batch: with batch
// statistics (the official BatchNorm) each image's probabilities depend on
// the others.
func (m *Model) Predict(x []float32, n int) ([]float32, error) {
	m.Net.SetTraining(false)
	return m.Net.Forward(x, n)
}

// EvalOptions sets up one evaluation pass over a test split.
type EvalOptions struct {
	BatchSize int // 0: the model's batch size (BatchNorm uses each batch's statistics)
	Limit     int // evaluate the first Limit test images only (0 = all)
	// Corrupt, if not nil, may change each batch before the evaluation
	// crop. It gets the batch index b (file order) and the batch's n full
	// stored images (NCHW, C×Size×Size each, pixel/255 in float32): spec §5
	// corrupts the whole image and crops afterwards (§6 item 19).
	Corrupt func(b int, full []float32, n int) error
	// Progress, if not nil, is called after every batch with its image count.
	Progress func(images int)
}

// EvalResult is the outcome of an evaluation pass.
type EvalResult struct {
	Correct  int     `json:"correct"`
	N        int     `json:"n"`
	Accuracy float64 `json:"accuracy"` // percent
}

// Evaluate runs the model over ds's test split in file order, as the test
// pass of training does, so that it reproduces a run's test accuracy.
func (m *Model) Evaluate(ctx context.Context, ds *data.Dataset, o EvalOptions) (EvalResult, error) {
	if ds.Name != m.Dataset.Name {
		return EvalResult{}, fmt.Errorf("the model was opened for %s, not %s", m.Dataset.Name, ds.Name)
	}
	if o.BatchSize == 0 {
		o.BatchSize = m.BatchSize
	}
	return Evaluate(ctx, m.Net, ds, o)
}

// Evaluate runs net (built for ds's input and at least o.BatchSize images)
// over ds's test split: batches of o.BatchSize in file order, CenterCrop,
// evaluation mode, the first maximal probability as the prediction.
func Evaluate(ctx context.Context, net Network, ds *data.Dataset, o EvalOptions) (EvalResult, error) {
	if o.BatchSize < 1 || o.Limit < 0 {
		return EvalResult{}, fmt.Errorf("evaluate: batch size must be at least 1 and the limit not negative, got %d and %d", o.BatchSize, o.Limit)
	}
	cfg := data.EvalConfig()
	cfg.BatchSize, cfg.Limit = o.BatchSize, o.Limit
	l, err := data.NewLoader(ds.Info, &ds.Test, cfg)
	if err != nil {
		return EvalResult{}, fmt.Errorf("test loader: %w", err)
	}
	c, h, w := l.Shape()
	x := make([]float32, o.BatchSize*c*h*w)
	labels := make([]int, o.BatchSize)
	var full []float32
	if o.Corrupt != nil {
		full = make([]float32, o.BatchSize*ds.Test.ImageSize())
	}
	var r EvalResult
	defer interruptInside(net, ctx)()
	for b := range l.NumBatches() {
		if err := ctx.Err(); err != nil {
			return r, fmt.Errorf("%w while evaluating (before batch %d of %d)", ErrInterrupted, b+1, l.NumBatches())
		}
		var n int
		if o.Corrupt == nil {
			n, err = l.Fill(0, b, x, labels)
		} else if n, err = l.FillFull(0, b, full, labels); err == nil {
			if err = o.Corrupt(b, full[:n*ds.Test.ImageSize()], n); err == nil {
				err = ds.Info.CenterCrop(x, full, n)
			}
		}
		if err != nil {
			return r, fmt.Errorf("test batch %d: %w", b+1, err)
		}
		correct, err := infer(net, x[:n*c*h*w], labels[:n])
		if errors.Is(err, nn.ErrInterrupted) {
			return r, fmt.Errorf("%w while evaluating (inside batch %d of %d)", ErrInterrupted, b+1, l.NumBatches())
		} else if err != nil {
			return r, fmt.Errorf("test batch %d: %w", b+1, err)
		}
		r.Correct += correct
		r.N += n
		if o.Progress != nil {
			o.Progress(n)
		}
	}
	r.Accuracy = percent(r.Correct, r.N)
	return r, nil
}
