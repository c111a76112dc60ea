package sweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/deepnmf/deepnmf/internal/atomicfile"
	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/train"
)

// Files and directories of a study directory.
const (
	PlanFile   = "plan.json"
	ConfigsDir = "configs"
	RunsDir    = "runs"
	LogsDir    = "logs"
	ScriptFile = "sweep.sbatch"
	JobsFile   = "slurm-jobs.json"
)

// planFormat is the version of plan.json.
const planFormat = 1

// Plan is STUDY_DIR/plan.json: one entry per training run.
type Plan struct {
	Format int `json:"format"`
	// Spec names where the plan came from: "paper", "balance" or the spec file.
	Spec   string `json:"spec"`
	Budget Budget `json:"budget"`
	// Axes are the spec keys that vary between runs, besides models and seeds.
	Axes    []string `json:"axes,omitempty"`
	Entries []Entry  `json:"entries"`

	// Dir is the study directory the plan was loaded from (absolute).
	Dir string `json:"-"`
}

// Entry is one run of a study. In plan.json RunDir and a generated
// Options.Config are relative to the study directory; LoadPlan makes them
// absolute, so that the plan works wherever the study directory is mounted.
type Entry struct {
	Index int `json:"index"`
	// Group names the runs that differ only in their seed.
	Group   string        `json:"group"`
	RunDir  string        `json:"run_dir"`
	Options train.Options `json:"options"`
}

// specKeysOwn are the keys a spec has besides the training options.
var specKeysOwn = []string{"models", "seeds"}

// optionKeys are the JSON names of train.Options that a spec may set;
// model, config and seed come from models and seeds, and name from models.
func optionKeys() []string {
	var keys []string
	for _, k := range train.OptionKeys() {
		switch k {
		case "model", "config", "seed", "name":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Spec is a parsed study spec: the models and seeds, and every other
// option either fixed (one value) or an axis (several values).
type Spec struct {
	Source string // file name, "paper" or "balance", for messages
	Models []string
	Seeds  []uint64
	Fixed  map[string]json.RawMessage
	Axes   map[string][]json.RawMessage
	// configs are network configs to write into STUDY_DIR/configs under the
	// model names that refer to them.
	configs map[string]*nn.Config
}

// ParseSpec reads a spec object. Relative config-file paths in models are
// taken relative to baseDir (the spec file's directory). Unknown keys are an
// error that names the key and the source.
func ParseSpec(data []byte, source, baseDir string) (*Spec, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %w", source, err)
	}
	if obj == nil {
		return nil, fmt.Errorf("%s: not a JSON object", source)
	}
	allowed := append(optionKeys(), specKeysOwn...)
	s := &Spec{Source: source, Fixed: map[string]json.RawMessage{}, Axes: map[string][]json.RawMessage{}, configs: map[string]*nn.Config{}}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			hint := ""
			switch k {
			case "model", "config":
				hint = ` (networks go in "models": preset names or config files)`
			case "seed":
				hint = ` (use "seeds": a list)`
			}
			return nil, fmt.Errorf("%s: unknown key %q%s; allowed: %s", source, k, hint, strings.Join(allowed, ", "))
		}
	}
	models, ok := obj["models"]
	if !ok {
		return nil, fmt.Errorf(`%s: "models" is missing (a list of preset names or network config files)`, source)
	}
	var names []string
	if err := json.Unmarshal(models, &names); err != nil {
		var one string
		if json.Unmarshal(models, &one) != nil {
			return nil, fmt.Errorf(`%s: "models" must be a list of strings (preset names or config files)`, source)
		}
		names = []string{one}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf(`%s: "models" is empty`, source)
	}
	for _, name := range names {
		if _, err := nn.Preset(name); err == nil {
			s.Models = append(s.Models, name)
			continue
		}
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(baseDir, path)
		}
		cfg, err := nn.LoadConfig(path)
		if err != nil {
			return nil, fmt.Errorf("%s: models: %q is neither a preset (%s) nor a readable network config: %w", source, name, strings.Join(nn.PresetNames(), ", "), err)
		}
		base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		if _, dup := s.configs[base]; dup || slices.Contains(nn.PresetNames(), base) {
			return nil, fmt.Errorf("%s: models: two networks would be named %q", source, base)
		}
		s.configs[base] = cfg
		s.Models = append(s.Models, base)
	}
	if seeds, ok := obj["seeds"]; ok {
		if err := json.Unmarshal(seeds, &s.Seeds); err != nil {
			var one uint64
			if json.Unmarshal(seeds, &one) != nil {
				return nil, fmt.Errorf(`%s: "seeds" must be a list of non-negative integers`, source)
			}
			s.Seeds = []uint64{one}
		}
	} else {
		s.Seeds = []uint64{train.DefaultOptions().Seed}
	}
	if len(s.Seeds) == 0 {
		return nil, fmt.Errorf(`%s: "seeds" is empty`, source)
	}
	if dup := firstDuplicate(s.Seeds); dup >= 0 {
		return nil, fmt.Errorf(`%s: "seeds" lists %d twice`, source, s.Seeds[dup])
	}
	for _, k := range keys {
		if k == "models" || k == "seeds" {
			continue
		}
		raw := obj[k]
		var list []json.RawMessage
		if len(bytes.TrimSpace(raw)) > 0 && bytes.TrimSpace(raw)[0] == '[' {
			if err := json.Unmarshal(raw, &list); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", source, k, err)
			}
			if len(list) == 0 {
				return nil, fmt.Errorf("%s: %s: an axis needs at least one value", source, k)
			}
			s.Axes[k] = list
		} else {
			s.Fixed[k] = raw
		}
	}
	return s, nil
}

func firstDuplicate(v []uint64) int {
	seen := map[uint64]bool{}
	for i, x := range v {
		if seen[x] {
			return i
		}
		seen[x] = true
	}
	return -1
}

// ReadSpec reads a spec file.
func ReadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSpec(data, path, filepath.Dir(path))
}

// baseOptions are the options every entry starts from: the paper's protocol,
// one thread per run (a study's parallelism is between runs, and the thread
// count is part of what makes a run reproducible, so the plan fixes it).
func baseOptions() train.Options {
	o := train.DefaultOptions()
	o.Threads = 1
	return o
}

// setOption sets one option from its JSON value.
func setOption(o *train.Options, key string, raw json.RawMessage) error {
	obj := []byte(`{"` + key + `":` + string(raw) + `}`)
	return json.Unmarshal(obj, o)
}

// Expand turns the spec into a plan for studyDir (entries in the order
// models × axis values × seeds, so that a group's runs are adjacent). It
// writes nothing; WritePlan does.
func (s *Spec) Expand() (*Plan, error) {
	axes := make([]string, 0, len(s.Axes))
	for k := range s.Axes {
		axes = append(axes, k)
	}
	sort.Strings(axes)
	base := baseOptions()
	for _, k := range sortedKeys(s.Fixed) {
		if err := setOption(&base, k, s.Fixed[k]); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", s.Source, k, err)
		}
	}
	p := &Plan{Format: planFormat, Spec: s.Source, Axes: axes}
	combos := [][]int{{}}
	for _, k := range axes {
		var next [][]int
		for _, c := range combos {
			for i := range s.Axes[k] {
				next = append(next, append(slices.Clone(c), i))
			}
		}
		combos = next
	}
	seenDirs := map[string]bool{}
	for _, model := range s.Models {
		for _, combo := range combos {
			o := base
			if _, ok := s.configs[model]; ok {
				o.Model, o.Config = "", filepath.Join(ConfigsDir, model+".json")
			} else {
				o.Model, o.Config = model, ""
			}
			suffix := ""
			for ai, k := range axes {
				raw := s.Axes[k][combo[ai]]
				if err := setOption(&o, k, raw); err != nil {
					return nil, fmt.Errorf("%s: %s: value %s: %w", s.Source, k, raw, err)
				}
				if k != "dataset" {
					suffix += "-" + k + "=" + axisValue(raw)
				}
			}
			group := model + "-" + o.Dataset + suffix
			for _, seed := range s.Seeds {
				o.Seed = seed
				if err := o.Validate(); err != nil {
					return nil, fmt.Errorf("%s: run %s seed %d: %w", s.Source, group, seed, err)
				}
				dir := filepath.Join(RunsDir, fmt.Sprintf("%s-%s-seed%d%s", model, o.Dataset, seed, suffix))
				if seenDirs[dir] {
					return nil, fmt.Errorf("%s: two runs would share the directory %s", s.Source, dir)
				}
				seenDirs[dir] = true
				p.Entries = append(p.Entries, Entry{Index: len(p.Entries), Group: group, RunDir: dir, Options: o})
			}
		}
	}
	p.Budget = budgetOf(p.Entries, len(s.Seeds))
	return p, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// axisValue is an axis value as it appears in run directory names: strings
// unquoted, anything but letters, digits, '.', '_' and '-' replaced by '_'.
func axisValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(bytes.TrimSpace(raw))
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
}

// WritePlan writes the plan and the generated network configs into
// studyDir, which must not hold a plan yet.
func (s *Spec) WritePlan(studyDir string) (*Plan, error) {
	p, err := s.Expand()
	if err != nil {
		return nil, err
	}
	planPath := filepath.Join(studyDir, PlanFile)
	if _, err := os.Stat(planPath); err == nil {
		return nil, fmt.Errorf("%s already exists: a study directory holds one plan (choose another --out, or delete the study)", planPath)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(studyDir, ConfigsDir), 0o755); err != nil {
		return nil, err
	}
	for _, name := range sortedKeys(s.configs) {
		if err := nn.WriteConfig(filepath.Join(studyDir, ConfigsDir, name+".json"), s.configs[name]); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{RunsDir, LogsDir} {
		if err := os.MkdirAll(filepath.Join(studyDir, d), 0o755); err != nil {
			return nil, err
		}
	}
	// Every entry's network must build on its dataset before anything runs.
	for _, e := range p.Entries {
		o := e.Options
		if o.Config != "" {
			o.Config = filepath.Join(studyDir, o.Config)
		}
		if _, err := o.NetworkConfig(); err != nil {
			return nil, fmt.Errorf("%s: entry %d (%s): %w", s.Source, e.Index, e.RunDir, err)
		}
	}
	raw, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(planPath, append(raw, '\n')); err != nil {
		return nil, err
	}
	return LoadPlan(studyDir)
}

// LoadPlan reads STUDY_DIR/plan.json and makes its paths absolute.
func LoadPlan(studyDir string) (*Plan, error) {
	abs, err := filepath.Abs(studyDir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(abs, PlanFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no study plan here (make one with deepnmf sweep plan)", studyDir)
		}
		return nil, err
	}
	var p Plan
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if p.Format != planFormat {
		return nil, fmt.Errorf("%s: format %d, this deepnmf reads format %d", path, p.Format, planFormat)
	}
	p.Dir = abs
	for i := range p.Entries {
		e := &p.Entries[i]
		if e.Index != i {
			return nil, fmt.Errorf("%s: entry %d has index %d", path, i, e.Index)
		}
		if !filepath.IsAbs(e.RunDir) {
			e.RunDir = filepath.Join(abs, e.RunDir)
		}
		if e.Options.Config != "" && !filepath.IsAbs(e.Options.Config) {
			e.Options.Config = filepath.Join(abs, e.Options.Config)
		}
	}
	return &p, nil
}

// Entry returns entry i or an error that names the plan's range.
func (p *Plan) Entry(i int) (Entry, error) {
	if i < 0 || i >= len(p.Entries) {
		return Entry{}, fmt.Errorf("%s: no entry %d (the plan has entries 0 to %d)", filepath.Join(p.Dir, PlanFile), i, len(p.Entries)-1)
	}
	return p.Entries[i], nil
}

// Name is the entry's run directory base name, for progress lines and tables.
func (e Entry) Name() string { return filepath.Base(e.RunDir) }
