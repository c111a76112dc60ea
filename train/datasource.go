package train

import (
	"fmt"

	"github.com/deepnmf/deepnmf/data"
)

// loaderTrain and loaderTest adapt data.Loader to the engine's interfaces.
type loaderTrain struct{ l *data.Loader }

func (t loaderTrain) Images() int  { return t.l.Len() }
func (t loaderTrain) Batches() int { return t.l.NumBatches() }
func (t loaderTrain) Batch(epoch, b int, x []float32, labels []int) (int, error) {
	return t.l.Fill(epoch, b, x, labels)
}

type loaderTest struct{ l *data.Loader }

func (t loaderTest) Images() int  { return t.l.Len() }
func (t loaderTest) Batches() int { return t.l.NumBatches() }
func (t loaderTest) Batch(b int, x []float32, labels []int) (int, error) {
	return t.l.Fill(0, b, x, labels)
}

// NewTestData is the official evaluation loader (file order, CenterCrop) over
// the first limit test images (0 = all).
func NewTestData(ds *data.Dataset, batchSize, limit int) (TestData, error) {
	cfg := data.EvalConfig()
	cfg.BatchSize, cfg.Limit = batchSize, limit
	l, err := data.NewLoader(ds.Info, &ds.Test, cfg)
	if err != nil {
		return nil, fmt.Errorf("test loader: %w", err)
	}
	return loaderTest{l}, nil
}

func newDataSources(ds *data.Dataset, opts Options) (TrainData, TestData, error) {
	cfg := data.TrainConfig(opts.Seed)
	cfg.BatchSize, cfg.Limit, cfg.Augment = opts.BatchSize, opts.LimitTrain, opts.Augment
	tl, err := data.NewLoader(ds.Info, &ds.Train, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("training loader: %w", err)
	}
	test, err := NewTestData(ds, opts.BatchSize, opts.LimitTest)
	if err != nil {
		return nil, nil, err
	}
	return loaderTrain{tl}, test, nil
}
