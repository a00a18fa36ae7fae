//go:build !purego

package cpu

import "golang.org/x/sys/cpu"

//go:generate go run gen_kernels.go

// The assembly micro-kernels of gemm_amd64.s. Each computes an MR x NR tile
// of C from packed panels; see gen_kernels.go for the register layout.

//go:noescape
func kernF32AVX512(kc int, a, b, c *float32, ldc int, acc int)

//go:noescape
func kernBF16AVX512(kc int, a, b *uint16, c *float32, ldc int, acc int)

//go:noescape
func tr8x8(dst *float32, ldd int, src *float32, lds int, kb int)

//go:noescape
func kernF32AVX2(kc int, a, b, c *float32, ldc int, acc int)

// availableKernels lists the kernel sets this CPU can run, fastest first.
func availableKernels() []kernels {
	var ks []kernels
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL {
		k := kernels{name: "avx512", f32: f32Kernel{mr: 8, nr: 48, fn: kernF32AVX512}, tr8: tr8x8, vec: true}
		if cpu.X86.HasAVX512BF16 {
			k.bf16 = &bf16Kernel{mr: 8, nr: 48, fn: kernBF16AVX512, cvt: cvtBF16AVX512, il: interleave16}
		}
		ks = append(ks, k)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, kernels{name: "avx2", f32: f32Kernel{mr: 6, nr: 16, fn: kernF32AVX2}, tr8: tr8x8})
	}
	return append(ks, genericKernels())
}

// Vector primitives of the fused ops (AVX-512; n a multiple of 16).

//go:noescape
func dotAVX512(a, b *float32, n int) float32

//go:noescape
func axpyAVX512(y, x *float32, n int, alpha float32)

//go:noescape
func maxAVX512(x *float32, n int) float32

//go:noescape
func expAVX512(dst, x *float32, n int, scale, shift float32) float64

// hasVec512 reports whether the AVX-512 vector primitives can run.
var hasVec512 = cpu.X86.HasAVX512F

// Row primitives of the tiled attention (AVX-512; hd a multiple of 16).

//go:noescape
func dotsAVX512(out, q, k *float32, ldk, nk, hd int)

//go:noescape
func accRowsAVX512(o, p, v *float32, ldv, nk, hd int)

//go:noescape
func rank1AVX512(dst *float32, ld int, c, x *float32, nk, hd int)

//go:noescape
func dotsBF16AVX512(out, q *float32, k *uint16, ldk, nk, hd int)

// Helpers of bf16 packing.

//go:noescape
func cvtBF16AVX512(dst *uint16, src *float32, n int)

//go:noescape
func interleave16(dst, r0, r1 *uint16, n int)

//go:noescape
func rankKAVX512(dst *float32, ldd int, c *float32, ldc int, x *float32, ldx, nk, kk, hd int)
