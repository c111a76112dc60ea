package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LockFile is the file in a run directory that a process holding the run
// keeps locked; it records that process's id, host and start time.
const LockFile = ".lock"

// ErrLocked is wrapped when another live process holds a run directory.
var ErrLocked = errors.New("run directory is in use")

// runLock is an exclusive lock on a run directory. The operating system
// releases it when the process dies, however it dies, so a lock can never be
// left stale; what a dead holder leaves is its note in the file, which the
// next holder reports.
type runLock struct {
	f *os.File
}

// lockRunDir takes the run directory's lock without waiting. previous is
// the note a holder that died without releasing the lock left ("" if none).
func lockRunDir(runDir string) (l *runLock, previous string, err error) {
	path := filepath.Join(runDir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, "", fmt.Errorf("locking %s: %w", runDir, err)
	}
	if err := tryLock(f); err != nil {
		note, _ := os.ReadFile(path)
		f.Close()
		holder := strings.TrimSpace(string(note))
		if holder == "" {
			holder = "another process"
		}
		return nil, "", fmt.Errorf("%s: %w by %s (%s): wait for it to finish or stop it first", runDir, ErrLocked, holder, err)
	}
	prev, _ := os.ReadFile(path)
	host, _ := os.Hostname()
	note := fmt.Sprintf("pid %d on %s since %s", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(note+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, "", fmt.Errorf("writing %s: %w", path, err)
	}
	return &runLock{f: f}, strings.TrimSpace(string(prev)), nil
}

// release empties the note (a clean exit leaves none) and drops the lock.
func (l *runLock) release() {
	if l == nil || l.f == nil {
		return
	}
	l.f.Truncate(0)
	l.f.Close() // closing the descriptor releases the lock
	l.f = nil
}
