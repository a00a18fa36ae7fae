//go:build !amd64 || purego

package cpu

// availableKernels returns the portable Go kernels: there is no assembly
// for this platform (or the purego build tag asked for none).
func availableKernels() []kernels { return []kernels{genericKernels()} }

// hasVec512 is false: there are no vector primitives on this platform.
const hasVec512 = false

func dotAVX512(a, b *float32, n int) float32                         { panic("unreachable") }
func axpyAVX512(y, x *float32, n int, alpha float32)                 { panic("unreachable") }
func maxAVX512(x *float32, n int) float32                            { panic("unreachable") }
func expAVX512(dst, x *float32, n int, scale, shift float32) float64 { panic("unreachable") }
func dotsAVX512(out, q, k *float32, ldk, nk, hd int)                 { panic("unreachable") }
func accRowsAVX512(o, p, v *float32, ldv, nk, hd int)                { panic("unreachable") }
func rank1AVX512(dst *float32, ld int, c, x *float32, nk, hd int)    { panic("unreachable") }
func dotsBF16AVX512(out, q *float32, k *uint16, ldk, nk, hd int)     { panic("unreachable") }
func rankKAVX512(dst *float32, ldd int, c *float32, ldc int, x *float32, ldx, nk, kk, hd int) {
	panic("unreachable")
}
