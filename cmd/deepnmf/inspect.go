package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/experiment/sweep"
	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/train"
)

func init() { subcommands = append(subcommands, newInspectCmd) }

type inspectLayer struct {
	Index       int    `json:"index"`
	Type        string `json:"type"`
	Description string `json:"description"`
	OutputShape []int  `json:"output_shape"` // per sample: [C, H, W]; Unfold [C·kh·kw, positions]; Flatten [features]
	Parameters  int    `json:"parameters"`
}

type inspectResult struct {
	Network         string         `json:"network"`
	Input           []int          `json:"input"`
	Layers          []inspectLayer `json:"layers"`
	ParameterGroups map[string]int `json:"parameter_groups"`
	TotalParameters int            `json:"total_parameters"`
	// Share1x1 is the share of the b-slot (1×1 mixing) parameters among the
	// a- and b-slot ones (spec §4.3), for networks that have a b-slot.
	Share1x1 *float64 `json:"share_1x1,omitempty"`
}

func newInspectCmd() *cobra.Command {
	var model, config, dataset, input string
	var asJSON, balance bool
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Show a network's layers, output shapes and parameter counts",
		Long: `Build a network from a preset (--model) or an official network-config file
(--config) and print the official layer sequence (the index is the state_dict key
prefix), each layer's output shape for one image, and the parameter count per
optimiser group (neuron a, neuron b, batchnorm2d, neuron pool) and in total.

The input shape comes from --dataset (its training crop: 3×28×28 for CIFAR-10,
1×24×24 for the MNISTs) or --input C,H,W (default 3,28,28).

--balance lists the parameter-balance family (spec §4.3; deepnmf sweep plan
balance trains it): cnmf_1x1 with other per-block widths n_a (NNMF) and n_b
(1×1), each member's parameter counts on CIFAR-10 and its 1×1 share
neuron b / (neuron a + neuron b). A member's config, as the study writes it
(STUDY_DIR/configs/<member>.json), can be inspected with --config.

Presets: ` + strings.Join(nn.PresetNames(), ", ") + `.`,
		Example: `  deepnmf inspect --model cnmf_1x1
  deepnmf inspect --config network.json --dataset mnist --json
  deepnmf inspect --balance`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if balance {
				for _, name := range []string{"model", "config", "dataset", "input"} {
					if cmd.Flags().Changed(name) {
						return fmt.Errorf("inspect: --balance lists the family on CIFAR-10; --%s does not apply", name)
					}
				}
				fam, err := sweep.BalanceFamily()
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(cmd.OutOrStdout()).Encode(fam)
				}
				printBalance(cmd.OutOrStdout(), fam)
				return nil
			}
			var cfg *nn.Config
			var err error
			name := model
			switch {
			case model != "" && config != "":
				return errors.New("inspect: give --model or --config, not both")
			case model != "":
				cfg, err = nn.Preset(model)
			case config != "":
				cfg, err = train.ConfigOrPreset(config)
				name = config
			default:
				return errors.New("inspect: give --model PRESET or --config FILE")
			}
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("dataset") && cmd.Flags().Changed("input") {
				return errors.New("inspect: give --dataset or --input, not both")
			}
			var in nn.Shape
			if dataset != "" {
				info, err := data.Lookup(dataset)
				if err != nil {
					return err
				}
				in = nn.Shape{C: info.Channels, H: info.Crop, W: info.Crop}
			} else if in, err = parseShape(input, 3); err != nil {
				return err
			}
			res, err := inspectNetwork(name, cfg, in)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			printInspect(cmd.OutOrStdout(), res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "network preset: "+strings.Join(nn.PresetNames(), ", "))
	f.StringVar(&config, "config", "", "network config file in the official JSON format")
	f.StringVar(&dataset, "dataset", "", "take the input shape from this dataset's crop (cifar10, mnist, fashion-mnist)")
	f.StringVar(&input, "input", "3,28,28", "input shape C,H,W")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	f.BoolVar(&balance, "balance", false, "list the parameter-balance family: widths, counts and 1×1 share of each member")
	return cmd
}

func printBalance(w io.Writer, fam []sweep.Member) {
	fmt.Fprintf(w, "parameter-balance family: cnmf_1x1 geometry on CIFAR-10 (3×28×28), total within ±%.0f %% of %s\n\n",
		sweep.BalanceTolerance*100, groupDigits(sweep.BalanceTotal))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "member\tn_a per block\tn_b per block\tneuron a\tneuron b\tbatchnorm2d\ttotal\t1×1 share\t")
	ints := func(v [4]int) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = strconv.Itoa(x)
		}
		return strings.Join(s, ",")
	}
	for _, m := range fam {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f %%\t\n", m.Name, ints(m.NA), ints(m.NB),
			groupDigits(m.NeuronA), groupDigits(m.NeuronB), groupDigits(m.BatchNorm), groupDigits(m.Total), m.Share*100)
	}
	tw.Flush()
}

// parseShape reads --input: C,H,W, or a single H meaning defaultC×H×H.
func parseShape(s string, defaultC int) (nn.Shape, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 && len(parts) != 1 {
		return nn.Shape{}, fmt.Errorf("--input %q: want C,H,W (or H)", s)
	}
	var v []int
	for _, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nn.Shape{}, fmt.Errorf("--input %q: %q is not a positive integer", s, p)
		}
		v = append(v, n)
	}
	if len(v) == 1 {
		return nn.Shape{C: defaultC, H: v[0], W: v[0]}, nil
	}
	return nn.Shape{C: v[0], H: v[1], W: v[2]}, nil
}

func inspectNetwork(name string, cfg *nn.Config, in nn.Shape) (*inspectResult, error) {
	net, err := nn.Build(cfg, in, 1, nn.Options{}, 0)
	if err != nil {
		return nil, fmt.Errorf("%s on input %d×%d×%d: %w", name, in.C, in.H, in.W, err)
	}
	defer net.Close()
	res := &inspectResult{Network: name, Input: []int{in.C, in.H, in.W}, ParameterGroups: map[string]int{}}
	for _, l := range net.Layers() {
		shape := []int{l.Out.C, l.Out.H, l.Out.W}
		switch l.Type {
		case "Unfold":
			shape = []int{l.Out.C, l.Out.H * l.Out.W}
		case "Flatten":
			shape = []int{l.Out.C}
		}
		res.Layers = append(res.Layers, inspectLayer{Index: l.Index, Type: l.Type, Description: l.Desc, OutputShape: shape, Parameters: l.Params})
	}
	total, per := net.ParamCount()
	if b := per[nn.GroupNeuronB]; b > 0 {
		share := float64(b) / float64(per[nn.GroupNeuronA]+b)
		res.Share1x1 = &share
	}
	res.TotalParameters = total
	for g := nn.Group(0); g < nn.NumGroups; g++ {
		res.ParameterGroups[g.String()] = per[g]
	}
	return res, nil
}

func printInspect(w io.Writer, res *inspectResult) {
	fmt.Fprintf(w, "network %s, input %d×%d×%d\n\n", res.Network, res.Input[0], res.Input[1], res.Input[2])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "index\tlayer\toutput\tparameters")
	for _, l := range res.Layers {
		dims := make([]string, len(l.OutputShape))
		for i, d := range l.OutputShape {
			dims[i] = strconv.Itoa(d)
		}
		params := ""
		if l.Parameters > 0 {
			params = groupDigits(l.Parameters)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", l.Index, l.Description, strings.Join(dims, "×"), params)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for g := nn.Group(0); g < nn.NumGroups; g++ {
		fmt.Fprintf(tw, "%s\t%s\t\n", g, groupDigits(res.ParameterGroups[g.String()]))
	}
	fmt.Fprintf(tw, "total\t%s\t\n", groupDigits(res.TotalParameters))
	tw.Flush()
	if res.Share1x1 != nil {
		fmt.Fprintf(w, "1×1 share (neuron b / (neuron a + neuron b)): %.2f %%\n", *res.Share1x1*100)
	}
}

// groupDigits formats 167886 as 167,886.
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
