package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/experiment"
)

func init() { subcommands = append(subcommands, newGradcheckCmd) }

type gradcheckOptions struct {
	out, dataDir string
	iterations   []int
	seed         uint64
	images       int
	noConv       bool
	asJSON       bool
}

// gradcheckResult is what `deepnmf gradcheck --json` prints.
type gradcheckResult struct {
	Rows  []experiment.GradRow `json:"rows"`
	Files []string             `json:"files"`
}

func newGradcheckCmd() *cobra.Command {
	o := gradcheckOptions{}
	def := experiment.DefaultGradStudy()
	cmd := &cobra.Command{
		Use:   "gradcheck",
		Short: "Compare every NNMF backward method with exact (unrolled) backprop",
		Long: `The gradient-accuracy study of spec §1.7: for each backward method (approx,
last_iter, last_iter_sqrt_t, implicit, and unrolled computed a second time as
the noise floor) against unrolled backprop through the T iterations, the cosine
similarity, the mean absolute error and the relative L2 error of ∂L/∂x and of
∂L/∂V (the raw weight the optimiser updates), at every T of --iterations, on

  dense  a dense NNMF layer (75 → 32, the size of cnmf_1x1's first one) on 1,000
         random L1-normalised rows
  conv   a convolutional NNMF layer (3 → 10 channels, kernel 6, stride 2) on the
         patches of the first --images CIFAR-10 test images (32×32)

with official U[0,1) weights and a standard normal ∂L/∂h, all drawn from --seed.
∂L/∂x is taken through the L1 normalisation before the layer (and, for conv, back
to the image), as the network propagates it. Writes gradcheck.csv,
gradcheck.json and gradcheck_<case>.png/.svg into --out.`,
		Example: `  deepnmf gradcheck --out studies/gradcheck
  deepnmf gradcheck --out /tmp/g --iterations 1,20 --images 4 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := runGradcheck(o, terminalErr(cmd))
			if err != nil {
				return err
			}
			if o.asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			printGradRows(cmd.OutOrStdout(), res.Rows)
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d files to %s\n", len(res.Files), o.out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "output directory (created)")
	f.IntSliceVar(&o.iterations, "iterations", def.Iterations, "NNMF iterations T to compare at")
	f.Uint64Var(&o.seed, "seed", def.Seed, "seed of the weights, the dense data and ∂L/∂h")
	f.IntVar(&o.images, "images", 10, "CIFAR-10 test images of the convolutional case")
	f.BoolVar(&o.noConv, "no-conv", false, "only the dense case (no CIFAR-10 needed)")
	f.StringVar(&o.dataDir, "data-dir", "", "data directory (default $"+data.EnvDataDir+", else <user cache dir>/deepnmf)")
	f.BoolVar(&o.asJSON, "json", false, "print one JSON object")
	return cmd
}

func runGradcheck(o gradcheckOptions, bar io.Writer) (*gradcheckResult, error) {
	if o.out == "" {
		return nil, errors.New("gradcheck: give --out DIR")
	}
	if o.images < 1 {
		return nil, fmt.Errorf("gradcheck: --images must be at least 1, got %d", o.images)
	}
	for _, t := range o.iterations {
		if t < 1 || t > 10000 {
			return nil, fmt.Errorf("gradcheck: --iterations: %d is outside 1…10000", t)
		}
	}
	so := experiment.DefaultGradStudy()
	so.Iterations, so.Seed = o.iterations, o.seed
	if !o.noConv {
		root, err := data.ResolveDir(o.dataDir)
		if err != nil {
			return nil, err
		}
		ds, err := data.Load("cifar10", root)
		if err != nil {
			return nil, fmt.Errorf("gradcheck: the convolutional case needs CIFAR-10 (or give --no-conv): %w", err)
		}
		if o.images > ds.Test.N {
			return nil, fmt.Errorf("gradcheck: --images %d: the test split has %d", o.images, ds.Test.N)
		}
		so.ConvN = o.images
		so.ConvImages = make([]float32, o.images*ds.Test.ImageSize())
		for i := range so.ConvImages {
			so.ConvImages[i] = float32(ds.Test.Images[i]) / 255
		}
	}
	pb := newProgress(bar, experiment.GradStudySteps(so), "gradcheck", "T")
	rows, err := experiment.GradStudy(so, func() { pb.Add(1) })
	pb.Finish()
	if err != nil {
		return nil, fmt.Errorf("gradcheck: %w", err)
	}
	files, err := experiment.WriteGradStudy(o.out, rows)
	if err != nil {
		return nil, fmt.Errorf("gradcheck: %w", err)
	}
	return &gradcheckResult{Rows: rows, Files: files}, nil
}

func printGradRows(w io.Writer, rows []experiment.GradRow) {
	fmt.Fprintf(w, "%-6s %-17s %5s %10s %10s %10s %10s\n", "case", "method", "T", "cos ∂x", "MAE ∂x", "cos ∂V", "MAE ∂V")
	for _, r := range rows {
		fmt.Fprintf(w, "%-6s %-17s %5d %10.6f %10.3g %10.6f %10.3g\n", r.Case, r.Method, r.Iterations, r.CosX, r.MAEX, r.CosW, r.MAEW)
	}
}
