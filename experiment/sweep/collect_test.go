package sweep

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/train"
)

// fakeRun writes what Collect reads of a run: run.json, the checkpoint's
// history (test accuracies in percent of 200 images, 10 s per epoch) and,
// when finished, final weights.
func fakeRun(t *testing.T, dir string, o train.Options, accs []float64, finished bool) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, train.CheckpointDir), 0o755); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(train.RunInfo{Options: o})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, train.RunInfoFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	var st runState
	for i, a := range accs {
		st.History = append(st.History, train.Metrics{Epoch: i, TestCorrect: int(math.Round(a * 2)), TestImages: 200,
			TrainImages: 100, TrainSeconds: 8, TestSeconds: 2, Params: 153258})
	}
	raw, _ = json.Marshal(st)
	if err := os.WriteFile(filepath.Join(dir, train.CheckpointDir, train.StateFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if finished {
		if err := os.WriteFile(filepath.Join(dir, train.FinalFile), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCollectStudy(t *testing.T) {
	study := t.TempDir()
	p, err := mustSpec(PaperSpec(BudgetFlags{Epochs: 3, LimitTrain: 10000, Seeds: 3})).WritePlan(study)
	if err != nil {
		t.Fatal(err)
	}
	// cnn: three finished runs; final accuracies 50, 52, 57 (mean 53, sample
	// std √13 = 3.6056), best 55, 52, 57 (mean 54.667, std 2.5166).
	histories := [][]float64{{40, 55, 50}, {41, 45, 52}, {30, 57, 57}}
	for i := range 3 {
		e := p.Entries[i]
		fakeRun(t, e.RunDir, e.Options, histories[i], true)
	}
	// cnmf: one run with two epochs, unfinished; the others not started.
	fakeRun(t, p.Entries[3].RunDir, p.Entries[3].Options, []float64{20, 30}, false)
	tab, err := CollectStudy(study)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != 4 || tab.Budget != "reduced budget: 10,000 images × 3 epochs × 3 seeds" {
		t.Fatalf("table %+v", tab)
	}
	cnn, cnmf, cnmf1x1 := tab.Rows[0], tab.Rows[1], tab.Rows[3]
	near := func(what string, got, want float64) {
		if math.Abs(got-want) > 1e-3 {
			t.Errorf("%s = %.4f, want %.4f", what, got, want)
		}
	}
	near("cnn final mean", cnn.FinalAcc.Mean, 53)
	near("cnn final std", *cnn.FinalAcc.Std, math.Sqrt(13))
	near("cnn best mean", cnn.BestAcc.Mean, 164.0/3)
	near("cnn best std", *cnn.BestAcc.Std, math.Sqrt(((55-164.0/3)*(55-164.0/3)+(52-164.0/3)*(52-164.0/3)+(57-164.0/3)*(57-164.0/3))/2))
	near("cnn wall", cnn.WallSeconds.Mean, 30)
	if cnn.Runs != 3 || cnn.Finished != 3 || cnn.Planned != 3 || cnn.Params != 153258 || cnn.Epochs.Mean != 3 || *cnn.Epochs.Std != 0 {
		t.Errorf("cnn row %+v", cnn)
	}
	if cnn.Paper == nil || cnn.Paper.Accuracy != 81.0 || cnmf1x1.Paper == nil || cnmf1x1.Paper.Accuracy != 83.7 {
		t.Errorf("paper figures: cnn %+v cnmf_1x1 %+v", cnn.Paper, cnmf1x1.Paper)
	}
	if cnmf.Runs != 1 || cnmf.Finished != 0 || cnmf.FinalAcc.Mean != 30 || cnmf.FinalAcc.Std != nil {
		t.Errorf("cnmf row %+v", cnmf)
	}
	if cnmf1x1.Runs != 0 || !math.IsNaN(cnmf1x1.FinalAcc.Mean) {
		t.Errorf("cnmf_1x1 row %+v", cnmf1x1)
	}

	var md bytes.Buffer
	if err := tab.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"paper: test acc %", "this study: final test acc %", "| cnn | 153,258 | 81.0 ± 0.05 | 53.00 ± 3.61 | 54.67 ± 2.52 | 3.0 ± 0.0 | 30.0 s ± 0.0 s | 3/3 |",
		"| cnmf_1x1 | – | 83.7 ± 0.15 | – | – | – | – | 0/3 |", "reduced budget: 10,000 images × 3 epochs × 3 seeds"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	if err := tab.WriteFiles(study); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(study, TableCSV))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 5 || rows[1][0] != "cnn-cifar10" || rows[1][3] != "this study" || rows[1][9] != "53" || rows[1][18] != "81" {
		t.Errorf("csv (%v): %v", err, rows)
	}
	var back Table
	raw, _ := os.ReadFile(filepath.Join(study, TableJSON))
	if err := json.Unmarshal(raw, &back); err != nil || back.Rows[0].FinalAcc.Mean != 53 || !math.IsNaN(back.Rows[3].FinalAcc.Mean) {
		t.Errorf("json round trip (%v): %s", err, raw)
	}

	// Collect on run directories groups them by options: cnn's three seeds
	// are one group, cnmf's run another.
	dirs := []string{p.Entries[0].RunDir, p.Entries[3].RunDir, p.Entries[1].RunDir, p.Entries[2].RunDir}
	tab2, err := Collect(dirs)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab2.Rows) != 2 || tab2.Rows[0].Group != "cnn-cifar10" || tab2.Rows[0].Runs != 3 || tab2.Rows[0].FinalAcc.Mean != 53 ||
		tab2.Rows[1].Runs != 1 || !strings.Contains(tab2.Rows[0].Budget, "3 epochs × 3 seeds") {
		t.Errorf("Collect(run dirs): %+v", tab2)
	}
}
