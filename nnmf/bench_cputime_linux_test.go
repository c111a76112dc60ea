package nnmf

import "golang.org/x/sys/unix"

// processCPUSeconds is the CPU time of the whole process. The forward
// benchmark reports FLOPs per CPU second beside wall-clock GFLOP/s: on a
// machine shared with other jobs the first shows what the kernel does while it
// has a core (compare it with the one-core FMA peak), the second what the run
// actually got.
func processCPUSeconds() (float64, bool) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)*1e-6, true
}
