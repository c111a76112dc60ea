package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestTrainFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", "cnn", "--config", "x.json"}, "either --model or --config"},
		{[]string{"--resume", "somedir", "--seed", "3"}, "--seed cannot change on --resume"},
		{[]string{"--resume"}, "--resume needs a run directory"},
		{[]string{"stray"}, `unexpected argument "stray"`},
		{[]string{"--resume", t.TempDir()}, "resume"}, // no run.json there
	} {
		cmd := newTrainCmd()
		cmd.SetArgs(tc.args)
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("train %v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}
