package main

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/deepnmf/deepnmf/kernels"
	"github.com/deepnmf/deepnmf/train"
)

func buildVersion() string { return train.Version() }

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the deepnmf version, its VCS revision, the Go version and the CPU path",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]string{
					"version": buildVersion(), "go_version": runtime.Version(), "cpu_path": kernels.ActivePath().String(),
				})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (%s, CPU path %s)\n", versionLine(), runtime.Version(), kernels.ActivePath())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
