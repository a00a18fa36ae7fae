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
