package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/kernels"
	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/nnmf"
)

// Options is everything a training run is made of; `deepnmf train`'s flags
// fill it, a sweep plan holds one per run, and RUN_DIR/run.json stores it so
// that a resumed run reads it back. In JSON every field is named as its
// command-line flag, in snake_case.
type Options struct {
	// The network: Network if set, else Config (a config file, or a preset
	// name when no such file exists), else the preset Model. Network is not stored in run.json; the run's
	// config.json holds whichever was used.
	Model   string     `json:"model,omitempty"`
	Config  string     `json:"config,omitempty"`
	Network *nn.Config `json:"-"`
	// Name names the model in run directories, reports and tables; empty
	// means the preset's name or the config file's base name.
	Name string `json:"name,omitempty"`

	Dataset string `json:"dataset"`
	// DataDir is the data directory ("" = $DEEPNMF_DATA, else the user cache).
	DataDir string `json:"data_dir,omitempty"`
	// Data, if set, is used instead of loading Dataset from DataDir, so that
	// one process can share a loaded dataset between runs.
	Data *data.Dataset `json:"-"`

	Epochs   int         `json:"epochs"`
	Seed     uint64      `json:"seed"`
	Backward nnmf.Method `json:"backward"`
	// Precision of the NNMF forward iterations: float32 (default) or bf16
	// (opt-in; float32 where the CPU has no AVX512_BF16). run.json files
	// written before it existed have none and read as float32.
	Precision  kernels.Precision `json:"precision"`
	Iterations int               `json:"iterations"` // > 0 overrides the config's NNMF iterations (a/b slots)
	Threads    int               `json:"threads"`
	LimitTrain int               `json:"limit_train"` // first N training images (0 = all)
	LimitTest  int               `json:"limit_test"`  // first N test images (0 = all)
	Augment    data.AugmentMode  `json:"augment"`
	BatchSize  int               `json:"batch_size"`
	// LR is the initial learning rate per group, in nn.Group order (neuron a,
	// neuron b, batchnorm2d, neuron pool); JSON: lr_a, lr_b, lr_bn, lr_pool.
	LR       [nn.NumGroups]float64 `json:"-"`
	LossMode LossMode              `json:"loss_mode"`
	// RunningStats makes BatchNorm keep running statistics (momentum 0.1) and
	// use them at evaluation, instead of the official batch statistics.
	RunningStats bool `json:"running_stats"`
	// MaxMemory is the memory budget of the network in bytes (see
	// nn.Options.MaxMemory; 0 = half of the machine's RAM). It belongs to
	// the machine, not the run, so run.json does not keep it.
	MaxMemory int64 `json:"-"`
}

// lrKeys are the JSON names of Options.LR, the flags' names in snake_case.
var lrKeys = [nn.NumGroups]string{"lr_a", "lr_b", "lr_bn", "lr_pool"}

type optionsJSON Options // without the methods, so that Marshal does not recurse

// MarshalJSON writes the options with the learning rates as lr_a … lr_pool.
func (o Options) MarshalJSON() ([]byte, error) {
	raw, err := json.Marshal(optionsJSON(o))
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	for g, k := range lrKeys {
		m[k], _ = json.Marshal(o.LR[g])
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads what MarshalJSON writes, and the "lr" array and the
// string backward/augment of run.json files written by earlier releases.
// Unknown fields are an error: a typo in a sweep spec must not pass silently.
func (o *Options) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	lr := o.LR
	if raw, ok := m["lr"]; ok {
		var arr []float64
		if err := json.Unmarshal(raw, &arr); err != nil || len(arr) != int(nn.NumGroups) {
			return fmt.Errorf("options: \"lr\" must be an array of %d numbers", nn.NumGroups)
		}
		copy(lr[:], arr)
		delete(m, "lr")
	}
	for g, k := range lrKeys {
		if raw, ok := m[k]; ok {
			if err := json.Unmarshal(raw, &lr[g]); err != nil {
				return fmt.Errorf("options: %s: %w", k, err)
			}
			delete(m, k)
		}
	}
	rest, err := json.Marshal(m)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(rest)))
	dec.DisallowUnknownFields()
	v := optionsJSON(*o)
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("options: %w", err)
	}
	*o = Options(v)
	o.LR = lr
	return nil
}

// OptionKeys lists the JSON names of the options (the flags in snake_case),
// for a caller that checks a spec's keys before it builds Options.
func OptionKeys() []string {
	raw, _ := json.Marshal(DefaultOptions())
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	keys := []string{"model", "config", "name", "data_dir"}
	for k := range m {
		if k != "model" && k != "config" && k != "name" && k != "data_dir" {
			keys = append(keys, k)
		}
	}
	return keys
}

// DefaultOptions is the paper's protocol: cnmf_1x1 on CIFAR-10, seed 21,
// batch 50, at most 500 epochs, the official learning rates, all cores.
func DefaultOptions() Options {
	c := DefaultConfig()
	return Options{
		Model: "cnmf_1x1", Dataset: "cifar10", Epochs: c.Epochs, Seed: 21,
		Backward: nnmf.Approx, Threads: runtime.NumCPU(),
		Augment: data.AugmentPerBatch, BatchSize: data.DefaultBatchSize, LR: c.LR, LossMode: c.LossMode,
	}
}

// ModelName is the name used for run directories and reports: Name, else
// the config file's base name, else the preset.
func (o Options) ModelName() string {
	switch {
	case o.Name != "":
		return o.Name
	case o.Network != nil:
		return "custom"
	case o.Config != "":
		return strings.TrimSuffix(filepath.Base(o.Config), filepath.Ext(o.Config))
	}
	return o.Model
}

// DefaultRunDir is runs/<model>-<dataset>-seed<seed>-<UTC timestamp>.
func (o Options) DefaultRunDir(now time.Time) string {
	return filepath.Join("runs", fmt.Sprintf("%s-%s-seed%d-%s", o.ModelName(), o.Dataset, o.Seed, now.UTC().Format("20060102-150405")))
}

// NetworkConfig is the network of a new run: Network, else the file
// Config, else the preset Model, with Iterations applied, so that
// config.json and the weights' metadata describe the network trained.
func (o Options) NetworkConfig() (*nn.Config, error) {
	var cfg *nn.Config
	var err error
	switch {
	case o.Network != nil:
		c := *o.Network
		cfg = &c
	case o.Config != "":
		cfg, err = ConfigOrPreset(o.Config)
	case o.Model != "":
		cfg, err = nn.Preset(o.Model)
	default:
		err = errors.New("no network: give a preset (model), a config file or an in-memory config")
	}
	if err != nil {
		return nil, err
	}
	if o.Iterations > 0 {
		withT := *cfg
		withT.Iterations = o.Iterations
		cfg = &withT
	}
	return cfg, nil
}

// networkSource names where the network came from, for error messages.
func (o Options) networkSource() string {
	switch {
	case o.Network != nil:
		return "the in-memory config " + o.ModelName()
	case o.Config != "":
		return o.Config
	}
	return "preset " + o.Model
}

// Validate checks every option that needs neither the data nor the network,
// so that a caller can reject bad options before a dataset is loaded or
// downloaded. Errors name the option as its JSON key (the flag in snake_case).
func (o Options) Validate() error {
	switch {
	case o.Epochs < 1:
		return fmt.Errorf("epochs must be at least 1, got %d", o.Epochs)
	case o.BatchSize < 1:
		return fmt.Errorf("batch_size must be at least 1, got %d", o.BatchSize)
	case o.Threads < 1:
		return fmt.Errorf("threads must be at least 1, got %d", o.Threads)
	case o.LimitTrain < 0 || o.LimitTest < 0:
		return errors.New("limit_train and limit_test must not be negative")
	case o.Iterations < 0:
		return fmt.Errorf("iterations must not be negative (0 keeps the config's), got %d", o.Iterations)
	case o.LossMode != LossMSEKL && o.LossMode != LossCrossEntropy:
		return fmt.Errorf("loss_mode must be 0 (MSE+KL) or 1 (cross-entropy), got %d", o.LossMode)
	case o.Precision != kernels.Float32 && o.Precision != kernels.BF16:
		return fmt.Errorf("precision: invalid precision %d", int(o.Precision))
	case o.Backward < 0 || o.Backward > nnmf.Implicit:
		return fmt.Errorf("backward: invalid method %d", int(o.Backward))
	case o.Augment < data.AugmentNone || o.Augment > data.AugmentPerImage:
		return fmt.Errorf("augment: invalid mode %d", int(o.Augment))
	}
	for g, lr := range o.LR {
		if !(lr > 0) || math.IsInf(lr, 1) {
			return fmt.Errorf("%s (the learning rate of group %q) must be positive and finite, got %g", lrKeys[g], nn.Group(g), lr)
		}
	}
	if o.Data == nil {
		if _, err := data.Lookup(o.Dataset); err != nil {
			return err
		}
	}
	return nil
}

// PrecisionNotice is the one line a command tells its user when a bf16
// request runs in float32 ("" when it runs as requested).
func PrecisionNotice(p kernels.Precision) string {
	if p != kernels.BF16 || kernels.EffectivePrecision(p) == kernels.BF16 {
		return ""
	}
	return "precision bf16 was requested but the NNMF forward runs in float32: " + kernels.BF16Unavailable()
}
