package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// CostOptions sets up the backward cost measurement (spec §4.2): one
// `deepnmf bench --mode train` child process per (method, T), so that each
// row's peak memory is that configuration's alone.
type CostOptions struct {
	Exe        string   // the deepnmf binary
	Methods    []string // backward methods
	Iterations []int
	Model      string
	Batch      int
	Steps      int
	Warmup     int
	Threads    int
}

// CostRow is one configuration's measurement.
type CostRow struct {
	Method      string  `json:"method"`
	Iterations  int     `json:"iterations"`
	StepSeconds float64 `json:"step_s_median"` // median time of one training step
	ImagesPerS  float64 `json:"images_per_s_median"`
	// PeakRSSBytes is the child process's peak resident set (getrusage
	// RUSAGE_CHILDREN-style maxrss of that process alone).
	PeakRSSBytes int64  `json:"peak_rss_bytes"`
	Model        string `json:"model"`
	Batch        int    `json:"batch"`
	Threads      int    `json:"threads"`
	Steps        int    `json:"steps"`
}

// benchJSON is the part of `deepnmf bench --json` the measurement reads.
type benchJSON struct {
	Model      string `json:"model"`
	Iterations int    `json:"iterations"`
	Backward   string `json:"backward"`
	Train      *struct {
		ImagesPerSMedian float64 `json:"images_per_s_median"`
		StepSMedian      float64 `json:"step_s_median"`
	} `json:"train"`
}

// CostArgs are the bench arguments of one row.
func (o CostOptions) CostArgs(method string, iterations int) []string {
	return []string{"bench", "--model", o.Model, "--backward", method, "--iterations", strconv.Itoa(iterations),
		"--mode", "train", "--batch-size", strconv.Itoa(o.Batch), "--steps", strconv.Itoa(o.Steps),
		"--warmup", strconv.Itoa(o.Warmup), "--threads", strconv.Itoa(o.Threads), "--json"}
}

// BackwardCost runs the rows one after another (never two at once: they
// would share the cores and the memory figure would be the machine's).
// done, if not nil, is called after each row.
func BackwardCost(ctx context.Context, o CostOptions, done func(CostRow)) ([]CostRow, error) {
	if o.Exe == "" || len(o.Methods) == 0 || len(o.Iterations) == 0 {
		return nil, fmt.Errorf("backward cost: need the binary, at least one method and one T")
	}
	var rows []CostRow
	for _, t := range o.Iterations {
		for _, m := range o.Methods {
			args := o.CostArgs(m, t)
			cmd := exec.CommandContext(ctx, o.Exe, args...)
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Run(); err != nil {
				return nil, fmt.Errorf("backward cost: %s %s: %w\n%s", filepath.Base(o.Exe), strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
			}
			var b benchJSON
			if err := json.Unmarshal(out.Bytes(), &b); err != nil || b.Train == nil {
				return nil, fmt.Errorf("backward cost: %s %s printed no bench result (%v): %q", filepath.Base(o.Exe), strings.Join(args, " "), err, out.String())
			}
			row := CostRow{Method: m, Iterations: t, StepSeconds: b.Train.StepSMedian, ImagesPerS: b.Train.ImagesPerSMedian,
				Model: o.Model, Batch: o.Batch, Threads: o.Threads, Steps: o.Steps}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				row.PeakRSSBytes = int64(ru.Maxrss) * 1024 // Linux reports KiB
			}
			rows = append(rows, row)
			if done != nil {
				done(row)
			}
		}
	}
	return rows, nil
}

// WriteBackwardCost writes backward_cost.csv, backward_cost.json and
// backward_cost.png/.svg (time per step and peak memory against T, one line
// per method) into dir.
func WriteBackwardCost(dir string, rows []CostRow) ([]string, error) {
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	recs := [][]string{{"model", "method", "iterations", "batch", "threads", "steps", "step_s_median", "images_per_s_median", "peak_rss_bytes"}}
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for _, r := range rows {
		recs = append(recs, []string{r.Model, r.Method, strconv.Itoa(r.Iterations), strconv.Itoa(r.Batch), strconv.Itoa(r.Threads),
			strconv.Itoa(r.Steps), g(r.StepSeconds), g(r.ImagesPerS), strconv.FormatInt(r.PeakRSSBytes, 10)})
	}
	files := []string{filepath.Join(dir, "backward_cost.csv"), filepath.Join(dir, "backward_cost.json")}
	if err := writeCSV(files[0], recs); err != nil {
		return nil, err
	}
	if err := writeJSON(files[1], rows); err != nil {
		return nil, err
	}
	var tSeries, mSeries []Series
	idx := map[string]int{}
	for _, r := range rows {
		i, ok := idx[r.Method]
		if !ok {
			i = len(tSeries)
			idx[r.Method] = i
			tSeries = append(tSeries, Series{Name: r.Method})
			mSeries = append(mSeries, Series{Name: r.Method})
		}
		x := float64(r.Iterations)
		tSeries[i].X, tSeries[i].Y = append(tSeries[i].X, x), append(tSeries[i].Y, r.StepSeconds)
		mSeries[i].X, mSeries[i].Y = append(mSeries[i].X, x), append(mSeries[i].Y, float64(r.PeakRSSBytes)/(1<<20))
	}
	title := "training step"
	if len(rows) > 0 {
		title = fmt.Sprintf("%s, batch %d, %d threads", rows[0].Model, rows[0].Batch, rows[0].Threads)
	}
	grid := [][]*plot.Plot{{
		lineChart(title+": time per step", "NNMF iterations T", "seconds per training step", tSeries, false),
		lineChart(title+": peak memory", "NNMF iterations T", "peak RSS (MiB)", mSeries, false),
	}}
	f, err := saveFigure(grid, 30*vg.Centimeter, 11*vg.Centimeter, dir, "backward_cost")
	if err != nil {
		return nil, err
	}
	return append(files, f...), nil
}
