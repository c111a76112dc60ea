package train

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/nnmf"
)

// syntheticCIFAR is a CIFAR-10-shaped dataset of random images whose labels
// correlate with the mean of one colour channel, so training moves the loss.
func syntheticCIFAR(t *testing.T, nTrain, nTest int) *data.Dataset {
	t.Helper()
	info, err := data.Lookup("cifar10")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 11))
	split := func(n int) data.Split {
		s := data.Split{N: n, C: 3, H: 32, W: 32, Images: make([]uint8, n*3*32*32), Labels: make([]uint8, n)}
		for i := range n {
			l := i % 10
			s.Labels[i] = uint8(l)
			img := s.Image(i)
			for j := range img {
				v := r.IntN(128)
				if j/(32*32) == l%3 {
					v += 12 * l
				}
				img[j] = uint8(v)
			}
		}
		return s
	}
	return &data.Dataset{Info: info, Source: "synthetic", Train: split(nTrain), Test: split(nTest)}
}

func tinyOptions(epochs int) Options {
	o := DefaultOptions()
	o.Config = filepath.Join("testdata", "tiny_cnmf_1x1.json")
	o.Epochs = epochs
	o.Threads = 2
	o.LimitTrain = 150
	return o
}

func runSession(t *testing.T, ctx context.Context, opts Options, dir string, resume bool, ds *data.Dataset, setup func(*Session)) error {
	t.Helper()
	var s *Session
	var err error
	if resume {
		s, err = Resume(dir, Overrides{Epochs: opts.Epochs, Threads: opts.Threads, Data: ds})
	} else {
		opts.Data = ds
		s, err = Start(opts, dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if setup != nil {
		setup(s)
	}
	var out bytes.Buffer
	_, err = s.Train(ctx, &out, nil)
	t.Logf("%s:\n%s", dir, out.String())
	return err
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// metricsWithoutTimes drops the train_s and test_s columns.
func metricsWithoutTimes(t *testing.T, dir string) string {
	t.Helper()
	var rows []string
	for _, line := range strings.Split(strings.TrimSpace(string(readFile(t, filepath.Join(dir, MetricsFile)))), "\n") {
		f := strings.Split(line, ",")
		rows = append(rows, strings.Join(append(f[:5:5], f[7:]...), ","))
	}
	return strings.Join(rows, "\n")
}

func sameFiles(t *testing.T, what, a, b string) {
	t.Helper()
	if !bytes.Equal(readFile(t, a), readFile(t, b)) {
		t.Errorf("%s: %s and %s differ", what, a, b)
	}
}

func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, name := range []string{ModelFile, OptimizerFile, StateFile} {
		files[name] = readFile(t, filepath.Join(dir, CheckpointDir, name))
	}
	files[MetricsFile] = readFile(t, filepath.Join(dir, MetricsFile))
	return files
}

func checkUnchanged(t *testing.T, dir string, before map[string][]byte) {
	t.Helper()
	after := snapshot(t, dir)
	for name, b := range before {
		if !bytes.Equal(b, after[name]) {
			t.Errorf("%s changed although the run stopped before its next checkpoint", name)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, checkpointTmp+"*")); len(m) > 0 {
		t.Errorf("temporary checkpoint left behind: %v", m)
	}
}

func TestResumeIsBitIdentical(t *testing.T) {
	t.Run("batch-stats", func(t *testing.T) { testResume(t, false) })
	// Running BatchNorm statistics are state too: they travel in the weights.
	t.Run("running-stats", func(t *testing.T) { testResume(t, true) })
}

func testResume(t *testing.T, runningStats bool) {
	tinyOptions := func(epochs int) Options {
		o := tinyOptions(epochs)
		o.RunningStats = runningStats
		return o
	}
	ds := syntheticCIFAR(t, 200, 100)
	root := t.TempDir()
	ctx := context.Background()

	full := filepath.Join(root, "full")
	if err := runSession(t, ctx, tinyOptions(2), full, false, ds, nil); err != nil {
		t.Fatal(err)
	}

	// 1 epoch, then a resume that raises the cap to 2.
	split := filepath.Join(root, "split")
	if err := runSession(t, ctx, tinyOptions(1), split, false, ds, nil); err != nil {
		t.Fatal(err)
	}
	if err := runSession(t, ctx, Options{Epochs: 2}, split, true, ds, nil); err != nil {
		t.Fatal(err)
	}

	// A 2-epoch run interrupted in the middle of epoch 1, then resumed.
	intr := filepath.Join(root, "interrupted")
	var before map[string][]byte
	cctx, cancel := context.WithCancel(ctx)
	err := runSession(t, cctx, tinyOptions(2), intr, false, ds, func(s *Session) {
		s.Engine.Hooks.EpochDone = func(m Metrics) { before = snapshot(t, intr) }
		s.Engine.Hooks.BatchDone = func(epoch, batch, _ int, _ float32) {
			if epoch == 1 && batch == 1 {
				cancel() // as SIGINT does through signal.NotifyContext
			}
		}
	})
	cancel()
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run returned %v, want ErrInterrupted", err)
	}
	checkUnchanged(t, intr, before)
	if _, err := os.Stat(filepath.Join(intr, FinalFile)); err == nil {
		t.Error("an interrupted run wrote final weights")
	}
	if err := runSession(t, ctx, Options{}, intr, true, ds, nil); err != nil {
		t.Fatal(err)
	}

	want := metricsWithoutTimes(t, full)
	if n := strings.Count(want, "\n"); n != 2 {
		t.Fatalf("metrics.csv of the full run has %d data rows, want 2:\n%s", n, want)
	}
	for _, dir := range []string{split, intr} {
		if got := metricsWithoutTimes(t, dir); got != want {
			t.Errorf("metrics of %s differ from the uninterrupted run:\n%s\nwant\n%s", dir, got, want)
		}
		sameFiles(t, "final weights", filepath.Join(full, FinalFile), filepath.Join(dir, FinalFile))
		sameFiles(t, "checkpoint weights", filepath.Join(full, CheckpointDir, ModelFile), filepath.Join(dir, CheckpointDir, ModelFile))
		sameFiles(t, "Adam moments", filepath.Join(full, CheckpointDir, OptimizerFile), filepath.Join(dir, CheckpointDir, OptimizerFile))
	}
}

func TestNonFiniteStopsAndKeepsCheckpoint(t *testing.T) {
	ds := syntheticCIFAR(t, 100, 50)
	dir := filepath.Join(t.TempDir(), "run")
	ctx := context.Background()
	opts := tinyOptions(1)
	opts.LimitTrain = 100
	if err := runSession(t, ctx, opts, dir, false, ds, nil); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	err := runSession(t, ctx, Options{Epochs: 3}, dir, true, ds, func(s *Session) {
		for _, a := range s.Engine.Opt.Adams {
			a.LR = 3e38 // the first steps overflow float32
		}
	})
	if err == nil {
		t.Fatal("training with an overflowing learning rate succeeded")
	}
	if !errors.Is(err, ErrNotFinite) && !errors.Is(err, nnmf.ErrNotFinite) {
		t.Fatalf("error %v does not report a non-finite value", err)
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "epoch 2") {
		t.Errorf("error %q does not name the epoch", err)
	}
	checkUnchanged(t, dir, before)
}

func TestStartRefusesADirectoryThatIsNoRun(t *testing.T) {
	ds := syntheticCIFAR(t, 50, 50)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := tinyOptions(1)
	opts.Data = ds
	if s, err := Start(opts, dir); err == nil {
		s.Close()
		t.Fatal("Start reused a non-empty directory that holds no run")
	}
}

func TestResumeDataDir(t *testing.T) {
	for _, tc := range []struct {
		name                           string
		flag, startFlag, env, lastRoot string
		want                           string
	}{
		{"resume flag wins", "/new", "/start", "/env", "/last", "/new"},
		{"start flag next", "", "/start", "/env", "/last", "/start"},
		{"environment next", "", "", "/env", "/last", ""},
		{"directory the run read", "", "", "", "/last", "/last"},
		{"nothing known: default", "", "", "", "", ""},
	} {
		if got := resumeDataDir(tc.flag, tc.startFlag, tc.env, tc.lastRoot); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// StartOrResume of a run whose network is not a preset (Model empty, so
// run.json has no "model") resumes it: LoadRunInfo must not fill in the
// default preset and then find the options changed.
func TestStartOrResumeWithoutPreset(t *testing.T) {
	ds := syntheticCIFAR(t, 150, 50)
	dir := filepath.Join(t.TempDir(), "run")
	opts := tinyOptions(2)
	opts.Model = ""
	opts.Data = ds
	s, err := StartOrResume(opts, dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Engine.Cfg.Epochs = 1 // stop after one checkpointed epoch
	if _, err := s.Train(context.Background(), io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	info, err := LoadRunInfo(dir)
	if err != nil || info.Options.Model != "" {
		t.Fatalf("run.json read back with model %q (%v), want none", info.Options.Model, err)
	}
	s, err = StartOrResume(opts, dir)
	if err != nil {
		t.Fatalf("second StartOrResume: %v", err)
	}
	defer s.Close()
	if !s.Resumed || s.Engine.Epoch != 1 {
		t.Errorf("resumed %v at epoch %d, want a resume after epoch 1", s.Resumed, s.Engine.Epoch)
	}
}
