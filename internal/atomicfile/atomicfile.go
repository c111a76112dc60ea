// Package atomicfile writes files so that a reader (or a run resumed after a
// crash) sees either the old content or the new one, never a half-written file.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Perm is the mode of the files written: readable by the group and others,
// as run outputs are shared on clusters (os.CreateTemp alone would give 0600).
const Perm = 0o644

// WriteFile writes data to a temporary file beside path, syncs it, and renames
// it over path. On error path is untouched and the temporary file is removed.
func WriteFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Chmod(Perm)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, werr)
	}
	return nil
}
