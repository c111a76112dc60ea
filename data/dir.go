package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvDataDir names the environment variable that sets the data root when no
// --data-dir flag is given.
const EnvDataDir = "DEEPNMF_DATA"

// ErrNotFound is wrapped by the errors of Load and Verify when a dataset's
// files are absent (as opposed to present but defective).
var ErrNotFound = errors.New("dataset not found")

// ResolveDir returns the data root: flag if not empty, else $DEEPNMF_DATA if
// set, else os.UserCacheDir()/deepnmf. The result is absolute so that error
// messages say exactly where the files were looked for.
func ResolveDir(flag string) (string, error) {
	dir := flag
	if dir == "" {
		dir = os.Getenv(EnvDataDir)
	}
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("data directory: no --data-dir, no $%s, and no user cache directory: %w", EnvDataDir, err)
		}
		dir = filepath.Join(cache, "deepnmf")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("data directory %q: %w", dir, err)
	}
	return abs, nil
}

// DatasetDir is the folder of one dataset under the data root.
func DatasetDir(root, name string) string { return filepath.Join(root, name) }

func notFound(name, looked string) error {
	return fmt.Errorf("%s: %w: looked for %s; download it with `deepnmf data fetch --dataset %s` "+
		"(or point --data-dir / $%s at a folder that holds %s/)",
		name, ErrNotFound, looked, name, EnvDataDir, name)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
