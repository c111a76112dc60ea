package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/train"
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
		{[]string{"--lr-a", "-1", "--data-dir", t.TempDir()}, `--lr-a (the learning rate of group "neuron a") must be positive`},
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

// A run trained with --iterations is evaluated with that T: its config.json
// and its weights say so. eval --run tests in batches of the run's
// --batch-size (BatchNorm uses each batch's statistics) and so reproduces the
// run's last test_acc.
func TestEvalRunReproducesTestAcc(t *testing.T) {
	dataDir := filepath.Dir(sharedtest.Path(t, "data", "mnist"))
	runDir := filepath.Join(t.TempDir(), "run")
	out, err := execute("train", "--dataset", "mnist", "--data-dir", dataDir, "--out", runDir, "--iterations", "3", "--batch-size", "30",
		"--limit-train", "100", "--limit-test", "100", "--epochs", "1", "--threads", "1")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if cfg, err := nn.LoadConfig(filepath.Join(runDir, "config.json")); err != nil {
		t.Error(err)
	} else if cfg.Iterations != 3 {
		t.Errorf("config.json: iterations %d, want 3", cfg.Iterations)
	}
	if cfg, err := nn.ConfigFromWeights(filepath.Join(runDir, "final.safetensors")); err != nil {
		t.Error(err)
	} else if cfg.Iterations != 3 {
		t.Errorf("final.safetensors: iterations %d, want 3", cfg.Iterations)
	}
	metrics, err := os.ReadFile(filepath.Join(runDir, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(string(metrics)), "\n")
	testAcc := strings.Split(rows[len(rows)-1], ",")[3]
	out, err = execute("eval", "--run", runDir, "--data-dir", dataDir, "--limit", "100", "--threads", "1", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var res evalResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.BatchSize != 30 {
		t.Errorf("eval --run: batch size %d, the run's is 30", res.BatchSize)
	}
	if want, err := strconv.ParseFloat(testAcc, 64); err != nil || res.TestAccuracy != want {
		t.Errorf("eval --run: test accuracy %v, the run's metrics.csv says %s", res.TestAccuracy, testAcc)
	}
}

// A new run interrupted before its first checkpoint has nothing to resume
// from: the message must not send the user to --resume, and the same
// command must simply work again (a preempted cluster task repeats it).
func TestTrainInterruptedBeforeFirstCheckpoint(t *testing.T) {
	dataDir := filepath.Dir(sharedtest.Path(t, "data", "mnist"))
	runDir := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "--dataset", "mnist", "--data-dir", dataDir, "--out", runDir,
		"--limit-train", "100", "--limit-test", "50", "--epochs", "1", "--threads", "1"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as a Ctrl-C before the first batch
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if !errors.Is(err, train.ErrInterrupted) || strings.Contains(err.Error(), "--resume") {
		t.Fatalf("interrupted run: %v, want an interruption that does not point to --resume\n%s", err, out.String())
	}
	if out, err := execute(args...); err != nil {
		t.Errorf("the same command again: %v\n%s", err, out)
	}
}
