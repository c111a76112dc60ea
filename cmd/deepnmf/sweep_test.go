package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/experiment/sweep"
)

// Every balance member's config, as sweep plan writes it, inspects to the
// counts and share that inspect --balance claims.
func TestInspectBalanceMatchesGeneratedConfigs(t *testing.T) {
	study := filepath.Join(t.TempDir(), "balance")
	out, err := execute("sweep", "plan", "balance", "--epochs", "1", "--seeds", "2", "--out", study)
	if err != nil || !strings.Contains(out, "16 runs in 8 groups (reduced budget: full data × 1 epoch × 2 seeds)") {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	raw, _, err := runDeepnmf("inspect", "--balance", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var fam []sweep.Member
	if err := json.Unmarshal([]byte(raw), &fam); err != nil {
		t.Fatal(err)
	}
	for _, m := range fam {
		args := []string{"inspect", "--json", "--config", filepath.Join(study, sweep.ConfigsDir, m.Name+".json")}
		if m.Name == "cnmf_1x1" {
			if _, err := os.Stat(args[3]); err == nil {
				t.Errorf("the preset member got a config file %s", args[3])
			}
			args = []string{"inspect", "--json", "--model", "cnmf_1x1"}
		}
		raw, _, err := runDeepnmf(args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var res inspectResult
		if err := json.Unmarshal([]byte(raw), &res); err != nil {
			t.Fatal(err)
		}
		if res.TotalParameters != m.Total || res.ParameterGroups["neuron b"] != m.NeuronB || res.Share1x1 == nil || *res.Share1x1 != m.Share {
			t.Errorf("%s: inspect says total %d, neuron b %d, share %v; --balance says %d, %d, %v", m.Name,
				res.TotalParameters, res.ParameterGroups["neuron b"], res.Share1x1, m.Total, m.NeuronB, m.Share)
		}
	}
	text, err := execute("inspect", "--balance")
	if err != nil || !strings.Contains(text, "balance_s60") || !strings.Contains(text, "167,886") {
		t.Errorf("inspect --balance: %v\n%s", err, text)
	}
}

func TestSweepErrors(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(spec, []byte(`{"models": ["cnn"], "lr_c": 0.1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sweep", "plan", "paper"}, "--out STUDY_DIR is required"},
		{[]string{"sweep", "plan", spec, "--out", filepath.Join(dir, "s")}, `unknown key "lr_c"`},
		{[]string{"sweep", "plan", spec, "--epochs", "3", "--out", filepath.Join(dir, "s")}, "--epochs is for the built-in specs"},
		{[]string{"sweep", "plan", "paper", "--seeds", "-1", "--out", filepath.Join(dir, "s")}, "--seeds must be at least 1"},
		{[]string{"sweep", "run", dir}, "no study plan here"},
		{[]string{"sweep", "task", dir}, "--index is required"},
		{[]string{"sweep", "status", dir}, "no study plan here"},
		{[]string{"inspect", "--balance", "--model", "cnn"}, "--model does not apply"},
	} {
		out, err := execute(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error containing %q\n%s", tc.args, err, tc.want, out)
		}
	}
	// A task index outside the plan names the plan's range.
	study := filepath.Join(dir, "paper")
	if _, err := execute("sweep", "plan", "paper", "--epochs", "1", "--seeds", "1", "--out", study); err != nil {
		t.Fatal(err)
	}
	if _, err := execute("sweep", "task", study, "--index", "4"); err == nil || !strings.Contains(err.Error(), "entries 0 to 3") {
		t.Errorf("task --index 4: %v", err)
	}
	if _, err := execute("sweep", "run", study, "--jobs", "1000"); err == nil || !strings.Contains(err.Error(), "needs 1000 CPUs") {
		t.Errorf("run --jobs 1000: %v", err)
	}
	// status of a study nothing ran yet, as JSON.
	out, _, err := runDeepnmf("sweep", "status", study, "--json")
	var st sweep.StudyStatus
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.Counts[sweep.StateNotStarted] != 4 || st.Total != 4 ||
		st.Budget != "reduced budget: full data × 1 epoch × 1 seed" {
		t.Errorf("status --json: %v\n%s", err, out)
	}
}
