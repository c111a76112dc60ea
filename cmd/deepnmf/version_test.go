package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/train"
)

func TestVersion(t *testing.T) {
	out, err := execute("--version")
	if err != nil || strings.TrimSpace(out) != "deepnmf "+train.Version() {
		t.Errorf("--version: %q, %v", out, err)
	}
	out, err = execute("version", "--json")
	var v map[string]string
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || v["version"] != train.Version() || v["go_version"] == "" {
		t.Errorf("version --json: %q, %v", out, err)
	}
}

// Renamed flags keep their old spelling, hidden, for one release.
func TestRenamedFlagsStillWork(t *testing.T) {
	out, err := execute("bench", "--batch", "2", "--steps", "1", "--warmup", "0", "--threads", "1",
		"--iterations", "2", "--mode", "infer", "--input", "28", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r train.BenchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Batch != 2 || r.Input[0] != 3 || r.Input[1] != 28 {
		t.Errorf("bench --batch 2 --input 28: %s (%v)", out, err)
	}
	help, _ := execute("bench", "--help")
	if strings.Contains(help, "--batch ") || !strings.Contains(help, "--batch-size") {
		t.Errorf("bench --help shows the old spelling or lacks the new one:\n%s", help)
	}
	if _, err := execute("eval", "--weights", "nope.safetensors", "--limit", "-1"); err == nil || !strings.Contains(err.Error(), "--limit-test") {
		t.Errorf("eval --limit -1: %v, want the error of --limit-test", err)
	}
}
