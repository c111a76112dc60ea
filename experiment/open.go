package experiment

import (
	"context"
	"os"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/train"
)

// Source names a trained model: a run directory, or a weights file with an
// optional config (file or preset; weights written by deepnmf carry theirs).
type Source struct {
	RunDir, Weights, Config string
}

// Label is how outputs name the model: the run directory or the weights file.
func (s Source) Label() string {
	if s.RunDir != "" {
		return s.RunDir
	}
	return s.Weights
}

// Opened is a trained model ready to evaluate.
type Opened struct {
	*train.Model
	Source Source
}

// Open opens a trained model with train.OpenModel.
func Open(src Source, threads int) (*Opened, error) {
	m, err := train.OpenModel(train.ModelSource{RunDir: src.RunDir, Weights: src.Weights, Config: src.Config}, train.OpenOptions{Threads: threads})
	if err != nil {
		return nil, err
	}
	return &Opened{Model: m, Source: src}, nil
}

// datasets loads each dataset a study needs once, keyed by name and root.
type datasets map[string]*data.Dataset

// load returns the dataset of m from the data directory flag, else from the
// directory its run last read when the dataset is there, else from
// data.ResolveDir's default.
func (c datasets) load(m *Opened, flag string) (*data.Dataset, error) {
	root := flag
	if root == "" && m.Run != nil && m.Run.DataRoot != "" {
		if _, err := os.Stat(data.DatasetDir(m.Run.DataRoot, m.Dataset.Name)); err == nil {
			root = m.Run.DataRoot
		}
	}
	root, err := data.ResolveDir(root)
	if err != nil {
		return nil, err
	}
	key := m.Dataset.Name + "\x00" + root
	if ds := c[key]; ds != nil {
		return ds, nil
	}
	ds, err := data.Load(m.Dataset.Name, root)
	if err != nil {
		return nil, err
	}
	c[key] = ds
	return ds, nil
}

// evaluator evaluates an opened model on a loaded dataset.
type evaluator struct {
	m     *Opened
	ds    *data.Dataset
	limit int
}

// Evaluator returns the model's evaluation on ds's test split (the first
// limit images; 0 = all) for Robustness.
func (o *Opened) Evaluator(ds *data.Dataset, limit int) Evaluator {
	return evaluator{o, ds, limit}
}

// Evaluate is the official test pass (train.Model.Evaluate) with the
// corruption applied to the full stored images before the CenterCrop.
func (e evaluator) Evaluate(ctx context.Context, corrupt func(batch int, full []float32, n int) error, progress func(int)) (int, int, error) {
	res, err := e.m.Model.Evaluate(ctx, e.ds, train.EvalOptions{Limit: e.limit, Corrupt: corrupt, Progress: progress})
	if err != nil {
		return 0, 0, err
	}
	return res.Correct, res.N, nil
}
