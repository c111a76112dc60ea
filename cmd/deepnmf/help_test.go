package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestHelpEveryCommand: --help works on every command, and no flag's usage
// text quotes something in backticks, which pflag would print as the flag's
// value name ("--run deepnmf train").
func TestHelpEveryCommand(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		out, _, err := runDeepnmf(append(path, "--help")...)
		if err != nil || !strings.Contains(out, "Usage:") {
			t.Errorf("%q --help: %v\n%s", c.CommandPath(), err, out)
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if name, _ := pflag.UnquoteUsage(f); strings.Contains(name, " ") {
				t.Errorf("%s --%s: value name %q", c.CommandPath(), f.Name, name)
			}
		})
		for _, sub := range c.Commands() {
			if sub.Name() != "help" && sub.Name() != "completion" {
				walk(sub)
			}
		}
	}
	walk(newRootCmd())
}

// TestUnknownSubcommandFails: a word after a command group that names none of
// its subcommands is an error, not the group's help with success.
func TestUnknownSubcommandFails(t *testing.T) {
	for _, args := range [][]string{{"data", "fecth"}, {"completion", "tcsh"}} {
		out, err := execute(args...)
		if err == nil || !strings.Contains(out, "unknown command") {
			t.Errorf("deepnmf %s: err %v, want unknown command\n%s", strings.Join(args, " "), err, out)
		}
	}
	if out, err := execute("data", "fecth"); !strings.Contains(out, "fetch") {
		t.Errorf("deepnmf data fecth: no suggestion of fetch: %v\n%s", err, out)
	}
	if out, err := execute("data"); err != nil || !strings.Contains(out, "Available Commands") {
		t.Errorf("deepnmf data: %v\n%s", err, out)
	}
}

// TestCompleteFlagValues: the shell completion offers the names a flag accepts.
func TestCompleteFlagValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--model", ""}, "cnmf_nnmfpool"},
		{[]string{"train", "--backward", ""}, "last_iter_sqrt_t"},
		{[]string{"train", "--augment", ""}, "per-image"},
		{[]string{"eval", "--dataset", ""}, "fashion-mnist"},
		{[]string{"data", "fetch", "--dataset", ""}, "mnist"},
		{[]string{"bench", "--mode", ""}, "infer"},
		{[]string{"inspect", "--model", ""}, "cnn_1x1"},
	} {
		out, _, err := runDeepnmf(append([]string{cobra.ShellCompRequestCmd}, tc.args...)...)
		if err != nil || !slices.Contains(strings.Split(out, "\n"), tc.want) {
			t.Errorf("completion of deepnmf %s: %v, want %q among\n%s", strings.Join(tc.args, " "), err, tc.want, out)
		}
	}
}
