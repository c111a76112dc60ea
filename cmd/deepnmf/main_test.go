package main

import (
	"bytes"
)

// runDeepnmf runs the command line args through a fresh command tree and
// returns what it wrote to stdout and to stderr.
func runDeepnmf(args ...string) (stdout, stderr string, err error) {
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

// execute is runDeepnmf for tests that do not care which stream a line went to.
func execute(args ...string) (string, error) {
	out, errOut, err := runDeepnmf(args...)
	return out + errOut, err
}
