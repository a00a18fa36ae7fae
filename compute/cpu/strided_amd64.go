//go:build amd64 && !purego

package cpu

// kernF32StridedAVX512 is kernF32AVX512 (8x48) reading B in place: row k of
// the tile's columns at b[k*ldb:], B stored [k, n].
//
//go:noescape
func kernF32StridedAVX512(kc int, a, b, c *float32, ldb, ldc int, acc int)

// stridedKernel returns the float32 micro-kernel that reads B in place for
// the kernel set k (the AVX-512 one), or nil.
func stridedKernel(k kernels) func(kc int, a, b, c *float32, ldb, ldc int, acc int) {
	if k.name == "avx512" && k.f32.mr == 8 && k.f32.nr == 48 {
		return kernF32StridedAVX512
	}
	return nil
}
