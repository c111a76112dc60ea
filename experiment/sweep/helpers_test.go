package sweep

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
	"github.com/deepnmf/deepnmf/train"
)

// The deepnmf binary, built once per test run.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func deepnmfBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "deepnmf-sweep-test-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "deepnmf")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/deepnmf/deepnmf/cmd/deepnmf").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// deepnmf runs the binary and fails the test on an error.
func deepnmf(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(deepnmfBinary(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("deepnmf %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// tinySpec writes the spec of a small MNIST study into dir: the tiny
// cnmf_1x1 of the train tests, two lr_a values × two seeds = 4 runs.
func tinySpec(t *testing.T, dir string, epochs, limitTrain int) string {
	t.Helper()
	dataDir := filepath.Dir(sharedtest.Path(t, "data", "mnist"))
	cfg, err := os.ReadFile(filepath.Join("..", "..", "train", "testdata", "tiny_cnmf_1x1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tiny.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	spec := fmt.Sprintf(`{"models": ["tiny.json"], "seeds": [1, 2], "lr_a": [0.01, 0.02], "dataset": "mnist",
		"epochs": %d, "limit_train": %d, "limit_test": 200, "data_dir": %q}`, epochs, limitTrain, dataDir)
	path := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// metricsWithoutTimes reads metrics.csv without the timing columns, which
// differ between any two runs.
func metricsWithoutTimes(t *testing.T, runDir string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(runDir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var keep []int
	for i, name := range rows[0] {
		if name != "train_s" && name != "test_s" {
			keep = append(keep, i)
		}
	}
	if len(keep) != len(rows[0])-2 {
		t.Fatalf("%s: no train_s/test_s columns in %v", runDir, rows[0])
	}
	out := make([][]string, len(rows))
	for r, row := range rows {
		for _, i := range keep {
			out[r] = append(out[r], row[i])
		}
	}
	return out
}

var epochLine = regexp.MustCompile(`(?m)^epoch (\d+): train loss`)

// epochCounts counts the finished-epoch lines of training logs per epoch.
func epochCounts(t *testing.T, logs ...string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, path := range logs {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range epochLine.FindAllStringSubmatch(string(raw), -1) {
			n[m[1]]++
		}
	}
	return n
}

// sameRuns checks that every entry of study finished once, with the metrics
// (without times) and final weights of the same entry of ref, bit for bit.
func sameRuns(t *testing.T, ref, study string, logsOf func(e Entry) []string) {
	t.Helper()
	pr, err := LoadPlan(ref)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := LoadPlan(study)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range ps.Entries {
		r := pr.Entries[i]
		want, got := metricsWithoutTimes(t, r.RunDir), metricsWithoutTimes(t, e.RunDir)
		if len(got) != e.Options.Epochs+1 {
			t.Errorf("%s: %d metrics rows, want %d epochs", e.Name(), len(got)-1, e.Options.Epochs)
		}
		for k := 1; k < len(got); k++ {
			if got[k][0] != fmt.Sprint(k-1) {
				t.Errorf("%s: metrics row %d is epoch %s", e.Name(), k, got[k][0])
			}
		}
		if !slices.EqualFunc(want, got, slices.Equal) {
			t.Errorf("%s: metrics differ from the uninterrupted run:\n%v\n%v", e.Name(), want, got)
		}
		wb, err1 := os.ReadFile(filepath.Join(r.RunDir, train.FinalFile))
		gb, err2 := os.ReadFile(filepath.Join(e.RunDir, train.FinalFile))
		if err1 != nil || err2 != nil {
			t.Errorf("%s: final weights: %v %v", e.Name(), err1, err2)
		} else if !bytes.Equal(wb, gb) {
			t.Errorf("%s: final weights differ from the uninterrupted run's", e.Name())
		}
		for epoch, n := range epochCounts(t, logsOf(e)...) {
			if n > 1 {
				t.Errorf("%s: epoch %s was finished %d times", e.Name(), epoch, n)
			}
		}
	}
}
