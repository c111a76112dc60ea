package experiment

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/deepnmf/deepnmf/internal/atomicfile"
)

// ReportOptions says what goes into the report page.
type ReportOptions struct {
	Runs         []string // run directories
	Robustness   []string // output directories of deepnmf robustness
	GradCheck    string   // output directory of deepnmf gradcheck
	BackwardCost string   // output directory of deepnmf backward-cost
	Out          string
	// Dictionary opens the first NNMF layer of a run with a few input
	// patches for the reconstructions (nil patches: no reconstructions). A
	// run without NNMF layers or without readable weights is shown without.
	Dictionary func(r *Run) (d *Dictionary, patches []float32, n int, err error)
	Now        time.Time
}

// ModelSummary is one line of the accuracy table: the runs of one model.
type ModelSummary struct {
	Model            string
	Dataset          string
	Runs             int
	FinalMean        float64
	FinalStd         float64 // sample standard deviation; NaN for one run
	BestMean         float64
	BestStd          float64
	Params           int
	EpochsMin        int
	EpochsMax        int
	WallSecondsMean  float64
	Budget           string
	Reduced          bool
	RunLabels        []string
	DictionaryFigure string // relative path, or ""
	ReconFigure      string
	DictionaryNote   string
}

// Summarize groups runs by model (in order of first appearance) and computes
// the accuracy table.
func Summarize(runs []*Run) ([]ModelSummary, error) {
	var order []string
	groups := map[string][]*Run{}
	for _, r := range runs {
		key := r.Model + "\x00" + r.Options.Dataset
		if groups[key] == nil {
			order = append(order, key)
		}
		groups[key] = append(groups[key], r)
	}
	var out []ModelSummary
	for _, key := range order {
		g := groups[key]
		s := ModelSummary{Model: g[0].Model, Dataset: g[0].Options.Dataset, Runs: len(g), EpochsMin: math.MaxInt}
		var finals, bests []float64
		for _, r := range g {
			finals = append(finals, r.Final().TestAcc)
			bests = append(bests, r.Best().TestAcc)
			s.Params = r.Final().Params
			s.EpochsMin, s.EpochsMax = min(s.EpochsMin, len(r.Epochs)), max(s.EpochsMax, len(r.Epochs))
			s.WallSecondsMean += r.WallSeconds() / float64(len(g))
			s.RunLabels = append(s.RunLabels, r.Label)
			b, err := r.RunBudget()
			if err != nil {
				return nil, err
			}
			s.Reduced = s.Reduced || b.Reduced()
		}
		s.FinalMean, s.FinalStd = meanStd(finals)
		s.BestMean, s.BestStd = meanStd(bests)
		var err error
		if s.Budget, err = BudgetLabel(g); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// meanStd is the mean and the sample standard deviation (n−1), NaN for n = 1.
func meanStd(v []float64) (mean, std float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1))
}

// pm formats mean ± std with two decimals ("83.12 ± 0.15", or "83.12" for one run).
func pm(mean, std float64) string {
	if math.IsNaN(std) {
		return fmt.Sprintf("%.2f", mean)
	}
	return fmt.Sprintf("%.2f ± %.2f", mean, std)
}

func duration(s float64) string {
	d := time.Duration(s * float64(time.Second)).Round(time.Second)
	return d.String()
}

type reportFigure struct {
	Src, Alt, Caption string
}

type robustnessSection struct {
	Dir      string
	Note     string
	Figures  []reportFigure
	Header   []string // η columns
	Rows     [][]string
	WallTime string
}

type reportPage struct {
	Generated  string
	Summaries  []ModelSummary
	Runs       []*Run
	AnyReduced bool
	Curves     *reportFigure
	Robustness []robustnessSection
	Grad       []reportFigure
	GradRows   []GradRow
	GradT      int
	Cost       *reportFigure
	CostRows   []CostRow
}

// reportEtas are the η columns of the robustness tables.
var reportEtas = []float64{0, 0.25, 0.5, 0.75, 1}

// WriteReport writes OUT/index.html and its images (copied or drawn into
// OUT) and returns the files written.
func WriteReport(o ReportOptions) ([]string, error) {
	if len(o.Runs) == 0 {
		return nil, fmt.Errorf("report: give at least one run directory")
	}
	if err := ensureDir(o.Out); err != nil {
		return nil, err
	}
	var runs []*Run
	for _, dir := range o.Runs {
		r, err := LoadRun(dir)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		runs = append(runs, r)
	}
	summaries, err := Summarize(runs)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	page := reportPage{Generated: o.Now.UTC().Format("2006-01-02 15:04 UTC"), Summaries: summaries, Runs: runs}
	var files []string
	for _, s := range summaries {
		page.AnyReduced = page.AnyReduced || s.Reduced
	}
	f, err := PlotCurves(runs, o.Out)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	files = append(files, f...)
	page.Curves = &reportFigure{Src: "curves.png", Alt: "training curves", Caption: "Test accuracy, training loss per image and learning rates against the epoch, one line per run."}

	// The dictionary of each model: its first run that has one.
	for i := range page.Summaries {
		s := &page.Summaries[i]
		if o.Dictionary == nil {
			break
		}
		for _, r := range runs {
			if r.Model != s.Model || r.Options.Dataset != s.Dataset {
				continue
			}
			d, patches, n, err := o.Dictionary(r)
			if err != nil {
				s.DictionaryNote = err.Error()
				break
			}
			sub := fmt.Sprintf("model-%d", i+1)
			dir := filepath.Join(o.Out, sub)
			f, err := PlotDictionary(d, dir)
			if err != nil {
				return nil, fmt.Errorf("report: %w", err)
			}
			files = append(files, f...)
			s.DictionaryFigure = sub + "/dictionary.png"
			s.DictionaryNote = "from run " + r.Label
			if n > 0 {
				f, err := PlotReconstructions(d, patches, n, dir)
				if err != nil {
					return nil, fmt.Errorf("report: %w", err)
				}
				files = append(files, f...)
				s.ReconFigure = sub + "/reconstructions.png"
			}
			break
		}
	}

	for i, dir := range o.Robustness {
		res, err := ReadRobustness(dir)
		if err != nil {
			return nil, fmt.Errorf("report: --robustness: %w", err)
		}
		sub := fmt.Sprintf("robustness-%d", i+1)
		sec := robustnessSection{Dir: dir, WallTime: duration(res.WallSeconds)}
		if res.LimitTest > 0 {
			sec.Note = fmt.Sprintf("reduced: first %s test images only", groupDigits(res.LimitTest))
		}
		sec.Note = strings.TrimPrefix(strings.Join([]string{sec.Note, fmt.Sprintf("seed %d", res.Seed)}, "; "), "; ")
		if res.PicturePairs != "" {
			sec.Note += "; picture noise pairs in " + res.PicturePairs + " order"
		}
		copied, err := copyFigures(dir, filepath.Join(o.Out, sub), "robustness_")
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		files = append(files, copied...)
		// In the order of the official scripts (and of --noise's default).
		for _, n := range Noises {
			base := "robustness_" + n.String() + ".png"
			for _, c := range copied {
				if filepath.Base(c) == base {
					sec.Figures = append(sec.Figures, reportFigure{Src: sub + "/" + base, Alt: n.String() + " noise", Caption: n.String()})
				}
			}
		}
		sec.Header, sec.Rows = robustnessTable(res.Rows)
		page.Robustness = append(page.Robustness, sec)
	}

	if o.GradCheck != "" {
		rows, err := ReadGradStudy(o.GradCheck)
		if err != nil {
			return nil, fmt.Errorf("report: --gradcheck: %w", err)
		}
		copied, err := copyFigures(o.GradCheck, filepath.Join(o.Out, "gradcheck"), "gradcheck_")
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		files = append(files, copied...)
		for _, c := range copied {
			if strings.HasSuffix(c, ".png") {
				base := filepath.Base(c)
				name := strings.TrimSuffix(strings.TrimPrefix(base, "gradcheck_"), ".png")
				page.Grad = append(page.Grad, reportFigure{Src: "gradcheck/" + base, Alt: "gradient study, " + name + " case", Caption: name + " case"})
			}
		}
		page.GradT = 20
		have := map[int]bool{}
		for _, r := range rows {
			have[r.Iterations] = true
		}
		if !have[20] && len(rows) > 0 {
			page.GradT = rows[len(rows)-1].Iterations
		}
		for _, r := range rows {
			if r.Iterations == page.GradT {
				page.GradRows = append(page.GradRows, r)
			}
		}
	}

	if o.BackwardCost != "" {
		copied, err := copyFigures(o.BackwardCost, filepath.Join(o.Out, "backward-cost"), "backward_cost")
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		files = append(files, copied...)
		page.Cost = &reportFigure{Src: "backward-cost/backward_cost.png", Alt: "backward cost", Caption: "Time per training step and peak memory (one process per configuration)."}
		var rows []CostRow
		if err := readJSONFile(filepath.Join(o.BackwardCost, "backward_cost.json"), &rows); err != nil {
			return nil, fmt.Errorf("report: --backward-cost: %w", err)
		}
		page.CostRows = rows
	}

	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, page); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	index := filepath.Join(o.Out, "index.html")
	if err := atomicfile.WriteFile(index, buf.Bytes()); err != nil {
		return nil, err
	}
	return append([]string{index}, files...), nil
}

// robustnessTable is accuracy per run and noise at the η of reportEtas
// (the nearest level of the noise's grid; picture noise stops at 0.5).
func robustnessTable(rows []RobustnessRow) ([]string, [][]string) {
	header := []string{"run", "model", "noise"}
	for _, e := range reportEtas {
		header = append(header, fmt.Sprintf("η = %g", e))
	}
	type key struct{ run, noise string }
	var order []key
	byKey := map[key][]RobustnessRow{}
	for _, r := range rows {
		k := key{r.Run, r.Noise}
		if byKey[k] == nil {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], r)
	}
	var out [][]string
	for _, k := range order {
		rs := byKey[k]
		line := []string{filepath.Base(k.run), rs[0].Model, k.noise}
		for _, e := range reportEtas {
			cell := "—"
			for _, r := range rs {
				if math.Abs(r.Eta-e) < 1e-6 {
					cell = fmt.Sprintf("%.2f", r.Accuracy)
				}
			}
			line = append(line, cell)
		}
		out = append(out, line)
	}
	return header, out
}

// copyFigures copies dir's files named prefix*.png and prefix*.svg into dst.
func copyFigures(dir, dst, prefix string) ([]string, error) {
	var out []string
	for _, ext := range []string{"png", "svg"} {
		matches, err := filepath.Glob(filepath.Join(dir, prefix+"*."+ext))
		if err != nil {
			return nil, err
		}
		sort.Strings(matches)
		for _, m := range matches {
			raw, err := os.ReadFile(m)
			if err != nil {
				return nil, err
			}
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return nil, err
			}
			to := filepath.Join(dst, filepath.Base(m))
			if err := atomicfile.WriteFile(to, raw); err != nil {
				return nil, err
			}
			out = append(out, to)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no %s*.png figures", dir, prefix)
	}
	return out, nil
}
