package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/experiment"
)

func init() { subcommands = append(subcommands, newRobustnessCmd) }

type robustnessOptions struct {
	runs                        []string
	weights, config, noise, out string
	dataDir, pictureOrder       string
	seed                        uint64
	limitTest, threads          int
	asJSON                      bool
}

// robustnessOutput is what `deepnmf robustness --json` prints.
type robustnessOutput struct {
	experiment.RobustnessResult
	Files []string `json:"files"`
}

func newRobustnessCmd() *cobra.Command {
	o := robustnessOptions{}
	cmd := &cobra.Command{
		Use:   "robustness",
		Short: "Test accuracy under the four noise corruptions of the official scripts",
		Long: `The noise robustness study (spec §5): each model is evaluated on its test split
at 21 levels of each --noise, as the official scripts noise_uniform.py,
noise_picture.py, noise_holes.py and noise_holes_w_noise.py do:

  uniform      (1−η)·x/Σx + η·n/Σn, n ~ U[0,1) per element, η = k/20
  picture      (1−η)·x/Σx + η·t/Σt, t the training image at the same position in
               file order (test batch i with training batch i), η = 0.5·k/20
  holes        each element (channel and pixel) kept iff U > η, then x/Σx
  holes-noise  dropped elements take n/Σn (x not normalised first), then x/Σx

Sums run over the whole stored image (3×32×32 for CIFAR-10, +1e-20), the
corruption acts before the evaluation CenterCrop, batches of the run's batch
size (50) in file order, BatchNorm with each corrupted batch's statistics. At
η = 0 the image is left as it is, so level 0 is exactly 'deepnmf eval'. The
noise is drawn from --seed, one stream per (noise, level, batch).

Writes robustness.csv (run, model, dataset, noise, eta, correct, n, accuracy in
percent), robustness.json and robustness_<noise>.png/.svg (accuracy against η,
one line per model) into --out. With --limit-test the outputs say so.

Picture noise pairs in file order by default (the issue's and the scripts'
unshuffled loaders). When both splits are stored in the same class order, as
the CIFAR-10 files in ../shared/data are (labels 0…9 cycling in both), file
order mixes every test image with a training image of its own class and the
accuracy rises with η; --picture-pairs shuffled uses a fixed permutation of the
training images (seed 0, spec §6 item 16) instead.`,
		Example: `  deepnmf robustness --run runs/cnmf_1x1 --run runs/cnn --out studies/noise
  deepnmf robustness --weights model.safetensors --config network.json --noise holes --limit-test 1000 --out /tmp/noise`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := runRobustness(cmd, o)
			if err != nil {
				return err
			}
			if o.asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			printRobustness(cmd.OutOrStdout(), res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.runs, "run", nil, "run directory written by deepnmf train (repeat for several)")
	f.StringVar(&o.weights, "weights", "", "weights file (instead of --run)")
	f.StringVar(&o.config, "config", "", "network config file or preset of --weights (weights written by deepnmf carry theirs)")
	f.StringVar(&o.noise, "noise", "uniform,picture,holes,holes-noise", "comma-separated corruptions")
	f.StringVar(&o.pictureOrder, "picture-pairs", "file", "picture noise pairs test image i with training image i in file order, or in a fixed shuffled order (seed 0): file|shuffled")
	f.Uint64Var(&o.seed, "seed", 21, "seed of the noise (21 as the official scripts)")
	f.IntVar(&o.limitTest, "limit-test", 0, "evaluate only the first N test images (0 = all); the outputs say so")
	f.IntVar(&o.threads, "threads", runtime.NumCPU(), "worker goroutines (fixed shards of every batch)")
	f.StringVar(&o.dataDir, "data-dir", "", "data directory (default: the run's, else $"+data.EnvDataDir+", else <user cache dir>/deepnmf)")
	f.StringVar(&o.out, "out", "", "output directory (created)")
	f.BoolVar(&o.asJSON, "json", false, "print one JSON object")
	return cmd
}

func runRobustness(cmd *cobra.Command, o robustnessOptions) (*robustnessOutput, error) {
	if o.out == "" {
		return nil, errors.New("robustness: give --out DIR")
	}
	if (len(o.runs) == 0) == (o.weights == "") {
		return nil, errors.New("robustness: give --run DIR (one or more) or --weights FILE, not both")
	}
	if o.config != "" && o.weights == "" {
		return nil, errors.New("robustness: --config goes with --weights")
	}
	if o.pictureOrder != "file" && o.pictureOrder != "shuffled" {
		return nil, fmt.Errorf("robustness: --picture-pairs %q: want file or shuffled", o.pictureOrder)
	}
	noises, err := experiment.ParseNoises(o.noise)
	if err != nil {
		return nil, fmt.Errorf("robustness: --noise: %w", err)
	}
	var sources []experiment.Source
	for _, r := range o.runs {
		sources = append(sources, experiment.Source{RunDir: r})
	}
	if o.weights != "" {
		sources = append(sources, experiment.Source{Weights: o.weights, Config: o.config})
	}
	bar := newProgress(nil, 0, "", "")
	res, err := experiment.RunRobustness(cmd.Context(), experiment.RobustnessOptions{
		Sources: sources, Noises: noises, Seed: o.seed, LimitTest: o.limitTest, Threads: o.threads, DataDir: o.dataDir,
		ShuffledPairs: o.pictureOrder == "shuffled",
		Start: func(total int) {
			bar = newProgress(terminalErr(cmd), total, fmt.Sprintf("robustness: %d levels", len(sources)*len(noises)*experiment.NumLevels), "img")
		},
		Progress: func(n int) { bar.Add(n) },
	})
	bar.Finish()
	if err != nil {
		return nil, err
	}
	files, err := experiment.WriteRobustness(o.out, res)
	if err != nil {
		return nil, fmt.Errorf("robustness: %w", err)
	}
	return &robustnessOutput{RobustnessResult: res, Files: files}, nil
}

func printRobustness(w io.Writer, res *robustnessOutput) {
	if res.LimitTest > 0 {
		fmt.Fprintf(w, "reduced: the first %d test images only\n", res.LimitTest)
	}
	fmt.Fprintf(w, "%-28s %-16s %-12s %6s %8s %10s\n", "run", "model", "noise", "eta", "correct", "accuracy")
	for _, r := range res.Rows {
		fmt.Fprintf(w, "%-28s %-16s %-12s %6.3f %8d %9.2f%%\n", filepath.Base(filepath.Clean(r.Run)), r.Model, r.Noise, r.Eta, r.Correct, r.Accuracy)
	}
	fmt.Fprintf(w, "wall time %.1f s; wrote %s\n", res.WallSeconds, strings.Join(res.Files, ", "))
}
