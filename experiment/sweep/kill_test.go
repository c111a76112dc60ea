package sweep

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

	// Kill delays are a random fraction of one epoch's time on this machine
	// (4 runs × 3 epochs on 2 jobs: 6 epochs per job), so that a faster or a
	// slower machine still kills mid-study. The seed is fixed for a
	// reproducible failure; DEEPNMF_KILL_SEED explores others.
	seed := uint64(1)
	if s, err := strconv.ParseUint(os.Getenv("DEEPNMF_KILL_SEED"), 10, 64); err == nil {
		seed = s
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	epoch := whole / 6
	t.Logf("uninterrupted study: %v (~%v per epoch); kill delays drawn with seed %d", whole.Round(time.Millisecond), epoch.Round(time.Millisecond), seed)
	checkpointed := func() int {
		st, err := Status(context.Background(), study)
		if err != nil {
			t.Fatal(err)
		}
		return st.Epochs
	}
	for k := range 2 {
		before := checkpointed()
		cmd := exec.Command(deepnmfBinary(t), "sweep", "run", study, "--jobs", "2")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Once this process has checkpointed an epoch, at a random moment
		// within the next epoch.
		waitFor(t, "an epoch checkpointed", time.Minute, func() bool { return checkpointed() > before })
		after := time.Duration(rng.Float64() * 0.9 * float64(epoch))
		time.Sleep(after)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		st, serr := Status(context.Background(), study)
		if serr != nil {
			t.Fatal(serr)
		}
		t.Logf("kill %d, %v after an epoch was checkpointed (%v): %v, %d of %d epochs checkpointed", k+1, after.Round(time.Millisecond), err, st.Counts, st.Epochs, st.Total)
		if st.Counts[StateDone] == len(st.Entries) {
			t.Fatalf("the study finished before kill %d; make the runs longer", k+1)
		}
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
