package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/experiment"
)

func init() { subcommands = append(subcommands, newPlotCmd) }

type plotOptions struct {
	runs         []string
	out, dataDir string
	patches      int
	asJSON       bool
}

// plotResult is what `deepnmf plot --json` prints.
type plotResult struct {
	Files []string `json:"files"`
	Notes []string `json:"notes,omitempty"`
}

func newPlotCmd() *cobra.Command {
	o := plotOptions{}
	cmd := &cobra.Command{
		Use:   "plot",
		Short: "Pictures of runs: training curves, first-layer dictionary, reconstructions",
		Long: `Draw the pictures of one or more runs into --out (PNG and SVG each):

  curves.png                 test accuracy, training loss per image and the learning
                             rates against the epoch (metrics.csv), one line per run
  N-RUN/dictionary.png       the first NNMF layer's normalised weight W, one colour
                             patch (3×5×5 for cnmf_1x1) per row, each scaled to its
                             maximum
  N-RUN/reconstructions.png  the centre patches of the first --patches test images
                             (after the evaluation crop, L1-normalised) above their
                             reconstructions h·W by that layer

A run without NNMF layers (cnn, cnn_1x1) gets curves only.`,
		Example: `  deepnmf plot --run runs/a --run runs/b --out pictures`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.runs) == 0 || o.out == "" {
				return errors.New("plot: give --run DIR (one or more) and --out DIR")
			}
			if o.patches < 0 {
				return fmt.Errorf("plot: --patches must not be negative, got %d", o.patches)
			}
			files, notes, err := experiment.PlotRuns(o.runs, o.out, &experiment.DictionaryLoader{DataDir: o.dataDir, Patches: o.patches})
			if err != nil {
				return err
			}
			if o.asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(plotResult{Files: files, Notes: notes})
			}
			for _, n := range notes {
				fmt.Fprintln(cmd.ErrOrStderr(), n)
			}
			for _, f := range files {
				fmt.Fprintln(cmd.OutOrStdout(), f)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.runs, "run", nil, "run directory (repeat for several)")
	f.StringVar(&o.out, "out", "", "output directory (created)")
	f.IntVar(&o.patches, "patches", 8, "test-image patches to reconstruct (0 = none)")
	f.StringVar(&o.dataDir, "data-dir", "", "data directory for the patches (default: the run's, else $"+data.EnvDataDir+", else <user cache dir>/deepnmf)")
	f.BoolVar(&o.asJSON, "json", false, "print the files written as one JSON object")
	return cmd
}
