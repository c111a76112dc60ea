//go:build unix

package train

import "syscall"

// peakRSS is the process's peak resident set in bytes (getrusage maxrss,
// which Linux reports in KiB), or 0 where it is not known.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) * 1024
}
