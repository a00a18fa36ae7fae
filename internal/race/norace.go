//go:build !race

// Package race reports whether the race detector is on, for tests that
// count allocations: with it, sync.Pool drops what it is given at random,
// so that pooled buffers are allocated again.
package race

// Enabled is true in a build with -race.
const Enabled = false
