package sweep

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/deepnmf/deepnmf/internal/atomicfile"
	"github.com/deepnmf/deepnmf/train"
)

// PaperFigure is one bar of the paper's accuracy figure (spec §4.1):
// CIFAR-10 test accuracy in percent, mean over repeated runs, with the error
// bar read from the plot.
type PaperFigure struct {
	Accuracy float64 `json:"accuracy"`
	ErrorBar float64 `json:"error_bar"`
}

// PaperAccuracy holds the paper's figures for the four networks of its
// accuracy table (spec §4.1).
var PaperAccuracy = map[string]PaperFigure{
	"cnn":      {81.0, 0.05},
	"cnmf":     {81.5, 0.17},
	"cnn_1x1":  {82.8, 0.08},
	"cnmf_1x1": {83.7, 0.15},
}

// Stat is a mean with its sample standard deviation (n−1); Std is nil when
// there is only one value.
type Stat struct {
	Mean float64  `json:"mean"`
	Std  *float64 `json:"std"`
}

func statOf(v []float64) Stat {
	if len(v) == 0 {
		return Stat{Mean: math.NaN()}
	}
	var sum float64
	for _, x := range v {
		sum += x
	}
	s := Stat{Mean: sum / float64(len(v))}
	if len(v) > 1 {
		var ss float64
		for _, x := range v {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		sd := math.Sqrt(ss / float64(len(v)-1))
		s.Std = &sd
	}
	return s
}

// Row summarises one group of runs that differ only in their seed.
type Row struct {
	Group    string   `json:"group"`
	Model    string   `json:"model"`
	Dataset  string   `json:"dataset"`
	Runs     int      `json:"runs"`     // runs with at least one finished epoch
	Planned  int      `json:"planned"`  // runs in the group (plan entries or directories given)
	Finished int      `json:"finished"` // runs that wrote their final weights
	Seeds    []uint64 `json:"seeds"`
	Params   int      `json:"params"`
	// Accuracies are test accuracies in percent: after the last epoch, and
	// the best epoch's.
	FinalAcc Stat `json:"final_test_acc"`
	BestAcc  Stat `json:"best_test_acc"`
	Epochs   Stat `json:"epochs"`
	// WallSeconds is the training and test time per run (metrics.csv).
	WallSeconds Stat   `json:"wall_seconds"`
	Budget      string `json:"budget"`
	// Paper is the paper's figure for this network (CIFAR-10 only).
	Paper *PaperFigure `json:"paper,omitempty"`
}

// Table is a study's accuracy table.
type Table struct {
	Study  string `json:"study,omitempty"`
	Budget string `json:"budget"`
	Rows   []Row  `json:"rows"`
}

// runRef is one run directory and the group it belongs to.
type runRef struct {
	dir     string
	group   string
	budget  string
	options *train.Options // nil: read from run.json
}

// Collect summarises any list of run directories: runs whose options differ
// only in seed (and thread count or data directory, which do not change the
// experiment) form one row, in order of first appearance.
func Collect(runDirs []string) (Table, error) {
	type group struct {
		key  string
		name string
		opts []train.Options
		dirs []string
	}
	var groups []*group
	for _, dir := range runDirs {
		o, err := loadRunOptions(dir)
		if err != nil {
			return Table{}, err
		}
		k := o
		k.Seed, k.Threads, k.DataDir = 0, 0, ""
		raw, err := json.Marshal(k)
		if err != nil {
			return Table{}, err
		}
		var g *group
		for _, x := range groups {
			if x.key == string(raw) {
				g = x
			}
		}
		if g == nil {
			g = &group{key: string(raw), name: o.ModelName() + "-" + o.Dataset}
			groups = append(groups, g)
		}
		g.opts = append(g.opts, o)
		g.dirs = append(g.dirs, dir)
	}
	// Groups of the same network and data set are told apart by a number.
	count := map[string]int{}
	for _, g := range groups {
		count[g.name]++
		if n := count[g.name]; n > 1 {
			g.name += "#" + strconv.Itoa(n)
		}
	}
	var refs []runRef
	budgets := []string{}
	for _, g := range groups {
		entries := make([]Entry, len(g.opts))
		for i, o := range g.opts {
			entries[i] = Entry{Options: o}
		}
		b := budgetOf(entries, len(g.opts)).Label
		if !slices.Contains(budgets, b) {
			budgets = append(budgets, b)
		}
		for i, dir := range g.dirs {
			refs = append(refs, runRef{dir: dir, group: g.name, budget: b, options: &g.opts[i]})
		}
	}
	t, err := collect(refs)
	t.Budget = strings.Join(budgets, "; ")
	return t, err
}

// CollectStudy summarises a study directory by the groups of its plan.
func CollectStudy(studyDir string) (Table, error) {
	p, err := LoadPlan(studyDir)
	if err != nil {
		return Table{}, err
	}
	refs := make([]runRef, len(p.Entries))
	for i, e := range p.Entries {
		o := e.Options
		refs[i] = runRef{dir: e.RunDir, group: e.Group, budget: p.Budget.Label, options: &o}
	}
	t, err := collect(refs)
	t.Study, t.Budget = p.Dir, p.Budget.Label
	return t, err
}

func collect(refs []runRef) (Table, error) {
	var t Table
	index := map[string]int{}
	type acc struct{ final, best, epochs, wall []float64 }
	var accs []*acc
	for _, r := range refs {
		i, ok := index[r.group]
		if !ok {
			i = len(t.Rows)
			index[r.group] = i
			o := *r.options
			row := Row{Group: r.group, Model: o.ModelName(), Dataset: o.Dataset, Budget: r.budget}
			if f, ok := PaperAccuracy[row.Model]; ok && o.Dataset == "cifar10" && o.Model == row.Model && o.Config == "" && o.Network == nil {
				row.Paper = &f
			}
			t.Rows = append(t.Rows, row)
			accs = append(accs, &acc{})
		}
		row, a := &t.Rows[i], accs[i]
		row.Planned++
		ms, err := readMetrics(r.dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue // not started, or killed before its first epoch
		}
		if err != nil {
			return t, fmt.Errorf("%s: %w", r.dir, err)
		}
		if len(ms) == 0 {
			continue
		}
		row.Runs++
		row.Seeds = append(row.Seeds, r.options.Seed)
		if _, err := os.Stat(filepath.Join(r.dir, train.FinalFile)); err == nil {
			row.Finished++
		}
		last := ms[len(ms)-1]
		best, wall := 0.0, 0.0
		for _, m := range ms {
			best = max(best, m.TestAcc())
			wall += m.TrainSeconds + m.TestSeconds
		}
		row.Params = last.Params
		a.final = append(a.final, last.TestAcc())
		a.best = append(a.best, best)
		a.epochs = append(a.epochs, float64(len(ms)))
		a.wall = append(a.wall, wall)
	}
	for i := range t.Rows {
		a := accs[i]
		t.Rows[i].FinalAcc, t.Rows[i].BestAcc = statOf(a.final), statOf(a.best)
		t.Rows[i].Epochs, t.Rows[i].WallSeconds = statOf(a.epochs), statOf(a.wall)
	}
	return t, nil
}

// MarshalJSON writes a missing mean (no run has finished an epoch) as null.
func (s Stat) MarshalJSON() ([]byte, error) {
	type plain struct {
		Mean *float64 `json:"mean"`
		Std  *float64 `json:"std"`
	}
	p := plain{Std: s.Std}
	if !math.IsNaN(s.Mean) {
		m := s.Mean
		p.Mean = &m
	}
	return json.Marshal(p)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Stat) UnmarshalJSON(b []byte) error {
	var p struct {
		Mean *float64 `json:"mean"`
		Std  *float64 `json:"std"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	s.Mean, s.Std = math.NaN(), p.Std
	if p.Mean != nil {
		s.Mean = *p.Mean
	}
	return nil
}

func (s Stat) format(prec int) string {
	if math.IsNaN(s.Mean) {
		return "–"
	}
	if s.Std == nil {
		return strconv.FormatFloat(s.Mean, 'f', prec, 64)
	}
	return strconv.FormatFloat(s.Mean, 'f', prec, 64) + " ± " + strconv.FormatFloat(*s.Std, 'f', prec, 64)
}

func csvFloat(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func csvStd(s Stat) string {
	if s.Std == nil {
		return ""
	}
	return csvFloat(*s.Std)
}

// WriteCSV writes one line per row; the paper's columns are empty for
// networks the paper does not report.
func (t Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"group", "model", "dataset", "source", "runs", "planned", "finished", "seeds", "params",
		"final_test_acc_mean", "final_test_acc_std", "best_test_acc_mean", "best_test_acc_std",
		"epochs_mean", "epochs_std", "wall_seconds_mean", "wall_seconds_std", "budget",
		"paper_test_acc", "paper_error_bar"})
	for _, r := range t.Rows {
		seeds := make([]string, len(r.Seeds))
		for i, s := range r.Seeds {
			seeds[i] = strconv.FormatUint(s, 10)
		}
		paperAcc, paperErr := "", ""
		if r.Paper != nil {
			paperAcc, paperErr = csvFloat(r.Paper.Accuracy), csvFloat(r.Paper.ErrorBar)
		}
		cw.Write([]string{r.Group, r.Model, r.Dataset, "this study", strconv.Itoa(r.Runs), strconv.Itoa(r.Planned), strconv.Itoa(r.Finished),
			strings.Join(seeds, " "), strconv.Itoa(r.Params),
			csvFloat(r.FinalAcc.Mean), csvStd(r.FinalAcc), csvFloat(r.BestAcc.Mean), csvStd(r.BestAcc),
			csvFloat(r.Epochs.Mean), csvStd(r.Epochs), csvFloat(r.WallSeconds.Mean), csvStd(r.WallSeconds), r.Budget,
			paperAcc, paperErr})
	}
	cw.Flush()
	return cw.Error()
}

// WriteMarkdown writes the table for a report: this study's numbers and,
// for the networks of the paper's table, the paper's figure beside them.
func (t Table) WriteMarkdown(w io.Writer) error {
	paper := false
	for _, r := range t.Rows {
		paper = paper || r.Paper != nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "This study: %s. Test accuracy in %%, mean ± sample standard deviation over seeds.\n", t.Budget)
	if paper {
		b.WriteString("Paper: CIFAR-10 test accuracy of the published figure (spec §4.1; mean over repeated runs, error bar read from the plot, 500-epoch protocol).\n")
	}
	b.WriteString("\n")
	if paper {
		b.WriteString("| model | params | paper: test acc % | this study: final test acc % | this study: best test acc % | epochs | wall time per run | runs (finished/planned) |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	} else {
		b.WriteString("| group | params | final test acc % | best test acc % | epochs | wall time per run | runs (finished/planned) |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	}
	models := map[string]int{}
	for _, r := range t.Rows {
		models[r.Model]++
	}
	for _, r := range t.Rows {
		params := "–"
		if r.Params > 0 {
			params = groupDigits(r.Params)
		}
		name := r.Group
		if paper && models[r.Model] == 1 {
			name = r.Model // the paper's table names networks
		}
		cells := []string{name, params}
		if paper {
			p := "–"
			if r.Paper != nil {
				p = fmt.Sprintf("%.1f ± %.2f", r.Paper.Accuracy, r.Paper.ErrorBar)
			}
			cells = append(cells, p)
		}
		cells = append(cells, r.FinalAcc.format(2), r.BestAcc.format(2), r.Epochs.format(1), formatDuration(r.WallSeconds),
			fmt.Sprintf("%d/%d", r.Finished, r.Planned))
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func formatDuration(s Stat) string {
	if math.IsNaN(s.Mean) {
		return "–"
	}
	d := func(sec float64) string {
		switch {
		case sec >= 3600:
			return fmt.Sprintf("%.1f h", sec/3600)
		case sec >= 60:
			return fmt.Sprintf("%.1f min", sec/60)
		}
		return fmt.Sprintf("%.1f s", sec)
	}
	if s.Std == nil {
		return d(s.Mean)
	}
	return d(s.Mean) + " ± " + d(*s.Std)
}

// Files written by Table.WriteFiles.
const (
	TableCSV      = "table.csv"
	TableJSON     = "table.json"
	TableMarkdown = "table.md"
)

// WriteFiles writes table.csv, table.json and table.md into dir, atomically.
func (t Table) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var csvB, mdB strings.Builder
	if err := t.WriteCSV(&csvB); err != nil {
		return err
	}
	if err := t.WriteMarkdown(&mdB); err != nil {
		return err
	}
	js, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{TableCSV: []byte(csvB.String()), TableJSON: append(js, '\n'), TableMarkdown: []byte(mdB.String())} {
		if err := atomicfile.WriteFile(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	return nil
}
