package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/kernels"
	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/nnmf"
	"github.com/deepnmf/deepnmf/train"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "deepnmf",
		Short: "Train, evaluate and study deep NNMF networks on the CPU",
		Long: `deepnmf trains, evaluates and studies deep non-negative matrix factorization
(NNMF) networks: the model of Nouri, Rotermund, Garcia-Ortiz and Pawelzik (2025),
"Including local feature interactions in deep non-negative matrix factorization
networks improves performance". Pure Go, CPU only.`,
		SilenceUsage:  true,
		SilenceErrors: false,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			// An unusable DEEPNMF_CPU falls back to the best path; say so, or
			// a benchmark of the path asked for would silently measure another.
			if err := kernels.CPUEnvError(); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", err)
			}
		},
	}
	root.Version = buildVersion()
	root.SetVersionTemplate(versionLine() + "\n")
	for _, add := range subcommands {
		root.AddCommand(add())
	}
	// Added now rather than by Execute, so that it gets the check below too.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		rejectUnknownSubcommands(c)
	}
	completeFlagValues(root)
	return root
}

// completeFlagValues lets the shell completion offer the values of the flags
// that take a name from a fixed list, and files or directories for the others,
// on every command that has such a flag (same flag name, same meaning).
func completeFlagValues(c *cobra.Command) {
	var backwards []string
	for m := nnmf.Method(0); m <= nnmf.Implicit; m++ {
		backwards = append(backwards, m.String())
	}
	choices := map[string][]string{
		"model":    nn.PresetNames(),
		"dataset":  data.Names(),
		"backward": backwards,
		"augment":  {"per-batch", "per-image", "none"},
		"mode":     {"train", "infer", "both"},
	}
	files := map[string][]string{"config": {"json"}, "weights": {"safetensors"}}
	dirs := []string{"run", "out", "resume", "data-dir"}
	for name, values := range choices {
		if c.LocalFlags().Lookup(name) != nil {
			c.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
		}
	}
	for name, exts := range files {
		if c.LocalFlags().Lookup(name) != nil {
			c.MarkFlagFilename(name, exts...)
		}
	}
	for _, name := range dirs {
		if c.LocalFlags().Lookup(name) != nil {
			c.MarkFlagDirname(name)
		}
	}
	for _, sub := range c.Commands() {
		completeFlagValues(sub)
	}
}

// rejectUnknownSubcommands makes a command that only groups others fail on a
// word that names none of them. Cobra runs nothing for such a group: it
// printed the group's help and exited 0, so a typo such as
// "deepnmf data fecth" looked like success to a script.
func rejectUnknownSubcommands(c *cobra.Command) {
	if c.Runnable() || !c.HasSubCommands() {
		return
	}
	c.SuggestionsMinimumDistance = 2 // cobra's own default, which it sets only on the root
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
		}
		return errors.New(msg)
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

// subcommands is filled by the init functions of the files that define the
// commands, so that each command lives in its own file without editing this one.
var subcommands []func() *cobra.Command

// flagAliases maps, per flag set, an old flag spelling to the current name.
var flagAliases = map[*pflag.FlagSet]map[string]string{}

// hiddenAlias makes --old a hidden spelling of --name on fl, kept for one
// release after a rename so that scripts written against it still work.
// The alias is no flag of its own: pflag rewrites it to name, so that
// Changed(name) is true either way and --help shows only the new name.
func hiddenAlias(fl *pflag.FlagSet, old, name string) {
	m := flagAliases[fl]
	if m == nil {
		m = map[string]string{}
		flagAliases[fl] = m
		fl.SetNormalizeFunc(func(_ *pflag.FlagSet, n string) pflag.NormalizedName {
			if to, ok := m[n]; ok {
				return pflag.NormalizedName(to)
			}
			return pflag.NormalizedName(n)
		})
	}
	m[old] = name
}

// addModelSourceFlags adds the flags that name a trained model, the same on
// every command that opens one.
func addModelSourceFlags(fl *pflag.FlagSet, src *train.ModelSource) {
	fl.StringVar(&src.RunDir, "run", "", "run directory written by deepnmf train")
	fl.StringVar(&src.Weights, "weights", "", "weights file (safetensors with the official state_dict keys)")
	fl.StringVar(&src.Config, "config", "", "network config file (official JSON format) or preset name")
}

// flagError names options the way the command line spells them: library
// errors name an option by its JSON key (batch_size), the flag is --batch-size.
func flagError(err error) error {
	msg := err.Error()
	for _, k := range train.OptionKeys() {
		if strings.HasPrefix(msg, k+" ") {
			return fmt.Errorf("--%s%s", strings.ReplaceAll(k, "_", "-"), strings.TrimPrefix(msg, k))
		}
	}
	return err
}
