package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Perm is the mode of the files written: readable by the group and others,
// as run outputs are shared on clusters (os.CreateTemp alone would give 0600).
const Perm = 0o644

// WriteFile writes data to a temporary file beside path, syncs it, and renames
// it over path. On error path is untouched and the temporary file is removed.
func WriteFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), tempPrefix(path)+"*")
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
	// The rename is durable only once the directory entry is on disk.
	SyncDir(filepath.Dir(path))
	return nil
}

// tempPrefix is the name of WriteFile's temporary files for path, less the
// random suffix: hidden, so that listings of a run stay clean.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp" }

// IsTemp reports whether name (a base name) is one of WriteFile's
// temporary files, left behind when a process was killed while writing.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp")
}

// RemoveTemps deletes the temporary files that writers killed mid-write
// left in dir and returns their names. Only a caller that holds the
// directory exclusively (a run's lock) may call it.
func RemoveTemps(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		if e.Type().IsRegular() && IsTemp(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return removed, err
			}
			removed = append(removed, e.Name())
		}
	}
	return removed, nil
}

// SyncDir flushes a directory's entries (a rename into it) to disk. Errors
// are ignored: some file systems cannot sync a directory, and the data
// itself was synced before the rename.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
