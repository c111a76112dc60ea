package experiment

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/deepnmf/deepnmf/data"
)

// DictionaryLoader opens the first NNMF layer of runs and cuts input patches
// from their test images, loading each dataset once.
type DictionaryLoader struct {
	DataDir string // "" = the run's recorded data root, else data.ResolveDir's default
	Patches int    // input patches for the reconstructions (0: none)
	loaded  map[string]*data.Dataset
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
	root := l.DataDir
	if root == "" && m.DataRoot != "" {
		if _, err := os.Stat(data.DatasetDir(m.DataRoot, m.Dataset.Name)); err == nil {
			root = m.DataRoot
		}
	}
	if root, err = data.ResolveDir(root); err != nil {
		return d, nil, 0, err
	}
	if l.loaded == nil {
		l.loaded = map[string]*data.Dataset{}
	}
	key := m.Dataset.Name + "\x00" + root
	ds := l.loaded[key]
	if ds == nil {
		if ds, err = data.Load(m.Dataset.Name, root); err != nil {
			// The dictionary stands without the reconstructions.
			return d, nil, 0, nil
		}
		l.loaded[key] = ds
	}
	n := min(l.Patches, ds.Test.N)
	s, c, crop := ds.Test.H, ds.Test.C, ds.Crop
	off := (s - crop + 1) / 2
	imgs := make([]float32, 0, n*c*crop*crop)
	for i := range n {
		img := ds.Test.Image(i)
		for ch := range c {
			for y := range crop {
				for x := range crop {
					imgs = append(imgs, float32(img[ch*s*s+(y+off)*s+x+off])/255)
				}
			}
		}
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
