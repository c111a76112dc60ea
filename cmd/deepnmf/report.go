package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/experiment"
)

func init() { subcommands = append(subcommands, newReportCmd) }

type reportOptions struct {
	runs, robustness                      []string
	gradcheck, backwardCost, out, dataDir string
	patches                               int
	asJSON                                bool
}

func newReportCmd() *cobra.Command {
	o := reportOptions{}
	cmd := &cobra.Command{
		Use:   "report",
		Short: "One static HTML page gathering runs and studies",
		Long: `Write --out/index.html and its images: a self-contained static page (no scripts,
fonts or styles from elsewhere; open it from disk) with

  - the accuracy table, runs grouped by model: number of runs, mean ± sample
    standard deviation of the final and of the best test accuracy, parameters,
    epochs, wall time per run and the budget (a run smaller than the paper's
    protocol is labelled "reduced budget: … images × … epochs × … seeds"),
  - a table of the runs, and their training curves,
  - the robustness curves and a table at η = 0, 0.25, 0.5, 0.75, 1 of each
    --robustness directory (written by deepnmf robustness),
  - the gradient study of --gradcheck (deepnmf gradcheck) with its table at T = 20,
  - the backward cost of --backward-cost (deepnmf backward-cost),
  - the first NNMF layer's dictionary and reconstructions of each model.`,
		Example: `  deepnmf report --run runs/a --run runs/b --robustness studies/noise --gradcheck studies/grad --out report`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.runs) == 0 || o.out == "" {
				return errors.New("report: give --run DIR (one or more) and --out DIR")
			}
			if o.patches < 0 {
				return fmt.Errorf("report: --patches must not be negative, got %d", o.patches)
			}
			loader := &experiment.DictionaryLoader{DataDir: o.dataDir, Patches: o.patches}
			files, err := experiment.WriteReport(experiment.ReportOptions{
				Runs: o.runs, Robustness: o.robustness, GradCheck: o.gradcheck, BackwardCost: o.backwardCost,
				Out: o.out, Dictionary: loader.Load,
			})
			if err != nil {
				return err
			}
			if o.asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(plotResult{Files: files})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d files)\n", files[0], len(files))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.runs, "run", nil, "run directory (repeat for several)")
	f.StringArrayVar(&o.robustness, "robustness", nil, "output directory of deepnmf robustness (repeatable)")
	f.StringVar(&o.gradcheck, "gradcheck", "", "output directory of deepnmf gradcheck")
	f.StringVar(&o.backwardCost, "backward-cost", "", "output directory of deepnmf backward-cost")
	f.StringVar(&o.out, "out", "", "output directory (created)")
	f.IntVar(&o.patches, "patches", 8, "test-image patches to reconstruct per model (0 = none)")
	f.StringVar(&o.dataDir, "data-dir", "", "data directory for the patches (default: the run's, else $"+data.EnvDataDir+", else <user cache dir>/deepnmf)")
	f.BoolVar(&o.asJSON, "json", false, "print the files written as one JSON object")
	return cmd
}
