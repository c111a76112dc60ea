package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/deepnmf/deepnmf/train"
)

// runState is what the sweep reads of a run's checkpoint.
type runState struct {
	History []train.Metrics `json:"history"`
	Stopped bool            `json:"stopped_by_lr_limit"`
}

// readRunState reads the epochs a run has checkpointed. The checkpoint's
// history, not metrics.csv, is what a resume continues from (metrics.csv is
// rewritten from it and may briefly hold a row the checkpoint lacks). While
// a checkpoint is being replaced, the previous one is checkpoint.prev (see
// train.HasCheckpoint). A run without a checkpoint gives fs.ErrNotExist.
func readRunState(runDir string) (runState, error) {
	var st runState
	for _, name := range []string{train.CheckpointDir, train.CheckpointDir + ".prev"} {
		path := filepath.Join(runDir, name, train.StateFile)
		raw, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return st, err
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			return st, fmt.Errorf("%s: %w", path, err)
		}
		return st, nil
	}
	return st, fs.ErrNotExist
}

func readMetrics(runDir string) ([]train.Metrics, error) {
	st, err := readRunState(runDir)
	return st.History, err
}

func loadRunOptions(runDir string) (train.Options, error) {
	info, err := train.LoadRunInfo(runDir)
	return info.Options, err
}
