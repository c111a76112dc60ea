package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTrainFlagErrors(t *testing.T) {
	nonRunDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(nonRunDir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", "cnn", "--config", "x.json"}, "either --model or --config"},
		{[]string{"--resume", "somedir", "--seed", "3"}, "--seed cannot change on --resume"},
		{[]string{"--resume"}, "--resume needs a run directory"},
		{[]string{"stray"}, `unexpected argument "stray"`},
		// Rejected before the dataset is looked for (there is none here).
		{[]string{"--iterations", "-1", "--data-dir", t.TempDir()}, "--iterations must not be negative"},
		{[]string{"--epochs", "0", "--data-dir", t.TempDir()}, "--epochs must be at least 1"},
		{[]string{"--backward", "nope", "--data-dir", t.TempDir()}, `unknown NNMF backward method "nope"`},
		{[]string{"--lr-a", "-1", "--data-dir", t.TempDir()}, `group "neuron a" must be positive`},
		{[]string{"--model", "nope", "--data-dir", t.TempDir()}, `unknown network preset "nope"`},
		{[]string{"--resume", t.TempDir()}, "resume"}, // no run.json there
		// A non-empty folder that is no run: --resume would not help.
		{[]string{"--out", nonRunDir, "--data-dir", t.TempDir()}, "is not a run directory"},
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
