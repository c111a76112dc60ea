package sweep

import (
	"context"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sweep run, SIGKILLed twice at random moments and started again, ends with
// every run bit-identical to an uninterrupted sweep run, and no epoch
// finished twice.
func TestRunSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small study three times")
	}
	dir := t.TempDir()
	spec := tinySpec(t, dir, 3, 1000)
	ref, study := filepath.Join(dir, "ref"), filepath.Join(dir, "killed")
	deepnmf(t, "sweep", "plan", spec, "--out", ref)
	deepnmf(t, "sweep", "plan", spec, "--out", study)
	start := time.Now()
	deepnmf(t, "sweep", "run", ref, "--jobs", "2")
	whole := time.Since(start)

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("uninterrupted study: %v; kill times drawn with seed %d", whole.Round(time.Millisecond), seed)
	for k := range 2 {
		cmd := exec.Command(deepnmfBinary(t), "sweep", "run", study, "--jobs", "2")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Somewhere in the first 80 % of what the whole study takes.
		after := time.Duration(rng.Float64() * 0.8 * float64(whole))
		time.Sleep(after)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		st, serr := Status(context.Background(), study)
		if serr != nil {
			t.Fatal(serr)
		}
		t.Logf("kill %d after %v (%v): %v, %d of %d epochs checkpointed", k+1, after.Round(time.Millisecond), err, st.Counts, st.Epochs, st.Total)
	}
	out := deepnmf(t, "sweep", "run", study, "--jobs", "2")
	if !strings.Contains(out, "runs finished now") {
		t.Errorf("restart output:\n%s", out)
	}
	sameRuns(t, ref, study, func(e Entry) []string { return []string{filepath.Join(e.RunDir, "train.log")} })
	// A finished study is left alone.
	out = deepnmf(t, "sweep", "run", study)
	if !strings.Contains(out, "0 runs finished now, 4 were already done") {
		t.Errorf("third run:\n%s", out)
	}
}
