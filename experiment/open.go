package experiment

import (
	"context"

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
	Source   Source
	DataRoot string // where the run read its data ("" for bare weights)
}

// Open opens a trained model with train.OpenModel.
func Open(src Source, threads int) (*Opened, error) {
	m, err := train.OpenModel(train.ModelSource{RunDir: src.RunDir, Weights: src.Weights, Config: src.Config}, train.OpenOptions{Threads: threads})
	if err != nil {
		return nil, err
	}
	o := &Opened{Model: m, Source: src}
	if m.Run != nil {
		o.DataRoot = m.Run.DataRoot
	}
	return o, nil
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
