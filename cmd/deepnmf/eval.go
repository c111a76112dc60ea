package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/kernels"
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
	Precision    string  `json:"precision"` // of the NNMF forwards, as run
}

type evalFlags struct {
	src                  train.ModelSource
	open                 train.OpenOptions
	dataDir              string
	limit                int
	runningStats, asJSON bool
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
			if !cmd.Flags().Changed("dataset") {
				f.open.Dataset = "" // the run's or the weights', else CIFAR-10
			}
			if f.open.BatchSize < 1 {
				return fmt.Errorf("eval: --batch-size must be at least 1, got %d", f.open.BatchSize)
			}
			if !cmd.Flags().Changed("batch-size") {
				f.open.BatchSize = 0 // the run's, else 50
			}
			if cmd.Flags().Changed("running-stats") {
				f.open.RunningStats = &f.runningStats
			}
			res, err := runEval(cmd, f)
			if err != nil {
				return err
			}
			if f.asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "test accuracy %.2f %% (%d/%d) on %s\n", res.TestAccuracy, res.Correct, res.N, res.Dataset)
			return nil
		},
	}
	fl := cmd.Flags()
	addModelSourceFlags(fl, &f.src)
	fl.StringVar(&f.open.Dataset, "dataset", "cifar10", "dataset: cifar10, mnist or fashion-mnist (default with --run: the run's; with --weights: the one deepnmf train recorded in them)")
	fl.StringVar(&f.dataDir, "data-dir", "", "data directory (default $"+data.EnvDataDir+", else <user cache dir>/deepnmf)")
	fl.IntVar(&f.open.BatchSize, "batch-size", data.DefaultBatchSize, "test batch size (BatchNorm uses each batch's statistics) (default with --run: the run's)")
	fl.IntVar(&f.open.Threads, "threads", runtime.NumCPU(), "worker goroutines (fixed shards of every batch)")
	fl.IntVar(&f.limit, "limit-test", 0, "evaluate only the first N test images (0 = all)")
	fl.BoolVar(&f.runningStats, "running-stats", false, "the weights carry BatchNorm running statistics (networks trained with them); use them instead of batch statistics (default with --run: as the run was trained)")
	fl.TextVar(&f.open.Precision, "precision", kernels.Float32, precisionHelp)
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON object")
	addMaxMemoryFlag(fl, &f.open.MaxMemory)
	hiddenAlias(fl, "limit", "limit-test")
	return cmd
}

func runEval(cmd *cobra.Command, f evalFlags) (*evalResult, error) {
	if f.src.RunDir == "" && f.src.Weights == "" {
		return nil, errors.New("eval: give --run RUN_DIR, or --weights FILE with --config FILE")
	}
	if f.open.BatchSize < 0 || f.open.Threads < 1 || f.limit < 0 {
		return nil, fmt.Errorf("eval: --batch-size and --threads must be at least 1 and --limit-test not negative, got %d, %d and %d", f.open.BatchSize, f.open.Threads, f.limit)
	}
	if n := train.PrecisionNotice(f.open.Precision); n != "" {
		fmt.Fprintln(cmd.ErrOrStderr(), "eval: "+n)
	}
	m, err := train.OpenModel(f.src, f.open)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	defer m.Close()
	ds, err := loadDataset(cmd, m.Dataset.Name, m.DataDir(f.dataDir), false)
	if err != nil {
		return nil, err
	}
	r, err := m.Evaluate(cmd.Context(), ds, train.EvalOptions{Limit: f.limit})
	if err != nil {
		return nil, err
	}
	return &evalResult{
		TestAccuracy: r.Accuracy, Correct: r.Correct, N: r.N, Dataset: m.Dataset.Name, BatchSize: m.BatchSize,
		Weights: m.Weights, Config: m.ConfigSource, Precision: m.Net.EffectivePrecision().String(),
	}, nil
}
