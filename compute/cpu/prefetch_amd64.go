//go:build !purego

package cpu

import "unsafe"

// prefetchBytes asks for the cache lines of [p, p+n) (prefetch_amd64.s).
//
//go:noescape
func prefetchBytes(p unsafe.Pointer, n int)

// prefetch asks for the cache lines of x ahead of their use: a hint, which
// changes nothing but timing.
func prefetch[T float32 | uint16 | byte](x []T) {
	if len(x) > 0 {
		prefetchBytes(unsafe.Pointer(&x[0]), int(unsafe.Sizeof(x[0]))*len(x))
	}
}

// loadBytes loads one word of every cache line of [p, p+n)
// (prefetch_amd64.s).
//
//go:noescape
func loadBytes(p unsafe.Pointer, n int)

// load brings the cache lines of x into the caches by reading them, as a
// loop of loads does, the core's own prefetchers following the stream.
// Where many lines are wanted at once this is the faster way: a burst of
// prefetch instructions much longer than the core's queue of misses is in
// part dropped (docs/PERFORMANCE.md, eleventh session). Like prefetch it
// changes nothing but timing.
func load[T float32 | uint16 | byte](x []T) {
	if len(x) > 0 {
		loadBytes(unsafe.Pointer(&x[0]), int(unsafe.Sizeof(x[0]))*len(x))
	}
}
