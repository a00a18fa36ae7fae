//go:build !linux

package bench

// PeakRSS returns the largest resident set size the process has had so
// far, in bytes, and whether the platform reports it; hone reads it only
// on Linux.
func PeakRSS() (int64, bool) { return 0, false }
