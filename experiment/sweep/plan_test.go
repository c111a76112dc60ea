package sweep

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/nn"
)

func writeSpec(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPlanExpandsGrid(t *testing.T) {
	dir := t.TempDir()
	cfg, err := nn.Preset("cnmf_1x1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NumberOfNeuronsA = []int{4, 6, 8, 10}
	if err := nn.WriteConfig(filepath.Join(dir, "tiny.json"), cfg); err != nil {
		t.Fatal(err)
	}
	path := writeSpec(t, dir, `{"models": ["cnmf_1x1", "tiny.json"], "seeds": [1, 2], "dataset": "mnist",
		"epochs": 1, "limit_train": 300, "lr_a": [0.01, 0.02]}`)
	spec, err := ReadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	study := filepath.Join(dir, "study")
	p, err := spec.WritePlan(study)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 8 {
		t.Fatalf("%d entries, want 2 models × 2 lr_a × 2 seeds = 8", len(p.Entries))
	}
	wantDirs := []string{
		"cnmf_1x1-mnist-seed1-lr_a=0.01", "cnmf_1x1-mnist-seed2-lr_a=0.01",
		"cnmf_1x1-mnist-seed1-lr_a=0.02", "cnmf_1x1-mnist-seed2-lr_a=0.02",
		"tiny-mnist-seed1-lr_a=0.01", "tiny-mnist-seed2-lr_a=0.01",
		"tiny-mnist-seed1-lr_a=0.02", "tiny-mnist-seed2-lr_a=0.02",
	}
	for i, e := range p.Entries {
		o := e.Options
		if e.Index != i || e.Name() != wantDirs[i] || e.RunDir != filepath.Join(study, RunsDir, wantDirs[i]) {
			t.Errorf("entry %d: index %d dir %s, want %s", i, e.Index, e.RunDir, wantDirs[i])
		}
		wantLR := 0.01
		if i%4 >= 2 {
			wantLR = 0.02
		}
		if o.Seed != uint64(i%2+1) || o.Dataset != "mnist" || o.Epochs != 1 || o.LimitTrain != 300 || o.LR[nn.GroupNeuronA] != wantLR || o.Threads != 1 {
			t.Errorf("entry %d: options %+v", i, o)
		}
		if want := strings.TrimSuffix(strings.Replace(wantDirs[i], "-seed1", "", 1), ""); i%2 == 0 && e.Group != want {
			t.Errorf("entry %d: group %q, want %q", i, e.Group, want)
		}
		if i%2 == 1 && e.Group != p.Entries[i-1].Group {
			t.Errorf("entries %d and %d differ only in seed but are in groups %q and %q", i-1, i, p.Entries[i-1].Group, e.Group)
		}
		if i >= 4 {
			if o.Config != filepath.Join(study, ConfigsDir, "tiny.json") || o.Model != "" {
				t.Errorf("entry %d: config %q model %q", i, o.Config, o.Model)
			}
		} else if o.Model != "cnmf_1x1" || o.Config != "" {
			t.Errorf("entry %d: config %q model %q", i, o.Config, o.Model)
		}
	}
	got, err := nn.LoadConfig(filepath.Join(study, ConfigsDir, "tiny.json"))
	if err != nil || got.NumberOfNeuronsA[1] != 6 {
		t.Errorf("copied config: %v %v", got, err)
	}
	// plan.json keeps study-relative paths, so the study can move.
	raw, err := os.ReadFile(filepath.Join(study, PlanFile))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk struct {
		Entries []struct {
			RunDir  string         `json:"run_dir"`
			Options map[string]any `json:"options"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(raw, &onDisk); err != nil {
		t.Fatal(err)
	}
	for _, e := range onDisk.Entries {
		if c, _ := e.Options["config"].(string); filepath.IsAbs(e.RunDir) || filepath.IsAbs(c) {
			t.Errorf("plan.json holds an absolute path: %s %s", e.RunDir, c)
		}
	}
	if onDisk.Entries[2].Options["lr_a"] != 0.02 && onDisk.Entries[2].Options["lr"] == nil {
		t.Errorf("entry 2's options on disk: %v", onDisk.Entries[2].Options)
	}
	if p.Budget.Label != "reduced budget: 300 images × 1 epoch × 2 seeds" || !p.Budget.Reduced {
		t.Errorf("budget %+v", p.Budget)
	}
	if _, err := spec.WritePlan(study); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second plan into the same study: %v", err)
	}
}

func TestSpecErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ body, want string }{
		{`{"models": ["cnn"], "epoch": 3}`, `unknown key "epoch"`},
		{`{"models": ["cnn"], "seed": 3}`, `use "seeds"`},
		{`{"seeds": [1]}`, `"models" is missing`},
		{`{"models": ["nope"]}`, `"nope" is neither a preset`},
		{`{"models": ["cnn"], "seeds": [1, 1]}`, `lists 1 twice`},
		{`{"models": ["cnn"], "epochs": 0}`, `epochs`},
		{`{"models": ["cnn"], "batch_size": []}`, `batch_size: an axis needs at least one value`},
		{`[1]`, `not a JSON object`},
	} {
		path := writeSpec(t, dir, tc.body)
		spec, err := ReadSpec(path)
		if err == nil {
			_, err = spec.Expand()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s and containing %q", tc.body, err, path, tc.want)
		}
	}
}

func TestBuiltinPlans(t *testing.T) {
	p, err := mustSpec(PaperSpec(BudgetFlags{})).Expand()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 20 || p.Budget.Reduced || p.Budget.Label != "paper protocol: full data × 500 epochs × 5 seeds" {
		t.Errorf("paper: %d entries, budget %+v", len(p.Entries), p.Budget)
	}
	for _, e := range p.Entries {
		if e.Options.Dataset != "cifar10" || e.Options.Epochs != 500 || e.Options.LimitTrain != 0 || e.Options.BatchSize != 50 {
			t.Errorf("paper entry %s: %+v", e.Name(), e.Options)
		}
	}
	p, err = mustSpec(PaperSpec(BudgetFlags{Epochs: 3, LimitTrain: 10000, Seeds: 2})).Expand()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 8 || p.Budget.Label != "reduced budget: 10,000 images × 3 epochs × 2 seeds" {
		t.Errorf("reduced paper: %d entries, budget %+v", len(p.Entries), p.Budget)
	}
	study := t.TempDir()
	p, err = mustSpec(BalanceSpec(BudgetFlags{Epochs: 2, Seeds: 1})).WritePlan(study)
	if err != nil {
		t.Fatal(err)
	}
	fam, _ := BalanceFamily()
	if len(p.Entries) != len(fam) {
		t.Fatalf("balance: %d entries, want %d", len(p.Entries), len(fam))
	}
	for i, e := range p.Entries {
		if e.Options.ModelName() != fam[i].Name {
			t.Errorf("balance entry %d is %s, want %s", i, e.Options.ModelName(), fam[i].Name)
		}
		cfg, err := e.Options.NetworkConfig()
		if err != nil {
			t.Fatal(err)
		}
		nb1 := cfg.NumberOfNeuronsB[1]
		if nb1 <= 0 { // the preset's "same as n_a"
			nb1 = cfg.NumberOfNeuronsA[1]
		}
		if cfg.NumberOfNeuronsA[2] != fam[i].NA[2] || nb1 != fam[i].NB[1] {
			t.Errorf("%s: config widths %v %v, member %v %v", fam[i].Name, cfg.NumberOfNeuronsA, cfg.NumberOfNeuronsB, fam[i].NA, fam[i].NB)
		}
	}
	if _, err := PaperSpec(BudgetFlags{Epochs: -1}); err == nil {
		t.Error("negative epochs accepted")
	}
}

func mustSpec(s *Spec, err error) *Spec {
	if err != nil {
		panic(err)
	}
	return s
}
