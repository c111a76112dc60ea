package sweep

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/deepnmf/deepnmf/train"
)

// Until train.ReadMetrics and train.LoadRunInfo land, read the checkpoint's
// history and run.json directly.
func readMetrics(runDir string) ([]train.Metrics, error) {
	path := filepath.Join(runDir, train.CheckpointDir, train.StateFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st struct {
		History []train.Metrics `json:"history"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return st.History, nil
}

func loadRunOptions(runDir string) (train.Options, error) {
	info, err := train.LoadRunOptions(runDir)
	return info.Options, err
}
