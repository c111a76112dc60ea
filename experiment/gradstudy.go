package experiment

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/deepnmf/deepnmf/internal/atomicfile"
)

// GradStudyOptions sets up the gradient-accuracy study (spec §1.7).
type GradStudyOptions struct {
	Iterations []int  // T values (default DefaultGradIterations)
	Seed       uint64 // weights, data of the dense case and upstream gradients
	// The dense case: Rows random rows of In values factorised into Out.
	DenseRows, DenseIn, DenseOut int
	// The convolutional case: ConvN images of ConvC×ConvSize×ConvSize (NCHW,
	// values in [0,1]) through a layer of ConvOut channels with a
	// ConvKernel×ConvKernel kernel at stride ConvStride. No images: no conv case.
	ConvImages                                     []float32
	ConvN, ConvC, ConvSize, ConvKernel, ConvStride int
	ConvOut                                        int
}

// DefaultGradStudy is the study as the issue states it: a dense layer of the
// size of cnmf_1x1's first NNMF layer (75 → 32) on 1,000 random rows, and a
// 3 → 10 channel layer with a 6×6 kernel at stride 2 on real 32×32 images.
func DefaultGradStudy() GradStudyOptions {
	return GradStudyOptions{
		Iterations: DefaultGradIterations, Seed: 21,
		DenseRows: 1000, DenseIn: 75, DenseOut: 32,
		ConvC: 3, ConvSize: 32, ConvKernel: 6, ConvStride: 2, ConvOut: 10,
	}
}

// GradStudy runs the study: every method of GradMethods against unrolled at
// every T, on the dense case and (with images) the convolutional case.
// progress, if not nil, is called after each case and T.
func GradStudy(o GradStudyOptions, progress func()) ([]GradRow, error) {
	if len(o.Iterations) == 0 {
		o.Iterations = DefaultGradIterations
	}
	if o.DenseRows < 1 || o.DenseIn < 1 || o.DenseOut < 1 {
		return nil, fmt.Errorf("gradient study: the dense case needs at least one row, input and output (got %d, %d, %d)", o.DenseRows, o.DenseIn, o.DenseOut)
	}
	cases := []GradCase{DenseCase(o.Seed, o.DenseRows, o.DenseIn, o.DenseOut)}
	if len(o.ConvImages) > 0 {
		c, err := ConvCase(o.Seed, o.ConvImages, o.ConvN, o.ConvC, o.ConvSize, o.ConvSize, o.ConvKernel, o.ConvStride, o.ConvOut)
		if err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	var rows []GradRow
	for _, c := range cases {
		for _, t := range o.Iterations {
			r, err := CompareGradients(c, GradMethods, []int{t})
			if err != nil {
				return nil, err
			}
			rows = append(rows, r...)
			if progress != nil {
				progress()
			}
		}
	}
	return rows, nil
}

// GradStudySteps is the number of progress calls GradStudy makes.
func GradStudySteps(o GradStudyOptions) int {
	n := len(o.Iterations)
	if n == 0 {
		n = len(DefaultGradIterations)
	}
	if len(o.ConvImages) > 0 {
		return 2 * n
	}
	return n
}

// gradCSVHeader is the header of gradcheck.csv.
var gradCSVHeader = []string{"case", "method", "iterations", "cos_x", "mae_x", "rel_x", "cos_w", "mae_w", "rel_w"}

// WriteGradStudy writes gradcheck.csv, gradcheck.json and per case a figure
// gradcheck_<case>.png/.svg (cosine similarity and mean absolute error of
// ∂L/∂x and ∂L/∂V against T, one line per method) into dir, and returns the
// files written.
func WriteGradStudy(dir string, rows []GradRow) ([]string, error) {
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	recs := [][]string{gradCSVHeader}
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 9, 64) }
	for _, r := range rows {
		recs = append(recs, []string{r.Case, r.Method, strconv.Itoa(r.Iterations), g(r.CosX), g(r.MAEX), g(r.RelX), g(r.CosW), g(r.MAEW), g(r.RelW)})
	}
	files := []string{filepath.Join(dir, "gradcheck.csv"), filepath.Join(dir, "gradcheck.json")}
	if err := writeCSV(files[0], recs); err != nil {
		return nil, err
	}
	if err := writeJSON(files[1], rows); err != nil {
		return nil, err
	}
	var caseNames []string
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r.Case] {
			seen[r.Case] = true
			caseNames = append(caseNames, r.Case)
		}
	}
	for _, c := range caseNames {
		series := func(val func(GradRow) float64) []Series {
			var out []Series
			idx := map[string]int{}
			for _, r := range rows {
				if r.Case != c {
					continue
				}
				i, ok := idx[r.Method]
				if !ok {
					i = len(out)
					idx[r.Method] = i
					out = append(out, Series{Name: r.Method})
				}
				out[i].X = append(out[i].X, float64(r.Iterations))
				out[i].Y = append(out[i].Y, val(r))
			}
			return out
		}
		mk := func(title, y string, val func(GradRow) float64, logY bool) *plot.Plot {
			p := lineChart(title, "NNMF iterations T", y, series(val), logY)
			p.X.Scale = plot.LogScale{}
			p.X.Tick.Marker = plot.LogTicks{Prec: -1}
			if !logY { // cosines start near 1 and fall: the legend goes below them
				p.Legend.Top, p.Legend.Left = false, true
			}
			return p
		}
		grid := [][]*plot.Plot{
			{mk(c+": ∂L/∂x vs unrolled", "cosine similarity", func(r GradRow) float64 { return r.CosX }, false),
				mk(c+": ∂L/∂x vs unrolled", "mean absolute error", func(r GradRow) float64 { return r.MAEX }, true)},
			{mk(c+": ∂L/∂V vs unrolled", "cosine similarity", func(r GradRow) float64 { return r.CosW }, false),
				mk(c+": ∂L/∂V vs unrolled", "mean absolute error", func(r GradRow) float64 { return r.MAEW }, true)},
		}
		f, err := saveFigure(grid, 24*vg.Centimeter, 18*vg.Centimeter, dir, "gradcheck_"+c)
		if err != nil {
			return nil, err
		}
		files = append(files, f...)
	}
	return files, nil
}

// ReadGradStudy reads the gradcheck.json of a study directory.
func ReadGradStudy(dir string) ([]GradRow, error) {
	path := filepath.Join(dir, "gradcheck.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows []GradRow
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}

func writeCSV(path string, recs [][]string) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(recs); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteFile(path, buf.Bytes())
}

func writeJSON(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(raw, '\n'))
}
