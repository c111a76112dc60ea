package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/nnmf"
)

func startTiny(t *testing.T, dir string, ds *data.Dataset, epochs int) *Session {
	t.Helper()
	opts := tinyOptions(epochs)
	opts.Data = ds
	s, err := Start(opts, dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func trainQuiet(t *testing.T, s *Session) Summary {
	t.Helper()
	var out bytes.Buffer
	sum, err := s.Train(context.Background(), &out, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	return sum
}

// A second opener of a locked run directory is refused, the first keeps
// working, and Close releases the lock.
func TestRunDirectoryIsLocked(t *testing.T) {
	ds := syntheticCIFAR(t, 150, 50)
	dir := filepath.Join(t.TempDir(), "run")
	s := startTiny(t, dir, ds, 1)
	if _, err := Resume(dir, Overrides{Data: ds}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Resume of a locked run: %v, want ErrLocked", err)
	}
	opts := tinyOptions(1)
	opts.Data = ds
	if _, err := StartOrResume(opts, dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("StartOrResume of a locked run: %v, want ErrLocked", err)
	}
	trainQuiet(t, s)
	s.Close()
	s2, err := Resume(dir, Overrides{Data: ds})
	if err != nil {
		t.Fatalf("Resume after Close: %v", err)
	}
	if len(s2.Notices) != 0 {
		t.Errorf("a cleanly released lock gave notices %q", s2.Notices)
	}
	s2.Close()
}

// A lock whose holder died without releasing it (its note is still in the
// file) is taken over with a notice naming the dead holder.
func TestStaleLockIsTakenOver(t *testing.T) {
	ds := syntheticCIFAR(t, 150, 50)
	dir := filepath.Join(t.TempDir(), "run")
	first := startTiny(t, dir, ds, 1)
	trainQuiet(t, first)
	first.Close()
	if err := os.WriteFile(filepath.Join(dir, LockFile), []byte("pid 999999 on elsewhere since 2026-01-01T00:00:00Z\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Resume(dir, Overrides{Data: ds})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Notices) != 1 || !strings.Contains(s.Notices[0], "pid 999999 on elsewhere") {
		t.Errorf("notices %q, want one naming the dead holder", s.Notices)
	}
}

// Temporaries that a writer killed mid-write leaves are removed at start.
func TestLeftoverTemporariesAreRemoved(t *testing.T) {
	ds := syntheticCIFAR(t, 150, 50)
	dir := filepath.Join(t.TempDir(), "run")
	s := startTiny(t, dir, ds, 2)
	s.Engine.Cfg.Epochs = 1
	trainQuiet(t, s)
	s.Close()
	leftovers := []string{
		filepath.Join(dir, ".metrics.csv.tmp123"),
		filepath.Join(dir, ".final.safetensors.tmp9"),
		filepath.Join(dir, CheckpointDir, ".state.json.tmp1"),
		filepath.Join(dir, checkpointTmp+"42", ModelFile),
	}
	for _, p := range leftovers {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Resume(dir, Overrides{Data: ds, Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range leftovers {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived the start (%v)", p, err)
		}
	}
	if len(s.Notices) != 1 || !strings.Contains(s.Notices[0], ".metrics.csv.tmp123") || !strings.Contains(s.Notices[0], checkpointTmp+"42/") {
		t.Errorf("notices %q do not list the temporaries removed", s.Notices)
	}
}

// A run killed while it wrote final.safetensors gets it from its last
// checkpoint when resumed, bit-identical to what the run would have written.
func TestResumeWritesMissingFinalWeights(t *testing.T) {
	ds := syntheticCIFAR(t, 150, 50)
	dir := filepath.Join(t.TempDir(), "run")
	s := startTiny(t, dir, ds, 1)
	sum := trainQuiet(t, s)
	s.Close()
	want := readFile(t, sum.Weights)
	if err := os.Remove(sum.Weights); err != nil {
		t.Fatal(err)
	}
	s, err := Resume(dir, Overrides{Data: ds})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out bytes.Buffer
	if _, err := s.Train(context.Background(), &out, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, FinalFile)), want) {
		t.Error("the final weights written on resume differ from the run's")
	}
	if !strings.Contains(out.String(), "wrote the missing") {
		t.Errorf("log %q does not say the final weights were written", out.String())
	}
}

// A run that never reached its first checkpoint starts over, both by the
// same Start and by Resume; a run with a checkpoint is never restarted.
func TestRunWithoutCheckpointStartsOver(t *testing.T) {
	ds := syntheticCIFAR(t, 150, 50)
	for _, how := range []string{"start", "resume", "start-or-resume"} {
		t.Run(how, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			s := startTiny(t, dir, ds, 1)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := s.Train(ctx, &bytes.Buffer{}, nil); !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "holds no checkpoint") {
				t.Fatalf("interrupted first epoch: %v", err)
			}
			s.Close()
			opts := tinyOptions(1)
			opts.Data = ds
			var err error
			switch how {
			case "start":
				s, err = Start(opts, dir)
			case "resume":
				s, err = Resume(dir, Overrides{Data: ds})
			default:
				s, err = StartOrResume(opts, dir)
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Resumed {
				t.Error("a run without checkpoint was resumed, not started over")
			}
			trainQuiet(t, s)
			s.Close()
			if err := CheckStart(dir); err == nil {
				t.Error("CheckStart accepts a directory that holds a checkpoint")
			}
			if s, err := Start(opts, dir); err == nil {
				s.Close()
				t.Error("Start restarted a run that has a checkpoint")
			}
		})
	}
}

// StartOrResume starts, then continues, and refuses other options.
func TestStartOrResume(t *testing.T) {
	ds := syntheticCIFAR(t, 150, 50)
	dir := filepath.Join(t.TempDir(), "run")
	opts := tinyOptions(1)
	opts.Data = ds
	s, err := StartOrResume(opts, dir)
	if err != nil || s.Resumed {
		t.Fatalf("first StartOrResume: resumed %v, %v", s != nil && s.Resumed, err)
	}
	trainQuiet(t, s)
	s.Close()
	opts.Epochs = 2
	s, err = StartOrResume(opts, dir)
	if err != nil || !s.Resumed {
		t.Fatalf("second StartOrResume: %v", err)
	}
	if sum := trainQuiet(t, s); sum.Epochs != 2 {
		t.Errorf("%d epochs after the resume, want 2", sum.Epochs)
	}
	s.Close()
	other := opts
	other.Seed++
	if s, err := StartOrResume(other, dir); err == nil || !strings.Contains(err.Error(), "other options") {
		if s != nil {
			s.Close()
		}
		t.Errorf("StartOrResume with another seed: %v", err)
	}
}

// After an interruption the message names the checkpoint that is on disk.
func TestInterruptionNamesTheCheckpointOnDisk(t *testing.T) {
	ds := syntheticCIFAR(t, 150, 50)
	dir := filepath.Join(t.TempDir(), "run")
	s := startTiny(t, dir, ds, 3)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	s.Hooks.BatchDone = func(epoch, batch, _ int, _ float32) {
		if epoch == 2 && batch == 0 {
			cancel()
		}
	}
	_, err := s.Train(ctx, &bytes.Buffer{}, nil)
	if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "checkpoint after epoch 2") {
		t.Fatalf("error %v, want one naming the checkpoint after epoch 2", err)
	}
}

// Options keep their JSON names (the flags in snake_case) and typed
// values, read run.json files of earlier releases, and refuse unknown keys.
func TestOptionsJSON(t *testing.T) {
	o := DefaultOptions()
	o.Backward, o.Augment, o.LR[1] = nnmf.LastIter, data.AugmentPerImage, 0.5
	raw, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"backward":"last_iter"`, `"augment":"per-image"`, `"lr_b":0.5`, `"batch_size":50`, `"limit_train":0`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("%s lacks %s", raw, want)
		}
	}
	var back Options
	if err := json.Unmarshal(raw, &back); err != nil || back != o {
		t.Fatalf("round trip: %+v, %v; want %+v", back, err, o)
	}
	old := `{"model":"cnmf_1x1","config":"","dataset":"mnist","data_dir":"","epochs":3,"seed":1,"backward":"approx",
		"iterations":0,"threads":2,"limit_train":0,"limit_test":0,"augment":"batch","batch_size":50,
		"lr":[0.01,0.001,0.002,0.001],"loss_mode":0,"running_stats":false}`
	if err := json.Unmarshal([]byte(old), &back); err != nil {
		t.Fatalf("an earlier release's run.json: %v", err)
	}
	if back.Augment != data.AugmentPerBatch || back.LR[2] != 0.002 || back.Dataset != "mnist" {
		t.Errorf("earlier run.json read as %+v", back)
	}
	if err := json.Unmarshal([]byte(`{"epochz": 3}`), &back); err == nil || !strings.Contains(err.Error(), "epochz") {
		t.Errorf("unknown key: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"backward": "exact"}`), &back); err == nil {
		t.Error("unknown backward method accepted")
	}
}

// run.json records the build that made the run.
func TestRunInfoRecordsTheBuild(t *testing.T) {
	ds := syntheticCIFAR(t, 150, 50)
	dir := filepath.Join(t.TempDir(), "run")
	s := startTiny(t, dir, ds, 1)
	s.Close()
	info, err := LoadRunInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version == "" || info.Version != Version() {
		t.Errorf("run.json version %q, build %q", info.Version, Version())
	}
}

// A model opened from a run evaluates to the run's last test accuracy, and
// a Corrupt hook that changes nothing gives the same result.
func TestOpenModelEvaluatesAsTheRun(t *testing.T) {
	ds := syntheticCIFAR(t, 150, 60)
	dir := filepath.Join(t.TempDir(), "run")
	s := startTiny(t, dir, ds, 1)
	trainQuiet(t, s)
	want := s.Engine.History[0]
	s.Close()
	m, err := OpenModel(ModelSource{RunDir: dir}, OpenOptions{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Dataset.Name != "cifar10" || m.BatchSize != 50 || m.Run == nil || m.Name != "tiny_cnmf_1x1" {
		t.Errorf("opened %+v", m)
	}
	r, err := m.Evaluate(context.Background(), ds, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Correct != want.TestCorrect || r.N != want.TestImages {
		t.Errorf("evaluate: %d/%d, the run tested %d/%d", r.Correct, r.N, want.TestCorrect, want.TestImages)
	}
	calls := 0
	same, err := m.Evaluate(context.Background(), ds, EvalOptions{Corrupt: func(b int, full []float32, n int) error {
		if b != calls || len(full) != n*3*32*32 {
			t.Errorf("corrupt call %d: batch %d with %d floats for %d images", calls, b, len(full), n)
		}
		calls++
		return nil
	}})
	if err != nil || same != r || calls != 2 {
		t.Errorf("with a no-op corruption: %+v, %v, %d calls; want %+v and 2 calls", same, err, calls, r)
	}
	// A corruption that blanks every image changes the input the network sees.
	blank, err := m.Evaluate(context.Background(), ds, EvalOptions{Corrupt: func(_ int, full []float32, _ int) error {
		clear(full)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if blank == r {
		t.Log("blank images scored as the real ones (possible for an untrained tiny net)")
	}
	// The weights alone carry config, dataset and name.
	w, err := OpenModel(ModelSource{Weights: filepath.Join(dir, FinalFile)}, OpenOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.Dataset.Name != "cifar10" || w.Name != "tiny_cnmf_1x1" || w.Run != nil {
		t.Errorf("weights opened as %+v", w)
	}
	r2, err := w.Evaluate(context.Background(), ds, EvalOptions{})
	if err != nil || r2 != r {
		t.Errorf("weights alone: %+v, %v; want %+v", r2, err, r)
	}
}

// Without a terminal the reporter prints a line at most every interval
// during an epoch, with the rate and the epoch's ETA, numbers epochs from 1
// and gives the run's ETA.
func TestReporterPlainLines(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(0, 0)
	r := &Reporter{Out: &out, Epochs: 3, Interval: 30 * time.Second, now: func() time.Time { return now }}
	h := r.Hooks(1000, 100)
	h.EpochStart(0, 10)
	for b := range 10 {
		now = now.Add(10 * time.Second)
		h.BatchDone(0, b, 100, 0.1)
	}
	h.TestStart(0, 2)
	h.EpochDone(Metrics{Epoch: 0, TrainImages: 1000, TrainSeconds: 100, TestImages: 100})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 3 periodic lines (every 30 s of 100 s) and the epoch line:\n%s", len(lines), out.String())
	}
	if lines[0] != "epoch 1/3: 300/1000 images, 10.0 img/s, epoch ETA 1m10s" {
		t.Errorf("periodic line %q", lines[0])
	}
	if !strings.HasPrefix(lines[3], "epoch 1: ") || !strings.Contains(lines[3], "run ETA 3m20s for the 2 epochs left") {
		t.Errorf("epoch line %q", lines[3])
	}
	r.Done(Summary{Epochs: 3, FinalTestAcc: 50, BestTestAcc: 60, BestEpoch: 2, Weights: "w"})
	if !strings.Contains(out.String(), "best 60.00 % after epoch 2; weights in w") {
		t.Errorf("summary missing: %s", out.String())
	}
}

// ReadMetrics gives the run's epochs as metrics.csv lists them.
func TestReadMetrics(t *testing.T) {
	ds := syntheticCIFAR(t, 150, 50)
	dir := filepath.Join(t.TempDir(), "run")
	s := startTiny(t, dir, ds, 2)
	trainQuiet(t, s)
	want := s.Engine.History
	s.Close()
	got, err := ReadMetrics(dir)
	if err != nil || len(got) != 2 {
		t.Fatalf("ReadMetrics: %d rows, %v", len(got), err)
	}
	rows := strings.Split(strings.TrimSpace(string(readFile(t, filepath.Join(dir, MetricsFile)))), "\n")[1:]
	for i, m := range got {
		if m.TestCorrect != want[i].TestCorrect || m.TrainLossSum != want[i].TrainLossSum {
			t.Errorf("epoch %d: %+v, the run had %+v", i, m, want[i])
		}
		if row := strings.Join(MetricsRow(m), ","); row != rows[i] {
			t.Errorf("epoch %d as a CSV row: %s, metrics.csv has %s", i, row, rows[i])
		}
	}
	if _, err := ReadMetrics(t.TempDir()); err == nil {
		t.Error("ReadMetrics of a directory that is no run gave no error")
	}
}

// Config takes a file or, where no such file exists, a preset name, as on
// every command; Iterations reaches the config.
func TestNetworkConfigFileOrPreset(t *testing.T) {
	o := Options{Config: "cnn_1x1", Iterations: 7}
	cfg, err := o.NetworkConfig()
	if err != nil || cfg.Iterations != 7 {
		t.Fatalf("preset through Config: %v, %v", cfg, err)
	}
	if _, err := (Options{Config: "no-such-file-or-preset"}).NetworkConfig(); err == nil {
		t.Error("an unknown config name was accepted")
	}
	if o.ModelName() != "cnn_1x1" {
		t.Errorf("model name %q", o.ModelName())
	}
}

// A model opened from a run reads its data where the run did.
func TestModelDataDir(t *testing.T) {
	t.Setenv(data.EnvDataDir, "")
	m := &Model{Run: &RunInfo{Options: Options{DataDir: ""}, DataRoot: "/where/it/read"}}
	if got := m.DataDir(""); got != "/where/it/read" {
		t.Errorf("DataDir = %q, want the run's data root", got)
	}
	if got := m.DataDir("/flag"); got != "/flag" {
		t.Errorf("DataDir(flag) = %q", got)
	}
	t.Setenv(data.EnvDataDir, "/env")
	if got := m.DataDir(""); got != "" {
		t.Errorf("with $%s set, DataDir = %q, want \"\" (the environment decides)", data.EnvDataDir, got)
	}
	if got := (&Model{}).DataDir(""); got != "" {
		t.Errorf("bare weights: DataDir = %q", got)
	}
}
