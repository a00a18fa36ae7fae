package bench

import "syscall"

// PeakRSS returns the largest resident set size the process has had so
// far, in bytes, as the kernel accounts it (getrusage's ru_maxrss), and
// whether the platform reports it.
func PeakRSS() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Maxrss << 10, true // Linux counts KiB
}
