package kernels

import (
	"golang.org/x/sys/unix"
)

// threadCPUSeconds is the CPU time of the calling OS thread. Benchmarks that
// lock their goroutine to a thread report throughput per CPU second beside
// wall-clock throughput: on a shared machine the first shows what the kernel
// does while it has the core, the second what a run actually got.
func threadCPUSeconds() (float64, bool) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0, false
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)*1e-6, true
}
