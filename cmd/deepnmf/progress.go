package main

import (
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/deepnmf/deepnmf/train"
)

// terminalErr is the command's stderr if it is a terminal, else nil: a
// progress bar drawn into a log file or a pipe is only noise.
func terminalErr(cmd *cobra.Command) io.Writer {
	if f, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return f
	}
	return nil
}

// newProgress is a bar with count, rate and ETA over total units on w, or a
// no-op when w is nil.
func newProgress(w io.Writer, total int, desc, unit string) *progressbar.ProgressBar {
	if w == nil {
		return progressbar.NewOptions(total, progressbar.OptionSetWriter(io.Discard))
	}
	return train.NewProgressBar(w, total, desc, unit)
}
