package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/internal/atomicfile"
	"github.com/deepnmf/deepnmf/kernels"
	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/nnmf"
)

// Options is everything a training run is made of: the `deepnmf train` flags.
// It is stored in RUN_DIR/run.json; a resumed run reads it back.
type Options struct {
	Model      string                `json:"model"`  // preset name, used when Config is empty
	Config     string                `json:"config"` // network config file
	Dataset    string                `json:"dataset"`
	DataDir    string                `json:"data_dir"`
	Epochs     int                   `json:"epochs"`
	Seed       uint64                `json:"seed"`
	Backward   string                `json:"backward"`
	Iterations int                   `json:"iterations"` // > 0 overrides the config's NNMF iterations
	Threads    int                   `json:"threads"`
	LimitTrain int                   `json:"limit_train"` // first N training images (0 = all)
	LimitTest  int                   `json:"limit_test"`  // first N test images (0 = all), for quick tests
	Augment    string                `json:"augment"`     // per-batch | per-image | none
	BatchSize  int                   `json:"batch_size"`
	LR         [nn.NumGroups]float64 `json:"lr"` // neuron a, neuron b, batchnorm2d, neuron pool
	LossMode   int                   `json:"loss_mode"`
	// RunningStats makes BatchNorm keep running statistics (momentum 0.1) and
	// use them at evaluation, instead of the official batch statistics.
	RunningStats bool `json:"running_stats"`
	// MaxMemory is the memory budget of the network in bytes (nn.Options);
	// 0 means the default share of the machine's RAM. It belongs to the
	// machine, not the run, so run.json does not keep it.
	MaxMemory int64 `json:"-"`
}

// DefaultOptions is the paper's protocol: cnmf_1x1 on CIFAR-10, seed 21.
func DefaultOptions() Options {
	c := DefaultConfig()
	return Options{
		Model: "cnmf_1x1", Dataset: "cifar10", Epochs: c.Epochs, Seed: 21,
		Backward: nnmf.Approx.String(), Threads: runtime.NumCPU(),
		Augment: "per-batch", BatchSize: 50, LR: c.LR, LossMode: int(c.LossMode),
	}
}

// ModelName is the name used for run directories: the preset or the config file's base name.
func (o Options) ModelName() string {
	if o.Config != "" {
		return strings.TrimSuffix(filepath.Base(o.Config), filepath.Ext(o.Config))
	}
	return o.Model
}

// DefaultRunDir is runs/<model>-<dataset>-seed<seed>-<UTC timestamp>.
func (o Options) DefaultRunDir(now time.Time) string {
	return filepath.Join("runs", fmt.Sprintf("%s-%s-seed%d-%s", o.ModelName(), o.Dataset, o.Seed, now.UTC().Format("20060102-150405")))
}

// RunInfo is RUN_DIR/run.json.
type RunInfo struct {
	Options   Options   `json:"options"`
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

// ResumeDataDir is the --data-dir a resumed run uses: the resume's own flag,
// else the flag the run was started with; with neither, $DEEPNMF_DATA decides
// if it is set (""), and otherwise the directory the run last read, so that a
// run started under $DEEPNMF_DATA resumes in a shell without it.
func ResumeDataDir(flag, startFlag, env, lastRoot string) string {
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

// Session is a prepared run: data, network, optimisers, engine, run directory.
type Session struct {
	Opts    Options
	RunDir  string
	Data    *data.Dataset
	Net     *nn.Network
	NetCfg  *nn.Config
	Engine  *Engine
	Ckpt    *Checkpointer
	Info    RunInfo
	Resumed bool
	Groups  []string
}

// Close releases the network's worker goroutines.
func (s *Session) Close() {
	if s.Net != nil {
		s.Net.Close()
	}
}

// LoadRunOptions reads the options a run directory was created with.
func LoadRunOptions(runDir string) (RunInfo, error) {
	path := filepath.Join(runDir, "run.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return RunInfo{}, fmt.Errorf("%w (is %s a run directory?)", err, runDir)
	}
	var info RunInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return RunInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := info.Validate(); err != nil {
		return RunInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	return info, nil
}

// CheckNewRunDir fails if runDir cannot take a new run: it exists and is not
// empty. The command line calls it before a dataset is loaded or downloaded.
func CheckNewRunDir(runDir string) error {
	entries, err := os.ReadDir(runDir)
	if err != nil || len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(runDir, "run.json")); err != nil {
		// --resume would only fail on it: it is not a run.
		return fmt.Errorf("%s already exists, is not empty and is not a run directory (no run.json); give another --out", runDir)
	}
	return fmt.Errorf("run directory %s already exists and is not empty (use --resume to continue it, or another --out)", runDir)
}

// Prepare builds a session. When resume is true, runDir must hold a run
// (run.json, config.json, checkpoint) whose saved options are used; of opts
// only the non-zero Epochs, Threads and DataDir override them. Otherwise
// runDir must not exist or be empty.
// ds, if not nil, is used instead of loading opts.Dataset (tests).
func Prepare(opts Options, runDir string, resume bool, ds *data.Dataset) (*Session, error) {
	s := &Session{RunDir: runDir, Resumed: resume}
	dataDir := opts.DataDir
	var netCfg *nn.Config
	var err error
	if resume {
		info, err := LoadRunOptions(runDir)
		if err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		// Only the epoch cap, the thread count (the continuation is then no
		// longer bit-identical) and the data location may change.
		saved := info.Options
		if opts.Epochs > 0 {
			saved.Epochs = opts.Epochs
		}
		if opts.Threads > 0 {
			saved.Threads = opts.Threads
		}
		saved.MaxMemory = opts.MaxMemory
		dataDir = ResumeDataDir(opts.DataDir, saved.DataDir, os.Getenv("DEEPNMF_DATA"), info.DataRoot)
		if opts.DataDir != "" {
			saved.DataDir = opts.DataDir
		}
		opts = saved
		info.Resumed = append(info.Resumed, time.Now().UTC().Format(time.RFC3339))
		info.Threads = opts.Threads
		info.Options = opts
		s.Info = info
		netCfg, err = nn.LoadConfig(filepath.Join(runDir, "config.json"))
		if err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
	} else {
		if err := CheckNewRunDir(runDir); err != nil {
			return nil, err
		}
		if netCfg, err = opts.NetworkConfig(); err != nil {
			return nil, err
		}
		if opts.Iterations > 0 {
			// config.json and the weights' metadata must describe the network
			// trained, or eval --run and --config would test it with the
			// config's T instead.
			withT := *netCfg
			withT.Iterations = opts.Iterations
			netCfg = &withT
		}
		s.Info = RunInfo{
			Options: opts, GoVersion: runtime.Version(), CPUPath: kernels.ActivePath().String(),
			GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Threads: opts.Threads, Started: time.Now().UTC(),
		}
	}
	s.Opts, s.NetCfg = opts, netCfg
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	method, err := nnmf.ParseMethod(opts.Backward)
	if err != nil {
		return nil, err
	}
	if err := opts.CheckMemory(netCfg, configSource(opts, runDir, resume)); err != nil {
		return nil, err
	}

	if ds == nil {
		root, err := data.ResolveDir(dataDir)
		if err != nil {
			return nil, err
		}
		if ds, err = data.Load(opts.Dataset, root); err != nil {
			return nil, err
		}
	}
	s.Data = ds
	if ds.Root != "" {
		s.Info.DataRoot = ds.Root
	}
	trainSet, testSet, err := newDataSources(ds, opts)
	if err != nil {
		return nil, err
	}

	in := nn.Shape{C: ds.Channels, H: ds.Crop, W: ds.Crop}
	source := configSource(opts, runDir, resume)
	maxBatch := WorkspaceBatch(opts.BatchSize, trainSet.Images(), testSet.Images())
	net, err := nn.Build(netCfg, in, maxBatch, opts.NetOptions(method), opts.Seed)
	if err != nil {
		return nil, fmt.Errorf("%s on %s input %d×%d×%d: %w", source, ds.Name, in.C, in.H, in.W, err)
	}
	s.Net = net
	if net.Classes() != ds.NumClasses() {
		s.Close()
		return nil, fmt.Errorf("the network of %s has %d outputs, dataset %s has %d classes", source, net.Classes(), ds.Name, ds.NumClasses())
	}

	cfg := DefaultConfig()
	cfg.Epochs, cfg.LR, cfg.LossMode = opts.Epochs, opts.LR, LossMode(opts.LossMode)
	opt, err := NewOptimizers(net.Params(), cfg.LR, cfg.Adam, cfg.Plateau)
	if err != nil {
		s.Close()
		return nil, err
	}
	for _, g := range opt.Groups {
		s.Groups = append(s.Groups, g.String())
	}
	s.Engine = &Engine{
		Model: net, Opt: opt, Cfg: cfg, Train: trainSet, Test: testSet,
		MaxBatch: maxBatch, InputLen: in.C * in.H * in.W,
	}
	s.Ckpt = &Checkpointer{RunDir: runDir, Weights: net, Seed: opts.Seed,
		Metadata: map[string]string{"model": opts.ModelName(), "dataset": opts.Dataset}}
	s.Engine.Checkpoint = s.Ckpt.Save

	if resume {
		if err := s.Ckpt.Load(s.Engine); err != nil {
			s.Close()
			return nil, fmt.Errorf("resume: %w", err)
		}
	} else {
		if err := os.MkdirAll(runDir, 0o755); err != nil {
			s.Close()
			return nil, err
		}
		if err := nn.WriteConfig(filepath.Join(runDir, "config.json"), netCfg); err != nil {
			s.Close()
			return nil, err
		}
	}
	js, err := json.MarshalIndent(s.Info, "", "  ")
	if err == nil {
		err = atomicfile.WriteFile(filepath.Join(runDir, "run.json"), append(js, '\n'))
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// NetworkConfig reads the network of a new run: Config, else the preset Model.
func (o Options) NetworkConfig() (*nn.Config, error) {
	if o.Config != "" {
		return nn.LoadConfig(o.Config)
	}
	return nn.Preset(o.Model)
}

// Validate checks every option that needs neither the data nor the network,
// so that a command rejects a bad flag before it loads or downloads a dataset.
func (o Options) Validate() error {
	switch {
	case o.Epochs < 1:
		return fmt.Errorf("--epochs must be at least 1, got %d", o.Epochs)
	case o.BatchSize < 1:
		return fmt.Errorf("--batch-size must be at least 1, got %d", o.BatchSize)
	case o.Threads < 1:
		return fmt.Errorf("--threads must be at least 1, got %d", o.Threads)
	case o.LimitTrain < 0 || o.LimitTest < 0:
		return errors.New("--limit-train and --limit-test must not be negative")
	case o.Iterations < 0:
		return fmt.Errorf("--iterations must not be negative (0 keeps the config's), got %d", o.Iterations)
	case o.LossMode != 0 && o.LossMode != 1:
		return fmt.Errorf("--loss-mode must be 0 (MSE+KL) or 1 (cross-entropy), got %d", o.LossMode)
	}
	for g, lr := range o.LR {
		if !(lr > 0) || math.IsInf(lr, 1) {
			return fmt.Errorf("the learning rate of group %q must be positive and finite, got %g", nn.Group(g), lr)
		}
	}
	if _, err := data.Lookup(o.Dataset); err != nil {
		return err
	}
	if _, err := nnmf.ParseMethod(o.Backward); err != nil {
		return err
	}
	_, err := ParseAugment(o.Augment)
	return err
}

// Train runs the session to its end and writes final.safetensors. Progress
// goes to out (one line per epoch) and, when bar is not nil, progress bars.
func (s *Session) Train(ctx context.Context, out, bar io.Writer) error {
	e := s.Engine
	if e.Stopped || e.Epoch >= e.Cfg.Epochs {
		fmt.Fprintf(out, "%s: nothing to do: %d epochs done (cap %d, stopped by the learning-rate limit: %v)\n",
			s.RunDir, e.Epoch, e.Cfg.Epochs, e.Stopped)
		return nil
	}
	rep := &Reporter{Out: out, Bar: bar, Epochs: e.Cfg.Epochs, Groups: s.Groups}
	e.Hooks = chainHooks(e.Hooks, rep.Hooks(e.Train.Images(), e.Test.Images()))
	defer func(h Hooks) { e.Hooks = h }(e.Hooks)
	err := e.Run(ctx)
	if err != nil {
		rep.Abort()
		last := "no checkpoint yet"
		if len(e.History) > 0 {
			last = fmt.Sprintf("the checkpoint of epoch %d is intact", e.History[len(e.History)-1].Epoch)
		}
		return fmt.Errorf("%w; %s in %s", err, last, s.RunDir)
	}
	final := filepath.Join(s.RunDir, FinalFile)
	if err := s.Net.SaveWeights(final, map[string]string{"epochs": fmt.Sprint(e.Epoch), "model": s.Opts.ModelName(), "dataset": s.Opts.Dataset}); err != nil {
		return err
	}
	why := "epoch cap reached"
	if e.Stopped {
		why = "learning rate below the limit"
	}
	fmt.Fprintf(out, "done: %d epoch%s (%s); weights in %s\n", e.Epoch, plural(e.Epoch), why, final)
	return nil
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
