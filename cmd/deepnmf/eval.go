package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/train"
)

func init() { subcommands = append(subcommands, newEvalCmd) }

// evalResult is what `deepnmf eval --json` prints.
type evalResult struct {
	TestAccuracy float64 `json:"test_accuracy"` // percent
	Correct      int     `json:"correct"`
	N            int     `json:"n"`
	Dataset      string  `json:"dataset"`
	BatchSize    int     `json:"batch_size"`
	Weights      string  `json:"weights"`
	Config       string  `json:"config"`
}

type evalFlags struct {
	runDir, weights, config, dataset, dataDir string
	batchSize, threads, limit                 int
	runningStats, asJSON                      bool
	maxMemory                                 nn.ByteSize
}

func newEvalCmd() *cobra.Command {
	var f evalFlags
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Test accuracy of trained weights on a dataset's test split",
		Long: `Evaluate trained weights on the test split: batches of --batch-size images in file
order, CenterCrop to the training crop (28×28 for CIFAR-10, 24×24 for the MNISTs),
as the official test loop. The networks' BatchNorms use the statistics of each test
batch (the official track_running_stats=False), so the accuracy depends on the
batch size; 50 is the official value.

Weights come from --run RUN_DIR (RUN_DIR/final.safetensors, else
RUN_DIR/checkpoint/model.safetensors, with RUN_DIR/config.json and the run's dataset
and batch size)
or from --weights FILE.safetensors with --config FILE.json (or a preset name);
weights saved by deepnmf carry their config, so --config may be left out.
Weights saved by the official PyTorch code as safetensors (official state_dict keys)
load directly.`,
		Example: `  deepnmf eval --weights model.safetensors --config network.json --dataset cifar10
  deepnmf eval --run runs/cnmf_1x1 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := runEval(f, cmd.Flags().Changed)
			if err != nil {
				return err
			}
			if f.asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				return enc.Encode(res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "test accuracy %.2f %% (%d/%d) on %s\n", res.TestAccuracy, res.Correct, res.N, res.Dataset)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.runDir, "run", "", "run directory written by deepnmf train")
	fl.StringVar(&f.weights, "weights", "", "weights file (safetensors with the official state_dict keys)")
	fl.StringVar(&f.config, "config", "", "network config file (official JSON format) or preset name")
	fl.StringVar(&f.dataset, "dataset", "cifar10", "dataset: cifar10, mnist or fashion-mnist (default with --run: the run's; with --weights: the one deepnmf train recorded in them)")
	fl.StringVar(&f.dataDir, "data-dir", "", "data directory (default $"+data.EnvDataDir+", else <user cache dir>/deepnmf)")
	fl.IntVar(&f.batchSize, "batch-size", data.DefaultBatchSize, "test batch size (BatchNorm uses each batch's statistics) (default with --run: the run's)")
	fl.IntVar(&f.threads, "threads", runtime.NumCPU(), "worker goroutines (fixed shards of every batch)")
	fl.IntVar(&f.limit, "limit", 0, "evaluate only the first N test images (0 = all)")
	fl.BoolVar(&f.runningStats, "running-stats", false, "the weights carry BatchNorm running statistics (networks trained with them); use them instead of batch statistics (default with --run: as the run was trained)")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON object")
	fl.Var(&f.maxMemory, "max-memory", maxMemoryUsage)
	return cmd
}

// runEval evaluates as the flags say; changed tells which flags were given,
// so that a run directory's options fill in the rest.
func runEval(f evalFlags, changed func(flag string) bool) (*evalResult, error) {
	if f.runDir == "" && f.weights == "" {
		return nil, errors.New("eval: give --run RUN_DIR, or --weights FILE with --config FILE")
	}
	if f.batchSize < 1 || f.threads < 1 || f.limit < 0 {
		return nil, fmt.Errorf("eval: --batch-size and --threads must be at least 1 and --limit not negative, got %d, %d and %d", f.batchSize, f.threads, f.limit)
	}
	if f.runDir != "" {
		opts, err := fromRunDir(f.runDir, &f.weights, &f.config)
		if err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		if !changed("dataset") {
			f.dataset = opts.Dataset
		}
		if !changed("running-stats") {
			f.runningStats = opts.RunningStats
		}
		if !changed("batch-size") && opts.BatchSize > 0 {
			f.batchSize = opts.BatchSize
		}
	}
	if f.runDir == "" && !changed("dataset") {
		if d := datasetFromWeights(f.weights); d != "" {
			f.dataset = d
		}
	}
	var cfg *nn.Config
	var err error
	if f.config == "" {
		// Weights saved by deepnmf carry their config; PyTorch's do not.
		if cfg, err = nn.ConfigFromWeights(f.weights); err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		f.config = f.weights + " (metadata)"
	} else if cfg, err = loadConfigOrPreset(f.config); err != nil {
		return nil, err
	}
	info, err := data.Lookup(f.dataset)
	if err != nil {
		return nil, err
	}
	root, err := data.ResolveDir(f.dataDir)
	if err != nil {
		return nil, err
	}
	ds, err := data.Load(info.Name, root)
	if err != nil {
		return nil, err
	}
	test, err := train.NewTestData(ds, f.batchSize, f.limit)
	if err != nil {
		return nil, err
	}
	in := nn.Shape{C: ds.Channels, H: ds.Crop, W: ds.Crop}
	maxBatch := train.WorkspaceBatch(f.batchSize, 0, test.Images())
	net, err := nn.Build(cfg, in, maxBatch, nn.Options{Threads: f.threads, RunningStats: f.runningStats, MaxMemory: int64(f.maxMemory)}, 0)
	if err != nil {
		return nil, fmt.Errorf("eval: %s on %s input %d×%d×%d: %w", f.config, info.Name, in.C, in.H, in.W, err)
	}
	defer net.Close()
	if net.Classes() != info.NumClasses() {
		return nil, fmt.Errorf("eval: the network of %s has %d outputs, %s has %d classes", f.config, net.Classes(), info.Name, info.NumClasses())
	}
	if err := net.LoadWeights(f.weights); err != nil {
		return nil, weightsMismatch(err, f.config, info.Name, in)
	}
	// The same test loop as training's, so that eval reproduces its test_acc.
	correct, n, err := train.Evaluate(context.Background(), net, test, maxBatch, in.C*in.H*in.W)
	if err != nil {
		return nil, err
	}
	return &evalResult{
		TestAccuracy: 100 * float64(correct) / float64(n),
		Correct:      correct, N: n, Dataset: info.Name, BatchSize: f.batchSize,
		Weights: f.weights, Config: f.config,
	}, nil
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
		return fmt.Errorf("%w\n(BatchNorm running statistics are present in only one of the weights and the network: see --running-stats)", err)
	}
	return fmt.Errorf("%w\n(the network was built from %s for %s input %d×%d×%d: were the weights trained with another config or dataset? see --config and --dataset)",
		err, config, dataset, in.C, in.H, in.W)
}

// datasetFromWeights is the dataset recorded in the metadata of weights saved
// by deepnmf train, or "" (PyTorch's weights, unreadable files: the later
// loading reports those).
func datasetFromWeights(path string) string {
	_, meta, err := nn.ReadSafetensors(path)
	if err != nil {
		return ""
	}
	return meta["dataset"]
}

// loadConfigOrPreset reads a config file, or a preset when no such file exists.
func loadConfigOrPreset(s string) (*nn.Config, error) {
	if _, err := os.Stat(s); err == nil {
		return nn.LoadConfig(s)
	}
	cfg, err := nn.Preset(s)
	if err != nil {
		return nil, fmt.Errorf("--config %q is neither a file nor a preset: %w", s, err)
	}
	return cfg, nil
}

// evaluate runs every batch of the loader in evaluation mode and counts the
// images whose largest probability is at the true label (the first maximum
// on ties, as torch.argmax).
// fromRunDir fills in what a run directory provides and the flags left empty:
// its config.json and its weights (final.safetensors, else the last
// checkpoint's). It returns the options the run was trained with.
func fromRunDir(runDir string, weights, config *string) (train.Options, error) {
	info, err := train.LoadRunOptions(runDir)
	if err != nil {
		return train.Options{}, err
	}
	if *config == "" {
		*config = filepath.Join(runDir, "config.json")
	}
	if *weights == "" {
		*weights = filepath.Join(runDir, train.FinalFile)
		if _, err := os.Stat(*weights); err != nil {
			*weights = filepath.Join(runDir, train.CheckpointDir, train.ModelFile)
			if _, err := os.Stat(*weights); err != nil {
				return train.Options{}, fmt.Errorf("run %s holds no weights yet (neither %s nor %s): it was stopped before its first epoch ended",
					runDir, train.FinalFile, filepath.Join(train.CheckpointDir, train.ModelFile))
			}
		}
	}
	return info.Options, nil
}
