package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/deepnmf/deepnmf/internal/atomicfile"
	"github.com/deepnmf/deepnmf/nn"
)

// Files of a run directory.
const (
	CheckpointDir  = "checkpoint"
	checkpointPrev = "checkpoint.prev"
	checkpointTmp  = ".checkpoint-tmp-"
	ModelFile      = "model.safetensors"
	OptimizerFile  = "optimizer.safetensors"
	StateFile      = "state.json"
	MetricsFile    = "metrics.csv"
	FinalFile      = "final.safetensors"
	stateFormat    = 1
)

// WeightStore saves and loads a model's weights (*nn.Network implements it).
type WeightStore interface {
	SaveWeights(path string, metadata map[string]string) error
	LoadWeights(path string) error
}

// Checkpointer writes and reads RUN_DIR/checkpoint and RUN_DIR/metrics.csv.
//
// A checkpoint is written into a temporary directory that replaces the old
// one by rename: a crash at any point leaves either the old or the new
// checkpoint complete (between the two renames the old one is
// checkpoint.prev, which Load falls back to).
type Checkpointer struct {
	RunDir  string
	Weights WeightStore
	// Seed is the data seed; with the epoch counter it fixes every later batch
	// (the data's random streams are pure functions of seed, epoch and batch).
	Seed uint64
	// Metadata goes into the safetensors headers.
	Metadata map[string]string
}

type schedulerState struct {
	Best            string `json:"best"` // a string: +Inf is not JSON
	NumBadEpochs    int    `json:"num_bad_epochs"`
	CooldownCounter int    `json:"cooldown_counter"`
	LastEpoch       int    `json:"last_epoch"`
}

type optimizerState struct {
	Group     string         `json:"group"`
	LR        float64        `json:"lr"`
	Step      int            `json:"step"`
	Scheduler schedulerState `json:"scheduler"`
}

type streamState struct {
	Seed      uint64 `json:"seed"`
	NextEpoch int    `json:"next_epoch"`
	NextBatch int    `json:"next_batch"`
}

type checkpointState struct {
	Format     int              `json:"format"`
	Epoch      int              `json:"epoch"` // next epoch to run
	Stopped    bool             `json:"stopped_by_lr_limit"`
	Streams    streamState      `json:"streams"`
	Optimizers []optimizerState `json:"optimizers"`
	History    []Metrics        `json:"history"`
}

// Save writes the engine's state as the run's checkpoint, then metrics.csv.
func (c *Checkpointer) Save(e *Engine) error {
	tmp, err := os.MkdirTemp(c.RunDir, checkpointTmp)
	if err != nil {
		return err
	}
	// MkdirTemp makes the directory private; a checkpoint is as shareable as the run.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // a no-op after the successful rename
	meta := map[string]string{"epoch": strconv.Itoa(e.Epoch)}
	for k, v := range c.Metadata {
		meta[k] = v
	}
	if err := c.Weights.SaveWeights(filepath.Join(tmp, ModelFile), meta); err != nil {
		return err
	}
	var moments []nn.NamedTensor
	st := checkpointState{
		Format:  stateFormat,
		Epoch:   e.Epoch,
		Stopped: e.Stopped,
		Streams: streamState{Seed: c.Seed, NextEpoch: e.Epoch},
		History: e.History,
	}
	for i, a := range e.Opt.Adams {
		s := e.Opt.Schedulers[i]
		st.Optimizers = append(st.Optimizers, optimizerState{
			Group: e.Opt.Groups[i].String(), LR: a.LR, Step: a.Step,
			Scheduler: schedulerState{
				Best:         strconv.FormatFloat(s.Best, 'g', -1, 64),
				NumBadEpochs: s.NumBadEpochs, CooldownCounter: s.CooldownCounter, LastEpoch: s.LastEpoch,
			},
		})
		for j, p := range a.Params {
			moments = append(moments,
				nn.NamedTensor{Name: p.Key + ".exp_avg", Shape: p.Shape, Data: a.M[j]},
				nn.NamedTensor{Name: p.Key + ".exp_avg_sq", Shape: p.Shape, Data: a.V[j]})
		}
	}
	if err := nn.WriteSafetensors(filepath.Join(tmp, OptimizerFile), moments, meta); err != nil {
		return err
	}
	js, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(tmp, StateFile), append(js, '\n')); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	cur := filepath.Join(c.RunDir, CheckpointDir)
	prev := filepath.Join(c.RunDir, checkpointPrev)
	if err := os.RemoveAll(prev); err != nil {
		return err
	}
	if err := os.Rename(cur, prev); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, cur); err != nil {
		return err
	}
	if err := syncDir(c.RunDir); err != nil {
		return err
	}
	if err := os.RemoveAll(prev); err != nil {
		return err
	}
	return WriteMetricsCSV(filepath.Join(c.RunDir, MetricsFile), e.Opt.Groups, e.History)
}

func (c *Checkpointer) dir() (string, error) {
	for _, name := range []string{CheckpointDir, checkpointPrev} {
		d := filepath.Join(c.RunDir, name)
		if _, err := os.Stat(filepath.Join(d, StateFile)); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no checkpoint in %s (expected %s/%s)", c.RunDir, CheckpointDir, StateFile)
}

// HasCheckpoint reports whether runDir holds a complete checkpoint (or the
// previous one, which a crash between two renames leaves): whether a resume
// would continue after a finished epoch.
func HasCheckpoint(runDir string) bool {
	for _, name := range []string{CheckpointDir, checkpointPrev} {
		if fileExists(filepath.Join(runDir, name, StateFile)) {
			return true
		}
	}
	return false
}

// checkpointEpochs reads how many epochs the checkpoint in dir holds.
func checkpointEpochs(dir string) (int, error) {
	raw, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return 0, err
	}
	var st struct {
		Epoch int `json:"epoch"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return 0, err
	}
	return st.Epoch, nil
}

// Load restores the engine from the run's checkpoint: weights, Adam moments
// and steps, schedulers, epoch counter and history. The engine's optimisers
// must have been built for the same network. It also rewrites metrics.csv
// from the history, dropping a row written after the checkpoint.
func (c *Checkpointer) Load(e *Engine) error {
	dir, err := c.dir()
	if err != nil {
		return err
	}
	statePath := filepath.Join(dir, StateFile)
	raw, err := os.ReadFile(statePath)
	if err != nil {
		return err
	}
	st, err := parseState(raw, statePath)
	if err != nil {
		return err
	}
	if st.Streams.Seed != c.Seed {
		return fmt.Errorf("%s: the checkpoint was made with seed %d, not %d", statePath, st.Streams.Seed, c.Seed)
	}
	if len(st.Optimizers) != len(e.Opt.Adams) {
		return fmt.Errorf("%s: %d optimisers, the network has %d non-empty parameter groups", statePath, len(st.Optimizers), len(e.Opt.Adams))
	}
	if err := c.Weights.LoadWeights(filepath.Join(dir, ModelFile)); err != nil {
		return err
	}
	momentsPath := filepath.Join(dir, OptimizerFile)
	moments, _, err := nn.ReadSafetensors(momentsPath)
	if err != nil {
		return err
	}
	if err := checkMoments(momentsPath, moments); err != nil {
		return err
	}
	for i, saved := range st.Optimizers {
		a, s := e.Opt.Adams[i], e.Opt.Schedulers[i]
		if saved.Group != e.Opt.Groups[i].String() {
			return fmt.Errorf("%s: optimiser %d is for group %q, the network's is %q", statePath, i, saved.Group, e.Opt.Groups[i])
		}
		best, err := strconv.ParseFloat(saved.Scheduler.Best, 64)
		if err != nil {
			return fmt.Errorf("%s: scheduler %d best: %w", statePath, i, err)
		}
		a.LR, a.Step = saved.LR, saved.Step
		s.Best, s.NumBadEpochs, s.CooldownCounter, s.LastEpoch = best, saved.Scheduler.NumBadEpochs, saved.Scheduler.CooldownCounter, saved.Scheduler.LastEpoch
		for j, p := range a.Params {
			for _, pair := range []struct {
				suffix string
				dst    []float32
			}{{".exp_avg", a.M[j]}, {".exp_avg_sq", a.V[j]}} {
				t, ok := moments[p.Key+pair.suffix]
				if !ok {
					return fmt.Errorf("%s: missing tensor %s", momentsPath, p.Key+pair.suffix)
				}
				if len(t.Data) != len(pair.dst) {
					return fmt.Errorf("%s: tensor %s has %d values, parameter %s has %d", momentsPath, t.Name, len(t.Data), p.Key, len(pair.dst))
				}
				copy(pair.dst, t.Data)
			}
		}
	}
	e.Epoch = st.Epoch
	e.Stopped = st.Stopped
	e.History = st.History
	return WriteMetricsCSV(filepath.Join(c.RunDir, MetricsFile), e.Opt.Groups, e.History)
}

// parseState decodes and validates a state.json; path names it in errors.
func parseState(raw []byte, path string) (checkpointState, error) {
	var st checkpointState
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	if st.Format != stateFormat {
		return st, fmt.Errorf("%s: format %d, this build reads format %d", path, st.Format, stateFormat)
	}
	return st, st.validate(path)
}

// MetricsHeader is the reference CSV's columns followed by one learning-rate
// column per optimiser.
func MetricsHeader(groups []nn.Group) []string {
	h := []string{"epoch", "train_loss_per_image", "train_acc", "test_acc", "lr_max", "train_s", "test_s", "params"}
	for _, g := range groups {
		h = append(h, "lr_"+strings.ReplaceAll(g.String(), " ", "_"))
	}
	return h
}

// MetricsRow formats one row of metrics.csv.
func MetricsRow(m Metrics) []string {
	f := pyFloat
	row := []string{
		strconv.Itoa(m.Epoch), f(m.TrainLossPerImage), f(m.TrainAcc()), f(m.TestAcc()), f(m.LRMax()),
		strconv.FormatFloat(m.TrainSeconds, 'f', 2, 64), strconv.FormatFloat(m.TestSeconds, 'f', 2, 64),
		strconv.Itoa(m.Params),
	}
	for _, lr := range m.LRs {
		row = append(row, f(lr))
	}
	return row
}

// WriteMetricsCSV rewrites the whole metrics file atomically.
func WriteMetricsCSV(path string, groups []nn.Group, history []Metrics) error {
	var b strings.Builder
	b.WriteString(strings.Join(MetricsHeader(groups), ","))
	b.WriteByte('\n')
	for _, m := range history {
		b.WriteString(strings.Join(MetricsRow(m), ","))
		b.WriteByte('\n')
	}
	return atomicfile.WriteFile(path, []byte(b.String()))
}

func writeFileSync(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("writing %s: %w", path, werr)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// pyFloat formats like Python's repr of a float (shortest round-trip digits,
// integral values with ".0"), as the reference CSV was written.
func pyFloat(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eIN") {
		s += ".0"
	}
	return s
}

// ReadMetrics returns the metrics of every finished epoch of the run in
// runDir, as its last checkpoint recorded them (the rows of metrics.csv,
// with the exact counts behind its percentages). A run without a
// checkpoint has none.
func ReadMetrics(runDir string) ([]Metrics, error) {
	for _, name := range []string{CheckpointDir, checkpointPrev} {
		path := filepath.Join(runDir, name, StateFile)
		raw, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var st checkpointState
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return st.History, nil
	}
	if _, err := os.Stat(filepath.Join(runDir, RunInfoFile)); err != nil {
		return nil, fmt.Errorf("%w (is %s a run directory?)", err, runDir)
	}
	return nil, nil
}

// tidyCheckpoint settles what a kill between Save's two renames or before
// its last removal leaves, and appends what it did to done: a
// checkpoint.prev beside a complete checkpoint is superseded and removed (a
// finished run never saves again, so nothing else would); one without is the
// only checkpoint and becomes checkpoint/ again, so that the next Save,
// which starts by removing checkpoint.prev, cannot leave the run with none.
func tidyCheckpoint(runDir string, done []string) ([]string, error) {
	cur := filepath.Join(runDir, CheckpointDir)
	prev := filepath.Join(runDir, checkpointPrev)
	switch {
	case !fileExists(prev):
		return done, nil
	case fileExists(filepath.Join(cur, StateFile)):
		if err := os.RemoveAll(prev); err != nil {
			return done, err
		}
		return append(done, checkpointPrev+"/ (superseded by "+CheckpointDir+"/)"), nil
	case fileExists(filepath.Join(prev, StateFile)) && !fileExists(cur):
		if err := os.Rename(prev, cur); err != nil {
			return done, err
		}
		return append(done, checkpointPrev+"/ (restored as "+CheckpointDir+"/)"), syncDir(runDir)
	}
	// A checkpoint/ without state.json is none of Save's writes (it renames
	// complete directories only): leave both for the user to look at.
	return done, nil
}
