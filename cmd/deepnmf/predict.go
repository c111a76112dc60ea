package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/train"
)

func init() { subcommands = append(subcommands, newPredictCmd) }

type prediction struct {
	File    string       `json:"file"`
	Classes []classScore `json:"top"`
}

type classScore struct {
	Class       string  `json:"class"`
	Index       int     `json:"index"`
	Probability float32 `json:"probability"`
}

func newPredictCmd() *cobra.Command {
	var src train.ModelSource
	var open train.OpenOptions
	var top int
	var asJSON, runningStats bool
	cmd := &cobra.Command{
		Use:   "predict [flags] IMAGE...",
		Short: "Classify PNG/JPEG images with a trained network",
		Long: `Classify PNG or JPEG files with trained weights and print the top classes with
their probabilities.

Each image is prepared as the test images are: converted to RGB (or to grayscale
for MNIST/Fashion-MNIST, with PIL's L weights), resized so that its shorter side
is the dataset's image size (32 for CIFAR-10, 28 for the MNISTs; area averaging
when shrinking, bilinear when enlarging, rounded to 8 bits), center-cropped to a
square of that size, then center-cropped to the training crop (28 or 24) exactly as
the test images are, and divided by 255. A 32×32 CIFAR-style PNG therefore gives
exactly the network input of the test loader.

All files given form ONE batch. The networks use BatchNorm with batch statistics
at evaluation too (as the official code, track_running_stats=False), so an image's
probabilities depend on the other images of the batch: a single image is
normalised with its own statistics only. For results comparable with the test
accuracy, pass about 50 varied images at a time. (Networks trained with
--running-stats use their running statistics instead and do not depend on the batch.)

Weights: --run RUN_DIR (final.safetensors, else the last checkpoint, with the run's
config.json and dataset), or --weights FILE --config FILE|PRESET [--dataset NAME];
weights saved by deepnmf carry their config, so --config may be left out.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if src.RunDir == "" && src.Weights == "" {
				return errors.New("give --run RUN_DIR, or --weights FILE with --config")
			}
			if top < 1 || open.Threads < 1 {
				return fmt.Errorf("--top and --threads must be at least 1, got %d and %d", top, open.Threads)
			}
			if !cmd.Flags().Changed("dataset") {
				open.Dataset = "" // the run's or the weights', else CIFAR-10
			}
			if cmd.Flags().Changed("running-stats") {
				open.RunningStats = &runningStats
			}
			open.BatchSize = len(files)
			m, err := train.OpenModel(src, open)
			if err != nil {
				return err
			}
			defer m.Close()
			info, in := m.Dataset, m.Input
			x := make([]float32, len(files)*in.C*in.H*in.W)
			for i, path := range files {
				if err := data.ReadImage(path, info, x[i*in.C*in.H*in.W:(i+1)*in.C*in.H*in.W]); err != nil {
					return err
				}
			}
			probs, err := m.Predict(x, len(files))
			if err != nil {
				return err
			}
			classes := m.Net.Classes()
			k := min(top, classes)
			var preds []prediction
			for i, f := range files {
				row := probs[i*classes : (i+1)*classes]
				idx := make([]int, classes)
				for c := range idx {
					idx[c] = c
				}
				sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
				p := prediction{File: f}
				for _, c := range idx[:k] {
					p.Classes = append(p.Classes, classScore{Class: info.Classes[c], Index: c, Probability: row[c]})
				}
				preds = append(preds, p)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(preds)
			}
			for _, p := range preds {
				fmt.Fprintf(w, "%s:", p.File)
				for _, c := range p.Classes {
					fmt.Fprintf(w, "  %s %.4f", c.Class, c.Probability)
				}
				fmt.Fprintln(w)
			}
			return nil
		},
	}
	f := cmd.Flags()
	addModelSourceFlags(f, &src)
	f.StringVar(&open.Dataset, "dataset", "cifar10", "dataset the network was trained on (class names, image size; default: the run's, else the one deepnmf train recorded in --weights)")
	f.IntVar(&top, "top", 3, "number of classes to print per image")
	f.IntVar(&open.Threads, "threads", runtime.NumCPU(), "worker goroutines (fixed shards of the batch)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	addMaxMemoryFlag(f, &open.MaxMemory)
	f.BoolVar(&runningStats, "running-stats", false, "the weights carry BatchNorm running statistics; use them (default with --run: as the run was trained)")
	return cmd
}
