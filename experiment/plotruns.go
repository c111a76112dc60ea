package experiment

import (
	"fmt"
	"path/filepath"

	"github.com/deepnmf/deepnmf/data"
)

// DictionaryLoader opens the first NNMF layer of runs and cuts input patches
// from their test images, loading each dataset once.
type DictionaryLoader struct {
	DataDir string // "" = the run's recorded data root, else data.ResolveDir's default
	Patches int    // input patches for the reconstructions (0: none)
	loaded  datasets
}

// Load is the ReportOptions.Dictionary of a report: the run's dictionary and
// the centre patches of its first test images (after the evaluation crop).
func (l *DictionaryLoader) Load(r *Run) (*Dictionary, []float32, int, error) {
	m, err := Open(Source{RunDir: r.Dir}, 1)
	if err != nil {
		return nil, nil, 0, err
	}
	defer m.Close()
	d, err := FirstDictionary(m.Net)
	if err != nil || l.Patches == 0 {
		return d, nil, 0, err
	}
	if l.loaded == nil {
		l.loaded = datasets{}
	}
	ds, err := l.loaded.load(m, l.DataDir)
	if err != nil {
		// The dictionary stands without the reconstructions.
		return d, nil, 0, nil
	}
	// The first test images as the evaluation loader gives them (CenterCrop).
	n := min(l.Patches, ds.Test.N)
	cfg := data.EvalConfig()
	cfg.BatchSize, cfg.Limit = n, n
	loader, err := data.NewLoader(ds.Info, &ds.Test, cfg)
	if err != nil {
		return d, nil, 0, err
	}
	crop := ds.Crop
	imgs := make([]float32, n*ds.Channels*crop*crop)
	if _, err := loader.Fill(0, 0, imgs, make([]int, n)); err != nil {
		return d, nil, 0, err
	}
	p, err := d.CenterPatches(imgs, n, crop, crop)
	return d, p, n, err
}

// PlotRuns writes the pictures of runs into dir: curves.png/.svg of all
// runs together, and for each run with an NNMF layer
// <n>-<run>/dictionary.png/.svg and reconstructions.png/.svg.
// notes gets one line per run without a dictionary, saying why.
func PlotRuns(runDirs []string, dir string, l *DictionaryLoader) (files, notes []string, err error) {
	var runs []*Run
	for _, d := range runDirs {
		r, err := LoadRun(d)
		if err != nil {
			return nil, nil, err
		}
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		return nil, nil, fmt.Errorf("plot: give at least one run directory")
	}
	if files, err = PlotCurves(runs, dir); err != nil {
		return nil, nil, err
	}
	for i, r := range runs {
		d, patches, n, err := l.Load(r)
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s: no dictionary: %v", r.Dir, err))
			continue
		}
		sub := filepath.Join(dir, fmt.Sprintf("%d-%s", i+1, r.Label))
		f, err := PlotDictionary(d, sub)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, f...)
		if n > 0 {
			if f, err = PlotReconstructions(d, patches, n, sub); err != nil {
				return nil, nil, err
			}
			files = append(files, f...)
		}
	}
	return files, notes, nil
}
