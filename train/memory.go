package train

import (
	"fmt"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/nn"
)

// WorkspaceBatch is the largest batch a run draws: the batch size, or the
// number of images when the (limited) training or test data holds fewer.
// The network and the engine size their buffers for it. A batch size larger
// than the data is therefore accepted and costs only what the data needs:
// every epoch is then one batch of all images, exactly as with that batch
// size, so the results do not change.
func WorkspaceBatch(batchSize, trainImages, testImages int) int {
	return max(1, min(batchSize, max(trainImages, testImages)))
}

// CheckMemory applies the network's memory check (nn.CheckMemory: the
// network of cfg on the dataset's input, the batch clamped by WorkspaceBatch
// to the official split sizes under the limits, the threads, Adam's state)
// against o.MaxMemory before a dataset is loaded or downloaded. source names
// the config in the error ("" names the options' network). nn.Build
// checks again with the data's real sizes.
func (o Options) CheckMemory(cfg *nn.Config, source string) error {
	if source == "" {
		source = o.networkSource()
	}
	info, err := data.Lookup(o.Dataset)
	if err != nil {
		return err
	}
	trainN, testN := sum(info.TrainPerClass), sum(info.TestPerClass)
	if o.LimitTrain > 0 {
		trainN = min(trainN, o.LimitTrain)
	}
	if o.LimitTest > 0 {
		testN = min(testN, o.LimitTest)
	}
	in := nn.Shape{C: info.Channels, H: info.Crop, W: info.Crop}
	if err := nn.CheckMemory(cfg, in, WorkspaceBatch(o.BatchSize, trainN, testN), o.NetOptions()); err != nil {
		return fmt.Errorf("%s on %s input %d×%d×%d: %w", source, info.Name, in.C, in.H, in.W, err)
	}
	return nil
}

// NetOptions are the nn.Options of the run's network, with Adam's state
// counted in its memory estimate.
func (o Options) NetOptions() nn.Options {
	return nn.Options{Threads: o.Threads, Backward: o.Backward, Iterations: o.Iterations, Precision: o.Precision,
		RunningStats: o.RunningStats, MaxMemory: o.MaxMemory, Optimizer: true}
}

func sum(v []int) int {
	s := 0
	for _, x := range v {
		s += x
	}
	return s
}
