//go:build unix

package train

import (
	"os"

	"golang.org/x/sys/unix"
)

// tryLock takes an exclusive advisory lock on f without blocking. flock
// locks belong to the open file, so two Sessions of one process on the same
// run exclude each other as two processes do.
func tryLock(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}
