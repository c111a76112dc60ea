package main

import (
	"encoding/json"
	"os"
	"testing"
)

// asCLIEnv makes the test binary run as the deepnmf command line, so that
// backward-cost, which re-executes its own binary, can be tested.
const asCLIEnv = "DEEPNMF_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(asCLIEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestBackwardCostCommand(t *testing.T) {
	t.Setenv(asCLIEnv, "1")
	out := t.TempDir()
	stdout, _, err := runDeepnmf("backward-cost", "--model", "cnmf_1x1", "--backward", "approx,unrolled", "--iterations", "2",
		"--batch-size", "2", "--steps", "1", "--warmup", "0", "--threads", "1", "--out", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res backwardCostResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
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
