package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/deepnmf/deepnmf/data"
)

// RobustnessRow is the accuracy of one model at one noise level.
type RobustnessRow struct {
	Run      string  `json:"run"`   // run directory or weights file
	Model    string  `json:"model"` // preset or config name
	Dataset  string  `json:"dataset"`
	Noise    string  `json:"noise"` // as the --noise flag names it
	Level    int     `json:"level"` // 0…20
	Eta      float64 `json:"eta"`   // the float32 η, widened exactly
	Correct  int     `json:"correct"`
	N        int     `json:"n"`
	Accuracy float64 `json:"accuracy"` // percent
}

// RobustnessResult is robustness.json: the rows and how they were made.
type RobustnessResult struct {
	Seed      uint64 `json:"seed"`
	LimitTest int    `json:"limit_test"` // 0: the whole test split
	// PicturePairs is "file" (test image i with training image i) or
	// "shuffled" (PicturePairs: a fixed permutation from seed 0).
	PicturePairs string          `json:"picture_pairs"`
	WallSeconds  float64         `json:"wall_s"`
	Rows         []RobustnessRow `json:"rows"`
}

// Evaluator evaluates one model on its test split in file order, calling
// corrupt (when not nil) on each batch of full stored images before the
// evaluation crop, and progress with each batch's image count.
type Evaluator interface {
	Evaluate(ctx context.Context, corrupt func(batch int, full []float32, n int) error, progress func(images int)) (correct, n int, err error)
}

// RobustnessModel is one model to corrupt the test set of.
type RobustnessModel struct {
	Run, Model string
	Dataset    *data.Dataset
	BatchSize  int
	Eval       Evaluator
	Pairs      []int // picture noise's pairing (nil: file order), see Corruptor.Pairs
}

// Robustness evaluates every model at every level of every noise. progress
// (if not nil) gets the number of images evaluated since its last call.
func Robustness(ctx context.Context, models []RobustnessModel, noises []Noise, seed uint64, progress func(images int)) ([]RobustnessRow, error) {
	var rows []RobustnessRow
	for _, m := range models {
		L := m.Dataset.Test.ImageSize()
		for _, n := range noises {
			for level, eta := range Levels(n) {
				c, err := NewCorruptor(n, level, seed, L, m.BatchSize, &m.Dataset.Train)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", m.Run, err)
				}
				c.Pairs = m.Pairs
				correct, total, err := m.Eval.Evaluate(ctx, c.Corrupt, func(images int) {
					if progress != nil {
						progress(images)
					}
				})
				if err != nil {
					return nil, fmt.Errorf("%s, %s noise at η=%g: %w", m.Run, n, eta, err)
				}
				rows = append(rows, RobustnessRow{Run: m.Run, Model: m.Model, Dataset: m.Dataset.Name, Noise: n.String(),
					Level: level, Eta: float64(eta), Correct: correct, N: total, Accuracy: 100 * float64(correct) / float64(total)})
			}
		}
	}
	return rows, nil
}

// WriteRobustness writes robustness.csv, robustness.json and per noise
// robustness_<noise>.png/.svg (accuracy against η, one line per run) into dir.
func WriteRobustness(dir string, res RobustnessResult) ([]string, error) {
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	recs := [][]string{{"run", "model", "dataset", "noise", "eta", "correct", "n", "accuracy"}}
	for _, r := range res.Rows {
		recs = append(recs, []string{r.Run, r.Model, r.Dataset, r.Noise, strconv.FormatFloat(r.Eta, 'g', -1, 32),
			strconv.Itoa(r.Correct), strconv.Itoa(r.N), strconv.FormatFloat(r.Accuracy, 'f', 2, 64)})
	}
	files := []string{filepath.Join(dir, "robustness.csv"), filepath.Join(dir, "robustness.json")}
	if err := writeCSV(files[0], recs); err != nil {
		return nil, err
	}
	if err := writeJSON(files[1], res); err != nil {
		return nil, err
	}
	var noises []string
	seen := map[string]bool{}
	for _, r := range res.Rows {
		if !seen[r.Noise] {
			seen[r.Noise] = true
			noises = append(noises, r.Noise)
		}
	}
	for _, noise := range noises {
		var series []Series
		idx := map[string]int{}
		for _, r := range res.Rows {
			if r.Noise != noise {
				continue
			}
			i, ok := idx[r.Run]
			if !ok {
				i = len(series)
				idx[r.Run] = i
				series = append(series, Series{Name: fmt.Sprintf("%s (%s)", filepath.Base(filepath.Clean(r.Run)), r.Model)})
			}
			series[i].X, series[i].Y = append(series[i].X, r.Eta), append(series[i].Y, r.Accuracy)
		}
		title := noise + " noise"
		if noise == Picture.String() && res.PicturePairs != "" {
			title += ", " + res.PicturePairs + "-order pairs"
		}
		if res.LimitTest > 0 {
			title += fmt.Sprintf(" (first %d test images only)", res.LimitTest)
		}
		p := lineChart(title, "η", "test accuracy (%)", series, false)
		// Accuracy falls with η, which leaves the bottom-left corner empty.
		p.Legend.Top, p.Legend.Left = false, true
		p.Y.Min = 0
		f, err := saveFigure([][]*plot.Plot{{p}}, 16*vg.Centimeter, 11*vg.Centimeter, dir, "robustness_"+noise)
		if err != nil {
			return nil, err
		}
		files = append(files, f...)
	}
	return files, nil
}

// ReadRobustness reads the robustness.json of a robustness output directory.
func ReadRobustness(dir string) (RobustnessResult, error) {
	path := filepath.Join(dir, "robustness.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return RobustnessResult{}, err
	}
	var res RobustnessResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return RobustnessResult{}, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}

// RobustnessOptions is the whole robustness study of one or more models.
type RobustnessOptions struct {
	Sources   []Source
	Noises    []Noise
	Seed      uint64
	LimitTest int    // first N test images (0 = all)
	Threads   int    // worker goroutines of each network
	DataDir   string // data root ("" = the run's recorded one, else data.ResolveDir's default)
	// ShuffledPairs pairs picture noise's test images with a fixed shuffled
	// order of the training images (PicturePairs) instead of file order.
	ShuffledPairs bool
	// Start, if not nil, is called once with the number of images the study
	// will evaluate; Progress with the images evaluated since its last call.
	Start    func(totalImages int)
	Progress func(images int)
}

// RunRobustness opens every model, evaluates it at every level of every
// noise and returns the result (without writing it).
func RunRobustness(ctx context.Context, o RobustnessOptions) (RobustnessResult, error) {
	start := time.Now()
	if len(o.Sources) == 0 || len(o.Noises) == 0 {
		return RobustnessResult{}, fmt.Errorf("robustness: need at least one model and one noise")
	}
	if o.LimitTest < 0 || o.Threads < 1 {
		return RobustnessResult{}, fmt.Errorf("robustness: --limit-test must not be negative and --threads at least 1 (got %d, %d)", o.LimitTest, o.Threads)
	}
	var opened []*Opened
	defer func() {
		for _, m := range opened {
			m.Close()
		}
	}()
	loaded := datasets{}
	var models []RobustnessModel
	total := 0
	for _, src := range o.Sources {
		m, err := Open(src, o.Threads)
		if err != nil {
			return RobustnessResult{}, fmt.Errorf("robustness: %w", err)
		}
		opened = append(opened, m)
		ds, err := loaded.load(m, o.DataDir)
		if err != nil {
			return RobustnessResult{}, fmt.Errorf("robustness: %w", err)
		}
		n := ds.Test.N
		if o.LimitTest > 0 && o.LimitTest < n {
			n = o.LimitTest
		}
		total += n * NumLevels * len(o.Noises)
		rm := RobustnessModel{Run: src.Label(), Model: m.Name, Dataset: ds, BatchSize: m.BatchSize, Eval: m.Evaluator(ds, o.LimitTest)}
		if o.ShuffledPairs {
			rm.Pairs = PicturePairs(ds.Train.N)
		}
		models = append(models, rm)
	}
	if o.Start != nil {
		o.Start(total)
	}
	rows, err := Robustness(ctx, models, o.Noises, o.Seed, o.Progress)
	if err != nil {
		return RobustnessResult{}, fmt.Errorf("robustness: %w", err)
	}
	pairs := "file"
	if o.ShuffledPairs {
		pairs = "shuffled"
	}
	return RobustnessResult{Seed: o.Seed, LimitTest: o.LimitTest, PicturePairs: pairs, WallSeconds: time.Since(start).Seconds(), Rows: rows}, nil
}
