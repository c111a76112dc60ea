package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/internal/atomicfile"
	"github.com/deepnmf/deepnmf/internal/sharedtest"
	"github.com/deepnmf/deepnmf/train"
)

// The tests in this file run the built deepnmf binary, as a user and a
// cluster scheduler do, so that signals and kills hit a real process.

// binDir holds the binary built once for this package's tests.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// deepnmfBinary builds ./cmd/deepnmf once per test run.
func deepnmfBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "deepnmf-bin-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "deepnmf")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

var (
	subsetOnce sync.Once
	subsetDir  string
	subsetErr  error
)

// mnistSubset is a data directory holding the first 300 training and 100
// test images of the shared MNIST as uncompressed IDX files, made once: a
// process then starts in milliseconds instead of spending most of a second
// decompressing 70000 images, and the kill tests start many processes.
func mnistSubset(t *testing.T) string {
	t.Helper()
	deepnmfBinary(t) // makes binDir
	root := filepath.Dir(sharedtest.Path(t, "data", "mnist"))
	subsetOnce.Do(func() {
		ds, err := data.Load("mnist", root)
		if err != nil {
			subsetErr = err
			return
		}
		subsetDir = filepath.Join(binDir, "data")
		dir := filepath.Join(subsetDir, "mnist")
		if subsetErr = os.MkdirAll(dir, 0o755); subsetErr != nil {
			return
		}
		for _, f := range []struct {
			name  string
			split *data.Split
			n     int
		}{{"train", &ds.Train, 300}, {"t10k", &ds.Test, 100}} {
			images := idx(0x803, f.split.Images[:f.n*28*28], f.n, 28, 28)
			labels := idx(0x801, f.split.Labels[:f.n], f.n)
			if subsetErr = os.WriteFile(filepath.Join(dir, f.name+"-images-idx3-ubyte"), images, 0o644); subsetErr != nil {
				return
			}
			if subsetErr = os.WriteFile(filepath.Join(dir, f.name+"-labels-idx1-ubyte"), labels, 0o644); subsetErr != nil {
				return
			}
		}
	})
	if subsetErr != nil {
		t.Fatal(subsetErr)
	}
	return subsetDir
}

// idx is an IDX file: the magic number (type and rank), the dimensions, the bytes.
func idx(magic uint32, values []byte, dims ...int) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, values...)
}

// tinyRunArgs is a run of a second or two on MNIST: the tiny cnmf_1x1 of
// the train package's tests, 300 training and 100 test images, 4 epochs on
// one thread (with one thread every resume is bit-identical).
func tinyRunArgs(t *testing.T, runDir string) []string {
	dataDir := mnistSubset(t)
	cfg, err := filepath.Abs(filepath.Join("..", "..", "train", "testdata", "tiny_cnmf_1x1.json"))
	if err != nil {
		t.Fatal(err)
	}
	return []string{"train", "--dataset", "mnist", "--data-dir", dataDir, "--config", cfg,
		"--limit-train", "300", "--limit-test", "100", "--batch-size", "50", "--epochs", "4",
		"--threads", "1", "--seed", "21", "--out", runDir}
}

// restartArgs is what a user or a requeued task runs after a kill: the
// original command while the run has no checkpoint, --resume afterwards.
func restartArgs(t *testing.T, runDir string) []string {
	if train.HasCheckpoint(runDir) {
		return []string{"train", "--resume", runDir}
	}
	return tinyRunArgs(t, runDir)
}

var (
	refOnce sync.Once
	refDir  string
	refLoad time.Duration // until run.json was written: the dataset loaded, training starts
	refWall time.Duration
	refErr  error
)

// referenceRun is the tiny run trained without interruption, once per test
// run, with the time it took to start training and its wall time.
func referenceRun(t *testing.T) (dir string, load, wall time.Duration) {
	t.Helper()
	deepnmfBinary(t) // makes binDir
	args := tinyRunArgs(t, "")
	refOnce.Do(func() {
		refDir = filepath.Join(binDir, "reference")
		args[len(args)-1] = refDir
		start := time.Now()
		p := startDeepnmf(t, args...)
		for !p.exited() && refLoad == 0 {
			if _, err := os.Stat(filepath.Join(refDir, train.RunInfoFile)); err == nil {
				refLoad = time.Since(start)
			}
			time.Sleep(200 * time.Microsecond)
		}
		<-p.done
		refWall = time.Since(start)
		if p.err != nil {
			refErr = fmt.Errorf("reference run: %v\n%s", p.err, p.out.String())
		}
	})
	if refErr != nil {
		t.Fatal(refErr)
	}
	return refDir, refLoad, refWall
}

// sameAsReference checks that dir holds the reference run's results bit for
// bit: metrics.csv without its timing columns, the final weights and the
// checkpoint's weights and Adam moments. It also checks that nothing of an
// interrupted write is left behind.
func sameAsReference(t *testing.T, ref, dir string) {
	t.Helper()
	if got, want := metricsWithoutTimes(t, dir), metricsWithoutTimes(t, ref); got != want {
		t.Errorf("%s: metrics.csv differs from the uninterrupted run:\n%s\nwant\n%s", dir, got, want)
	}
	for _, name := range []string{train.FinalFile, filepath.Join(train.CheckpointDir, train.ModelFile), filepath.Join(train.CheckpointDir, train.OptimizerFile)} {
		a, errA := os.ReadFile(filepath.Join(ref, name))
		b, errB := os.ReadFile(filepath.Join(dir, name))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: %s differs from the uninterrupted run's (%v, %v)", dir, name, errA, errB)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch name := e.Name(); {
		case atomicfile.IsTemp(name), strings.HasPrefix(name, ".checkpoint-tmp-"), name == "checkpoint.prev":
			t.Errorf("%s: %s of an interrupted write is left behind", dir, name)
		}
	}
}

// metricsWithoutTimes is metrics.csv without the train_s and test_s columns.
func metricsWithoutTimes(t *testing.T, dir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	drop := map[int]bool{}
	for i, name := range strings.Split(lines[0], ",") {
		drop[i] = name == "train_s" || name == "test_s"
	}
	if len(drop) == 0 {
		t.Fatalf("%s has no header", dir)
	}
	var rows []string
	for _, line := range lines {
		var keep []string
		for i, f := range strings.Split(line, ",") {
			if !drop[i] {
				keep = append(keep, f)
			}
		}
		rows = append(rows, strings.Join(keep, ","))
	}
	return strings.Join(rows, "\n")
}

// process is a started deepnmf.
type process struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{}
	err  error // of Wait, once done is closed
}

func startDeepnmf(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(deepnmfBinary(t), args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits at most limit for the process to end, and kills it after.
func (p *process) wait(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("deepnmf %s still running after %v:\n%s", strings.Join(p.cmd.Args[1:], " "), limit, p.out.String())
	}
}

// killTrigger decides when a process is SIGKILLed.
type killTrigger struct {
	kind  string
	after time.Duration // "start": after the start; otherwise: after the event
	nth   int           // "checkpoint": the nth checkpoint write of the process
}

func (k killTrigger) String() string {
	switch k.kind {
	case "start":
		return fmt.Sprintf("%v after the start", k.after.Round(time.Millisecond))
	case "training":
		return fmt.Sprintf("%v into training", k.after.Round(time.Millisecond))
	case "checkpoint":
		return fmt.Sprintf("%v into checkpoint write %d", k.after.Round(100*time.Microsecond), k.nth)
	}
	return fmt.Sprintf("%v after %s", k.after.Round(100*time.Microsecond), k.kind)
}

// watcher follows a run directory for the events that trigger a kill.
// Writes on a fast file system (tmpfs, no real fsync) may come and go
// between two looks, so a finished write counts as seen too.
type watcher struct {
	dir         string
	checkpoints map[string]bool // checkpoint temporaries seen (false: left by an earlier kill)
	writes      int             // checkpoint writes seen under way
	saved       int             // checkpoints seen completed
	state, info os.FileInfo     // checkpoint/state.json and run.json at the start
	final       bool            // final.safetensors existed at the start
}

func newWatcher(dir string) *watcher {
	w := &watcher{dir: dir, checkpoints: map[string]bool{}}
	w.state, _ = os.Stat(filepath.Join(dir, train.CheckpointDir, train.StateFile))
	w.info, _ = os.Stat(filepath.Join(dir, train.RunInfoFile))
	w.final = fileExists(filepath.Join(dir, train.FinalFile))
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".checkpoint-tmp-") {
			w.checkpoints[e.Name()] = false
		}
	}
	return w
}

// replaced reports whether the file at path is not the one seen before.
func replaced(path string, before os.FileInfo) bool {
	st, err := os.Stat(path)
	return err == nil && (before == nil || !os.SameFile(st, before))
}

// fired reports whether the trigger's event has happened.
func (w *watcher) fired(k killTrigger) bool {
	state := filepath.Join(w.dir, train.CheckpointDir, train.StateFile)
	switch k.kind {
	case "checkpoint", "final write":
		entries, _ := os.ReadDir(w.dir)
		for _, e := range entries {
			name := e.Name()
			if k.kind == "final write" && strings.HasPrefix(name, "."+train.FinalFile+".tmp") {
				return true
			}
			if _, stale := w.checkpoints[name]; !stale && strings.HasPrefix(name, ".checkpoint-tmp-") {
				w.checkpoints[name] = true
				w.writes++
			}
		}
		if k.kind == "final write" {
			return !w.final && fileExists(filepath.Join(w.dir, train.FinalFile))
		}
		if replaced(state, w.state) {
			w.saved++
			w.state, _ = os.Stat(state)
		}
		return max(w.writes, w.saved) >= k.nth
	case "a new checkpoint":
		return replaced(state, w.state)
	case "first file":
		// The first file of a new run: Start writes run.json, then config.json.
		return w.info == nil && (fileExists(filepath.Join(w.dir, train.RunInfoFile)) || fileExists(filepath.Join(w.dir, train.ConfigFile)))
	case "training":
		// Start and resume write run.json (atomically, so a new file) just
		// before the first batch.
		return replaced(filepath.Join(w.dir, train.RunInfoFile), w.info)
	}
	return true
}

// runUntil starts args and SIGKILLs the process when the trigger fires. It
// reports whether the kill happened (false: the process ended by itself).
func runUntil(t *testing.T, dir string, args []string, k killTrigger) (killed bool, p *process) {
	t.Helper()
	w := newWatcher(dir)
	p = startDeepnmf(t, args...)
	start := time.Now()
	var firedAt time.Time
	for !p.exited() {
		now := time.Now()
		switch {
		case k.kind == "start":
			firedAt = start
		case firedAt.IsZero() && w.fired(k):
			firedAt = now
		}
		if !firedAt.IsZero() && now.Sub(firedAt) >= k.after {
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Fatal(err)
			}
			<-p.done
			ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
			return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL, p
		}
		if now.Sub(start) > 2*time.Minute {
			p.cmd.Process.Kill()
			<-p.done
			t.Fatalf("deepnmf %s ran for 2 minutes", strings.Join(args, " "))
		}
		time.Sleep(100 * time.Microsecond)
	}
	return false, p
}

// checkpointEpochs is the number of epochs the run directory's checkpoint
// holds (-1: none), for the log.
func checkpointEpochs(dir string) int {
	for _, name := range []string{train.CheckpointDir, "checkpoint.prev"} {
		raw, err := os.ReadFile(filepath.Join(dir, name, train.StateFile))
		if err != nil {
			continue
		}
		var st struct {
			Epoch int `json:"epoch"`
		}
		if json.Unmarshal(raw, &st) == nil {
			return st.Epoch
		}
	}
	return -1
}

// Issue 16 item 5: a run SIGKILLed at random moments (at random times, inside
// checkpoint writes, between a checkpoint and its metrics.csv, inside the
// final write) and restarted each time with the same command (or --resume
// once it has a checkpoint) ends bit-identical to an uninterrupted run.
func TestSIGKILLAtRandomMomentsThenResumeIsBitIdentical(t *testing.T) {
	ref, load, wall := referenceRun(t)
	t.Logf("uninterrupted run: %v, of which %v before training", wall.Round(time.Millisecond), load.Round(time.Millisecond))
	// DEEPNMF_KILL_SEED explores other moments; the default is fixed.
	seed := uint64(16)
	if v := os.Getenv("DEEPNMF_KILL_SEED"); v != "" {
		if _, err := fmt.Sscan(v, &seed); err != nil {
			t.Fatalf("DEEPNMF_KILL_SEED=%q: %v", v, err)
		}
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 5))
	// The kinds of moments, shuffled with the seed: while the process starts
	// (lock, clean-up, dataset), as a new run writes its first file (a
	// process that continues a run finishes it, and the next run is killed),
	// at a random time of its training, inside a checkpoint write, right
	// after one (before or while metrics.csv is written), inside the final
	// write.
	kinds := []string{"start", "training", "checkpoint", "a new checkpoint", "final write"}
	if !testing.Short() {
		kinds = append(kinds, "start", "first file", "training", "training", "training", "training", "training", "training",
			"checkpoint", "checkpoint", "checkpoint", "checkpoint", "a new checkpoint", "final write", "final write")
	}
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	root := t.TempDir()
	round, kills, inCheckpoint, inFinal := 0, 0, 0, 0
	dir := filepath.Join(root, "run0")
	for kills < len(kinds) {
		k := killTrigger{kind: kinds[kills]}
		left := 4 - max(0, checkpointEpochs(dir)) // epochs this process has to train
		switch k.kind {
		case "start":
			k.after = time.Duration(rng.Float64() * float64(load))
		case "training":
			// Within the time the reference took for as many epochs, less a
			// margin, so that the process rarely finishes first.
			k.after = time.Duration(rng.Float64() * 0.6 * float64(wall-load) * float64(left) / 4)
		case "checkpoint":
			// Some way into the write (tens of ms with its fsyncs), of one of
			// the epochs this process has left, so that the run still advances.
			k.after = time.Duration(rng.Float64() * float64(20*time.Millisecond))
			k.nth = 1 + rng.IntN(max(1, left))
		}
		before := checkpointEpochs(dir)
		args := restartArgs(t, dir)
		killed, p := runUntil(t, dir, args, k)
		if !killed {
			// The process finished first: the run is complete. Check it, and
			// go on killing a new run.
			if p.err != nil {
				t.Fatalf("deepnmf %s: %v\n%s", strings.Join(args, " "), p.err, p.out.String())
			}
			t.Logf("round %d finished before the kill at %v", round, k)
			sameAsReference(t, ref, dir)
			if round++; round > 2*len(kinds) {
				t.Fatalf("%d runs finished before their kill; %d kills", round, kills)
			}
			dir = filepath.Join(root, fmt.Sprintf("run%d", round))
			continue
		}
		kills++
		var temps []string
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if name := e.Name(); atomicfile.IsTemp(name) || strings.HasPrefix(name, ".checkpoint-tmp-") || name == "checkpoint.prev" {
				temps = append(temps, name)
				if strings.Contains(name, "final") {
					inFinal++
				} else if strings.Contains(name, "checkpoint") {
					inCheckpoint++
				}
			}
		}
		t.Logf("kill %d (%v): epochs on disk %d → %d; left behind: %v", kills, k, before, checkpointEpochs(dir), temps)
	}
	args := restartArgs(t, dir)
	p := startDeepnmf(t, args...)
	p.wait(t, 2*time.Minute)
	if p.err != nil {
		t.Fatalf("deepnmf %s after %d kills: %v\n%s", strings.Join(args, " "), kills, p.err, p.out.String())
	}
	t.Logf("after the last kill: deepnmf %s\n%s", strings.Join(args[1:], " "), p.out.String())
	sameAsReference(t, ref, dir)
	t.Logf("%d kills in %d runs; %d inside a checkpoint write, %d inside the final write", kills, round+1, inCheckpoint, inFinal)
}
