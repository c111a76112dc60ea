package main

import (
	"encoding/json"
	"os/exec"
	"testing"
)

// TestBackwardCostCommand runs the built binary, since backward-cost
// re-executes its own binary (os.Executable) as one bench child per row.
func TestBackwardCostCommand(t *testing.T) {
	bin := deepnmfBinary(t)
	out := t.TempDir()
	cmd := exec.Command(bin, "backward-cost", "--model", "cnmf_1x1", "--backward", "approx,unrolled", "--iterations", "2",
		"--batch-size", "2", "--steps", "1", "--warmup", "0", "--threads", "1", "--out", out, "--json")
	stdout, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("%v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var res backwardCostResult
	if err := json.Unmarshal(stdout, &res); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if len(res.Rows) != 2 || len(res.Files) != 4 {
		t.Fatalf("%+v", res)
	}
	for _, r := range res.Rows {
		if r.StepSeconds <= 0 || r.PeakRSSBytes < 1<<20 || r.Iterations != 2 {
			t.Fatalf("%+v", r)
		}
	}
	if _, err := execute("backward-cost", "--out", out, "--backward", "exact"); err == nil {
		t.Fatal("an unknown method accepted")
	}
}
