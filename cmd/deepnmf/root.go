package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/kernels"
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
	for _, add := range subcommands {
		root.AddCommand(add())
	}
	return root
}

// subcommands is filled by the init functions of the files that define the
// commands, so that each command lives in its own file without editing this one.
var subcommands []func() *cobra.Command
