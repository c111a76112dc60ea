package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/train"
)

func init() { subcommands = append(subcommands, newTrainCmd) }

// resumeUsesOut is the value of a bare --resume.
const resumeUsesOut = "<out>"

func newTrainCmd() *cobra.Command {
	opts := train.DefaultOptions()
	var out, resume string
	var noFetch bool
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a network with the paper's protocol (default: cnmf_1x1 on CIFAR-10)",
		Long: `Train a network with the official protocol of the paper's code (spec §3):
batch 50, augmentation drawn once per mini-batch (RandomCrop, horizontal flip and
ColorJitter for CIFAR-10), loss (0.5·MSE + KL)/1.5, one Adam per parameter group
(neuron a 0.01, neuron b / batchnorm2d / neuron pool 0.001), ReduceLROnPlateau on
the epoch's summed training loss (factor 0.1, patience 10), stop when the largest
learning rate falls below 1e-9 (as a float32) or after --epochs epochs. The whole
test set is evaluated after every epoch (batch 50, file order, CenterCrop).

With no flags it trains cnmf_1x1 on CIFAR-10 with seed 21 into a new directory
runs/<model>-<dataset>-seed<seed>-<time>. When the dataset is not in the data
directory it is downloaded (unless --no-fetch).

The run directory holds:
  metrics.csv        one row per epoch (the columns of the reference CSV, then one
                     learning-rate column per parameter group)
  checkpoint/        weights, Adam moments, scheduler and stream state, written
                     atomically after every epoch
  config.json        the network config; run.json: options, Go version, CPU path
  final.safetensors  the weights at the end (official PyTorch state_dict keys)

Ctrl-C (SIGINT) or SIGTERM abandons the current epoch and keeps the last
checkpoint; --resume RUN_DIR continues from it. With the same binary, CPU path and
--threads the continuation is bit-identical to an uninterrupted run.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			isResume := cmd.Flags().Changed("resume")
			if len(args) > 0 {
				// `--resume RUN_DIR`: pflag leaves the directory as an argument
				// because --resume may also be given alone (then --out names it).
				if !isResume || resume != resumeUsesOut {
					return fmt.Errorf("unexpected argument %q", args[0])
				}
				resume = args[0]
			}
			if resume == resumeUsesOut {
				resume = ""
			}
			if cmd.Flags().Changed("config") {
				if cmd.Flags().Changed("model") {
					return errors.New("give either --model or --config, not both")
				}
				opts.Model = ""
			}
			if opts.DataDir != "" {
				// run.json keeps it for --resume from another directory.
				abs, err := filepath.Abs(opts.DataDir)
				if err != nil {
					return err
				}
				opts.DataDir = abs
			}
			var s *train.Session
			var err error
			if isResume {
				runDir := resume
				if runDir == "" {
					runDir = out
				}
				if runDir == "" {
					return errors.New("--resume needs a run directory (--resume RUN_DIR or --out RUN_DIR)")
				}
				// Only explicitly given flags override the saved run.
				for _, name := range []string{"model", "config", "dataset", "seed", "backward", "iterations",
					"limit-train", "limit-test", "augment", "batch-size", "lr-a", "lr-b", "lr-bn", "lr-pool", "loss-mode", "running-stats", "precision"} {
					if cmd.Flags().Changed(name) {
						return fmt.Errorf("--%s cannot change on --resume (the run keeps its options; only --epochs, --threads and --data-dir may be given)", name)
					}
				}
				over := train.Overrides{DataDir: opts.DataDir, MaxMemory: opts.MaxMemory}
				if cmd.Flags().Changed("epochs") {
					over.Epochs = opts.Epochs
				}
				if cmd.Flags().Changed("threads") {
					over.Threads = opts.Threads
				}
				s, err = train.Resume(runDir, over)
			} else {
				runDir := out
				if runDir == "" {
					runDir = opts.DefaultRunDir(time.Now())
				}
				// Reject a bad flag before a dataset is loaded, or downloaded.
				if err := opts.Validate(); err != nil {
					return flagError(err)
				}
				cfg, cerr := opts.NetworkConfig()
				if cerr != nil {
					return cerr
				}
				if err := opts.CheckMemory(cfg, ""); err != nil {
					return err
				}
				if err := train.CheckStart(runDir); err != nil {
					return fmt.Errorf("%w (--resume continues a run)", err)
				}
				if opts.Data, err = loadDataset(cmd, opts.Dataset, opts.DataDir, !noFetch); err != nil {
					return err
				}
				s, err = train.Start(opts, runDir)
			}
			if err != nil {
				return err
			}
			defer s.Close()
			w := cmd.OutOrStdout()
			for _, n := range s.Notices {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", s.RunDir, n)
			}
			total, _ := s.Net.ParamCount()
			fmt.Fprintf(w, "run %s: %s on %s, seed %d, %d threads, CPU path %s, NNMF precision %s, %d parameters\n",
				s.RunDir, s.Opts.ModelName(), s.Opts.Dataset, s.Opts.Seed, s.Opts.Threads, s.Info.CPUPath, s.Net.EffectivePrecision(), total)
			if s.Resumed {
				fmt.Fprintf(w, "resuming after epoch %d\n", s.Engine.Epoch)
			}
			_, err = s.Train(cmd.Context(), w, terminalErr(cmd))
			if errors.Is(err, train.ErrInterrupted) && train.HasCheckpoint(s.RunDir) {
				return fmt.Errorf("%w\ncontinue with: deepnmf train --resume %s", err, s.RunDir)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Model, "model", opts.Model, "network preset: "+strings.Join(nn.PresetNames(), ", "))
	f.StringVar(&opts.Config, "config", "", "network config file in the official JSON format (instead of --model)")
	f.StringVar(&opts.Dataset, "dataset", opts.Dataset, "dataset: "+strings.Join(data.Names(), ", "))
	f.StringVar(&opts.DataDir, "data-dir", "", "data directory (default $"+data.EnvDataDir+", else <user cache dir>/deepnmf)")
	f.IntVar(&opts.Epochs, "epochs", opts.Epochs, "epoch cap")
	f.Uint64Var(&opts.Seed, "seed", opts.Seed, "seed of weight initialisation, shuffling and augmentation")
	f.StringVar(&out, "out", "", "run directory (default runs/<model>-<dataset>-seed<seed>-<time>)")
	f.StringVar(&resume, "resume", "", "continue the run in this directory (or, given alone, in --out) from its last checkpoint")
	f.Lookup("resume").NoOptDefVal = resumeUsesOut
	f.TextVar(&opts.Backward, "backward", opts.Backward, "NNMF backward: approx|unrolled|implicit|last_iter|last_iter_sqrt_t")
	f.TextVar(&opts.Precision, "precision", opts.Precision, precisionHelp)
	f.IntVar(&opts.Iterations, "iterations", 0, "NNMF iterations of the a/b layers (0 = the config's)")
	f.IntVar(&opts.Threads, "threads", runtime.NumCPU(), "goroutines per batch (results are bit-identical for a given count)")
	f.IntVar(&opts.LimitTrain, "limit-train", 0, "train on the first N training images only (0 = all)")
	f.IntVar(&opts.LimitTest, "limit-test", 0, "test on the first N test images only (0 = all)")
	f.TextVar(&opts.Augment, "augment", opts.Augment, "training augmentation: per-batch (official) | per-image | none")
	f.IntVar(&opts.BatchSize, "batch-size", opts.BatchSize, "mini-batch size (train and test)")
	f.Float64Var(&opts.LR[nn.GroupNeuronA], "lr-a", opts.LR[nn.GroupNeuronA], "initial learning rate of the neuron a group")
	f.Float64Var(&opts.LR[nn.GroupNeuronB], "lr-b", opts.LR[nn.GroupNeuronB], "initial learning rate of the neuron b group")
	f.Float64Var(&opts.LR[nn.GroupBatchNorm], "lr-bn", opts.LR[nn.GroupBatchNorm], "initial learning rate of the batchnorm2d group")
	f.Float64Var(&opts.LR[nn.GroupPool], "lr-pool", opts.LR[nn.GroupPool], "initial learning rate of the neuron pool group")
	f.IntVar((*int)(&opts.LossMode), "loss-mode", int(opts.LossMode), "0 = (0.5·MSE + KL)/1.5 (official), 1 = cross-entropy on the probabilities")
	f.BoolVar(&opts.RunningStats, "running-stats", false, "BatchNorm keeps running statistics and uses them at evaluation (the official code uses batch statistics)")
	f.BoolVar(&noFetch, "no-fetch", false, "never download a missing dataset")
	addMaxMemoryFlag(f, &opts.MaxMemory)
	return cmd
}

// loadDataset loads a dataset from the data root and, when it is missing and
// fetch is set, downloads it first.
func loadDataset(cmd *cobra.Command, name, dataDir string, fetch bool) (*data.Dataset, error) {
	root, err := data.ResolveDir(dataDir)
	if err != nil {
		return nil, err
	}
	ds, err := data.Load(name, root)
	if err == nil || !errors.Is(err, data.ErrNotFound) || !fetch {
		return ds, err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s is not in %s; downloading it\n", name, root)
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if ferr := data.Fetch(ctx, name, root, data.FetchOptions{Log: cmd.ErrOrStderr()}); ferr != nil {
		return nil, fmt.Errorf("%w\n(the download failed too: %v)", err, ferr)
	}
	return data.Load(name, root)
}
