package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/internal/atomicfile"
	"github.com/deepnmf/deepnmf/kernels"
	"github.com/deepnmf/deepnmf/nn"
)

// Files of a run directory besides the checkpoint's.
const (
	RunInfoFile = "run.json"
	ConfigFile  = "config.json"
)

// RunInfo is RUN_DIR/run.json.
type RunInfo struct {
	Options   Options   `json:"options"`
	Version   string    `json:"version"` // the deepnmf build (module version and VCS revision)
	GoVersion string    `json:"go_version"`
	CPUPath   string    `json:"cpu_path"`
	GOOS      string    `json:"goos"`
	GOARCH    string    `json:"goarch"`
	Threads   int       `json:"threads"`
	Started   time.Time `json:"started"`
	Resumed   []string  `json:"resumed,omitempty"` // times of later resumes
	// DataRoot is the data directory the run last read, however it was chosen
	// (flag, $DEEPNMF_DATA or the cache), so that a resume finds it again.
	DataRoot string `json:"data_root,omitempty"`
}

// LoadRunInfo reads RUN_DIR/run.json.
func LoadRunInfo(runDir string) (RunInfo, error) {
	path := filepath.Join(runDir, RunInfoFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return RunInfo{}, fmt.Errorf("%w (is %s a run directory?)", err, runDir)
	}
	info := RunInfo{Options: DefaultOptions()}
	if err := json.Unmarshal(raw, &info); err != nil {
		return RunInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	// "model" is omitted when empty (a run of a config file or an in-memory
	// config); the default preset must not fill it in, or the options no
	// longer equal the ones the run was started with (StartOrResume).
	var keys struct {
		Options map[string]json.RawMessage `json:"options"`
	}
	if json.Unmarshal(raw, &keys) == nil {
		if _, ok := keys.Options["model"]; !ok {
			info.Options.Model = ""
		}
	}
	if err := info.Options.Validate(); err != nil {
		return RunInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	return info, nil
}

// Version is the deepnmf build: the module version (a tag, or "(devel)" for
// a build from a clone) and the VCS revision, with "+dirty" for a modified
// tree. It is written into every run.json.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		v += " " + rev + dirty
	}
	return v
}

// Overrides are the options a resumed run may change; zero values keep the
// run's. Another Threads count makes the continuation no longer
// bit-identical to an uninterrupted run.
type Overrides struct {
	Epochs  int
	Threads int
	DataDir string
	Data    *data.Dataset // an already loaded dataset (it must be the run's)
	// MaxMemory is the network's memory budget (Options.MaxMemory).
	MaxMemory int64
}

// Session is a run directory opened for training: data, network,
// optimisers, engine. It holds the directory's lock until Close.
type Session struct {
	Opts   Options
	RunDir string
	Info   RunInfo
	Data   *data.Dataset
	Net    *nn.Network
	NetCfg *nn.Config
	Engine *Engine
	Ckpt   *Checkpointer
	Groups []string
	// Resumed is set when the session continues a checkpoint.
	Resumed bool
	// Notices are what the caller should tell the user about the directory
	// (a lock taken over from a dead process, temporaries removed, a run
	// started over because it had no checkpoint).
	Notices []string
	// Hooks, if set before Train, observe the engine besides the progress
	// reporting.
	Hooks Hooks
	lock  *runLock
}

// Close releases the network's worker goroutines and the directory's lock.
func (s *Session) Close() {
	if s.Net != nil {
		s.Net.Close()
		s.Net = nil
	}
	s.lock.release()
	s.lock = nil
}

// Start opens a new run in runDir. The directory must not hold a run that
// finished an epoch; one killed before its first checkpoint is started over,
// so that the same command works again.
func Start(opts Options, runDir string) (*Session, error) {
	return open(opts, runDir, startNew)
}

// Resume continues the run in runDir from its last checkpoint with the
// options in its run.json (of which over may change a few). A run that
// never reached its first checkpoint starts from scratch with its saved
// options.
func Resume(runDir string, over Overrides) (*Session, error) {
	info, err := LoadRunInfo(runDir)
	if err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	opts := info.Options
	if over.Epochs > 0 {
		opts.Epochs = over.Epochs
	}
	if over.Threads > 0 {
		opts.Threads = over.Threads
	}
	opts.DataDir = resumeDataDir(over.DataDir, opts.DataDir, os.Getenv(data.EnvDataDir), info.DataRoot)
	opts.Data = over.Data
	opts.MaxMemory = over.MaxMemory
	return open(opts, runDir, mustResume)
}

// StartOrResume is what a preemptible task calls: it resumes the run in
// runDir if it has a checkpoint, and starts it otherwise. A resumed run keeps
// its saved options except Epochs, Threads and the data location; any other
// difference from opts is an error rather than a silent mix of two runs.
func StartOrResume(opts Options, runDir string) (*Session, error) {
	return open(opts, runDir, startOrResume)
}

// resumeDataDir is the data directory a resumed run reads: the resume's
// own, else the one the run was started with; with neither, $DEEPNMF_DATA
// decides if it is set (""), and otherwise the directory the run last read,
// so that a run started under $DEEPNMF_DATA resumes in a shell without it.
func resumeDataDir(flag, startFlag, env, lastRoot string) string {
	switch {
	case flag != "":
		return flag
	case startFlag != "":
		return startFlag
	case env != "":
		return ""
	}
	return lastRoot
}

type openMode int

const (
	startNew openMode = iota
	mustResume
	startOrResume
)

// open locks runDir, clears what killed writers left, and builds the session.
func open(opts Options, runDir string, mode openMode) (s *Session, err error) {
	if runDir == "" {
		return nil, errors.New("no run directory given")
	}
	if mode != mustResume {
		if err := opts.Validate(); err != nil {
			return nil, err
		}
		if st, err := os.Stat(runDir); err == nil && !st.IsDir() {
			return nil, fmt.Errorf("%s is a file, not a run directory", runDir)
		}
		if err := os.MkdirAll(runDir, 0o755); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(filepath.Join(runDir, RunInfoFile)); err != nil {
		return nil, fmt.Errorf("resume: %w (is %s a run directory?)", err, runDir)
	}
	lock, prev, err := lockRunDir(runDir)
	if err != nil {
		return nil, err
	}
	s = &Session{RunDir: runDir, lock: lock}
	defer func() {
		if err != nil {
			s.Close()
			s = nil
		}
	}()
	if prev != "" {
		s.Notices = append(s.Notices, fmt.Sprintf("took over %s from %s, which ended without releasing it", LockFile, prev))
	}
	if err := s.removeLeftovers(); err != nil {
		return s, err
	}
	hasRun := fileExists(filepath.Join(runDir, RunInfoFile))
	hasCheckpoint := HasCheckpoint(runDir)
	if mode == startNew || !hasRun {
		if err := CheckStart(runDir); err != nil {
			return s, err
		}
	}
	switch {
	case mode == mustResume && !hasCheckpoint:
		// The run never finished an epoch: start it over with its own options.
		info, err := LoadRunInfo(runDir)
		if err != nil {
			return s, err
		}
		saved := info.Options
		saved.Epochs, saved.Threads, saved.DataDir, saved.Data, saved.MaxMemory = opts.Epochs, opts.Threads, opts.DataDir, opts.Data, opts.MaxMemory
		saved.Name = saved.ModelName()
		// Without config.json (killed before it was written) the options name the network.
		if saved.Network, err = nn.LoadConfig(filepath.Join(runDir, ConfigFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return s, err
		}
		if err := saved.Validate(); err != nil {
			return s, fmt.Errorf("%s: %w", filepath.Join(runDir, RunInfoFile), err)
		}
		s.Notices = append(s.Notices, "the run had no checkpoint yet (it was stopped in its first epoch): starting it from the beginning")
		return s, s.prepareNew(saved)
	case hasCheckpoint:
		if mode == startOrResume {
			if err := sameRun(runDir, opts); err != nil {
				return s, err
			}
		}
		return s, s.prepareResume(opts)
	}
	if hasRun {
		s.Notices = append(s.Notices, "the directory held a run stopped in its first epoch: starting it over")
	}
	return s, s.prepareNew(opts)
}

// CheckStart reports why a new run cannot start in runDir, or nil: the
// directory holds a run that finished an epoch (resume it instead), or it is
// not empty and holds no run (the caller named the wrong directory). A run
// stopped before its first checkpoint can start again. Callers use it to
// refuse a directory before they load or download a dataset.
func CheckStart(runDir string) error {
	if HasCheckpoint(runDir) {
		return fmt.Errorf("%s already holds a run with a checkpoint: resume it, or give another directory", runDir)
	}
	if fileExists(filepath.Join(runDir, RunInfoFile)) {
		return nil
	}
	entries, _ := os.ReadDir(runDir)
	for _, e := range entries {
		if e.Name() != LockFile && !atomicfile.IsTemp(e.Name()) && !strings.HasPrefix(e.Name(), checkpointTmp) {
			return fmt.Errorf("%s is not empty and is not a run directory (no %s); give another directory", runDir, RunInfoFile)
		}
	}
	return nil
}

// sameRun checks that opts describe the run saved in runDir, apart from
// what a resume may change.
func sameRun(runDir string, opts Options) error {
	info, err := LoadRunInfo(runDir)
	if err != nil {
		return err
	}
	a, b := info.Options, opts
	for _, o := range []*Options{&a, &b} {
		o.Name = o.ModelName()
		o.Epochs, o.Threads, o.DataDir, o.Data, o.Network = 0, 0, "", nil, nil
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		return fmt.Errorf("%s holds a run with other options than these (saved %s, given %s): give another directory", runDir, ja, jb)
	}
	return nil
}

// removeLeftovers deletes what writers killed mid-write leave in the run
// directory and its checkpoint directory.
func (s *Session) removeLeftovers() error {
	var removed []string
	entries, err := os.ReadDir(s.RunDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), checkpointTmp) {
			if err := os.RemoveAll(filepath.Join(s.RunDir, e.Name())); err != nil {
				return err
			}
			removed = append(removed, e.Name()+"/")
		}
	}
	if removed, err = tidyCheckpoint(s.RunDir, removed); err != nil {
		return err
	}
	for _, dir := range []string{s.RunDir, filepath.Join(s.RunDir, CheckpointDir)} {
		names, err := atomicfile.RemoveTemps(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		removed = append(removed, names...)
	}
	if len(removed) > 0 {
		s.Notices = append(s.Notices, "removed temporary files of an interrupted write: "+strings.Join(removed, ", "))
	}
	return nil
}

func (s *Session) prepareNew(opts Options) error {
	netCfg, err := opts.NetworkConfig()
	if err != nil {
		return err
	}
	// What a run killed in its first epoch wrote is replaced, not mixed in.
	for _, name := range []string{MetricsFile, FinalFile} {
		if err := os.Remove(filepath.Join(s.RunDir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	s.Info = RunInfo{
		Options: opts, Version: Version(), GoVersion: runtime.Version(), CPUPath: kernels.ActivePath().String(),
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Threads: opts.Threads, Started: time.Now().UTC(),
	}
	if opts.Network != nil && opts.Name == "" {
		s.Info.Options.Name = opts.ModelName()
	}
	if err := s.build(opts, netCfg, opts.networkSource()); err != nil {
		return err
	}
	// run.json first: killed between the two writes, the directory is a run
	// that the same command starts over, not a stranger's config.json.
	if err := s.writeInfo(); err != nil {
		return err
	}
	return nn.WriteConfig(filepath.Join(s.RunDir, ConfigFile), netCfg)
}

func (s *Session) prepareResume(over Options) error {
	info, err := LoadRunInfo(s.RunDir)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	opts := info.Options
	if over.Epochs > 0 {
		opts.Epochs = over.Epochs
	}
	if over.Threads > 0 {
		opts.Threads = over.Threads
	}
	if over.DataDir != "" {
		opts.DataDir = over.DataDir
	}
	opts.Data = over.Data
	opts.MaxMemory = over.MaxMemory
	info.Resumed = append(info.Resumed, time.Now().UTC().Format(time.RFC3339))
	info.Threads, info.Version = opts.Threads, Version()
	info.Options = opts
	info.Options.Data = nil
	s.Info, s.Resumed = info, true
	cfgPath := filepath.Join(s.RunDir, ConfigFile)
	netCfg, err := nn.LoadConfig(cfgPath)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if err := s.build(opts, netCfg, cfgPath); err != nil {
		return err
	}
	if err := s.Ckpt.Load(s.Engine); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	return s.writeInfo()
}

// build loads the data and builds the network, the optimisers and the engine.
func (s *Session) build(opts Options, netCfg *nn.Config, source string) error {
	s.Opts, s.NetCfg = opts, netCfg
	if n := PrecisionNotice(opts.Precision); n != "" {
		s.Notices = append(s.Notices, n)
	}
	ds := opts.Data
	if ds == nil {
		// Refuse a network over the memory budget before loading the data.
		if err := opts.CheckMemory(netCfg, source); err != nil {
			return err
		}
		root, err := data.ResolveDir(opts.DataDir)
		if err != nil {
			return err
		}
		if ds, err = data.Load(opts.Dataset, root); err != nil {
			return err
		}
	} else if opts.Dataset != "" && ds.Name != opts.Dataset {
		return fmt.Errorf("the dataset given is %s, the run's is %s", ds.Name, opts.Dataset)
	}
	s.Data = ds
	s.Opts.Dataset = ds.Name
	s.Info.Options.Dataset = ds.Name
	if ds.Root != "" {
		s.Info.DataRoot = ds.Root
	}
	trainSet, testSet, err := newDataSources(ds, opts)
	if err != nil {
		return err
	}
	maxBatch := WorkspaceBatch(opts.BatchSize, trainSet.Images(), testSet.Images())
	net, err := buildFor(netCfg, source, ds.Info, maxBatch, opts.NetOptions(), opts.Seed)
	if err != nil {
		return err
	}
	s.Net = net
	cfg := DefaultConfig()
	cfg.Epochs, cfg.LR, cfg.LossMode = opts.Epochs, opts.LR, opts.LossMode
	opt, err := NewOptimizers(net.Params(), cfg.LR, cfg.Adam, cfg.Plateau)
	if err != nil {
		return err
	}
	for _, g := range opt.Groups {
		s.Groups = append(s.Groups, g.String())
	}
	in := nn.Shape{C: ds.Channels, H: ds.Crop, W: ds.Crop}
	s.Engine = &Engine{
		Net: net, Opt: opt, Cfg: cfg, Train: trainSet, Test: testSet,
		MaxBatch: maxBatch, InputLen: in.C * in.H * in.W,
	}
	s.Ckpt = &Checkpointer{RunDir: s.RunDir, Weights: net, Seed: opts.Seed,
		Metadata: map[string]string{"model": opts.ModelName(), "dataset": ds.Name}}
	s.Engine.Checkpoint = s.Ckpt.Save
	return nil
}

func (s *Session) writeInfo() error {
	js, err := json.MarshalIndent(s.Info, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(s.RunDir, RunInfoFile), append(js, '\n'))
}

// Summary is the outcome of a training run.
type Summary struct {
	RunDir       string  `json:"run_dir"`
	Epochs       int     `json:"epochs"` // epochs done
	FinalTestAcc float64 `json:"final_test_acc"`
	BestTestAcc  float64 `json:"best_test_acc"`
	BestEpoch    int     `json:"best_epoch"` // 1-based, as the user counts
	Stopped      bool    `json:"stopped_by_lr_limit"`
	Weights      string  `json:"weights"`
	Warning      string  `json:"warning,omitempty"` // the run diverged or is not learning (diverge.go)
}

func (s *Session) summary() Summary {
	e := s.Engine
	sum := Summary{RunDir: s.RunDir, Epochs: e.Epoch, Stopped: e.Stopped, Weights: filepath.Join(s.RunDir, FinalFile),
		Warning: chanceWarning(e.History, e.Net.Classes(), e.Cfg.LR)}
	for _, m := range e.History {
		if acc := m.TestAcc(); acc > sum.BestTestAcc || sum.BestEpoch == 0 {
			sum.BestTestAcc, sum.BestEpoch = acc, m.Epoch+1
		}
		sum.FinalTestAcc = m.TestAcc()
	}
	return sum
}

// Train runs the session to its end and writes final.safetensors. Progress
// goes to log (a line per epoch, and lines during an epoch when bar is nil)
// and, when bar is not nil, to progress bars. After an interruption or an
// error the last checkpoint stays as it was, and the error says which epoch
// is on disk.
func (s *Session) Train(ctx context.Context, log, bar io.Writer) (Summary, error) {
	e := s.Engine
	final := filepath.Join(s.RunDir, FinalFile)
	if e.Stopped || e.Epoch >= e.Cfg.Epochs {
		if !fileExists(final) {
			// Killed while writing the final weights: the checkpoint holds them.
			if err := s.saveFinal(); err != nil {
				return s.summary(), err
			}
			fmt.Fprintf(log, "%s: wrote the missing %s from the checkpoint of epoch %d\n", s.RunDir, FinalFile, e.Epoch)
		} else {
			fmt.Fprintf(log, "%s: nothing to do: %d epochs done (cap %d, stopped by the learning-rate limit: %v)\n",
				s.RunDir, e.Epoch, e.Cfg.Epochs, e.Stopped)
		}
		return s.summary(), nil
	}
	rep := &Reporter{Out: log, Bar: bar, Epochs: e.Cfg.Epochs, Groups: s.Groups, FirstEpoch: e.Epoch}
	saved := e.Hooks
	e.Hooks = chainHooks(chainHooks(chainHooks(e.Hooks, s.Hooks), rep.Hooks(e.Train.Images(), e.Test.Images())), s.divergenceHooks(log))
	defer func() { e.Hooks = saved }()
	err := e.Run(ctx)
	if err != nil {
		rep.Abort()
		return s.summary(), fmt.Errorf("%w; %s", err, onDisk(s.RunDir))
	}
	if err := s.saveFinal(); err != nil {
		return s.summary(), err
	}
	sum := s.summary()
	rep.Done(sum)
	return sum, nil
}

func (s *Session) saveFinal() error {
	return s.Net.SaveWeights(filepath.Join(s.RunDir, FinalFile), map[string]string{
		"epochs": fmt.Sprint(s.Engine.Epoch), "model": s.Opts.ModelName(), "dataset": s.Opts.Dataset})
}

// onDisk says which checkpoint a run directory holds now, read from the
// disk rather than from memory, for messages after a failure.
func onDisk(runDir string) string {
	for _, name := range []string{CheckpointDir, checkpointPrev} {
		if epochs, err := checkpointEpochs(filepath.Join(runDir, name)); err == nil {
			return fmt.Sprintf("%s holds the checkpoint after epoch %d (resume continues from there)", runDir, epochs)
		}
	}
	return fmt.Sprintf("%s holds no checkpoint yet (the same command starts the run again)", runDir)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// chainHooks calls a's hooks, then b's.
func chainHooks(a, b Hooks) Hooks {
	return Hooks{
		EpochStart: func(epoch, batches int) {
			if a.EpochStart != nil {
				a.EpochStart(epoch, batches)
			}
			if b.EpochStart != nil {
				b.EpochStart(epoch, batches)
			}
		},
		BatchDone: func(epoch, batch, images int, loss float32) {
			if a.BatchDone != nil {
				a.BatchDone(epoch, batch, images, loss)
			}
			if b.BatchDone != nil {
				b.BatchDone(epoch, batch, images, loss)
			}
		},
		TestStart: func(epoch, batches int) {
			if a.TestStart != nil {
				a.TestStart(epoch, batches)
			}
			if b.TestStart != nil {
				b.TestStart(epoch, batches)
			}
		},
		TestBatch: func(epoch, batch, images int) {
			if a.TestBatch != nil {
				a.TestBatch(epoch, batch, images)
			}
			if b.TestBatch != nil {
				b.TestBatch(epoch, batch, images)
			}
		},
		EpochDone: func(m Metrics) {
			if a.EpochDone != nil {
				a.EpochDone(m)
			}
			if b.EpochDone != nil {
				b.EpochDone(m)
			}
		},
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
