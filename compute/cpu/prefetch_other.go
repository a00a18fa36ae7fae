//go:build !amd64 || purego

package cpu

// prefetch asks for the cache lines of x ahead of their use: a hint, which
// does nothing on this platform.
func prefetch[T float32 | uint16 | byte](x []T) {}

// load brings the cache lines of x into the caches ahead of their use: a
// hint, which does nothing on this platform.
func load[T float32 | uint16 | byte](x []T) {}
