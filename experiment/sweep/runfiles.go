package sweep

import "github.com/deepnmf/deepnmf/train"

// runState is what the sweep reads of a run's checkpoint; readRunState
// gives fs.ErrNotExist for a run without one.
type runState = train.RunState

var readRunState = train.ReadRunState

func readMetrics(runDir string) ([]train.Metrics, error) {
	st, err := readRunState(runDir)
	return st.History, err
}

func loadRunOptions(runDir string) (train.Options, error) {
	info, err := train.LoadRunInfo(runDir)
	return info.Options, err
}
