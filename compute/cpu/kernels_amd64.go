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
		k := kernels{name: "avx512", f32: f32Kernel{mr: 8, nr: 48, fn: kernF32AVX512}, tr8: tr8x8, vec: vec512}
		if cpu.X86.HasAVX512BF16 {
			k.bf16 = &bf16Kernel{mr: 8, nr: 48, fn: kernBF16AVX512, cvt: cvtBF16AVX512, il: interleave16,
				accTile4: accTile4BF16AVX512, softmaxTile: softmaxTileBF16AVX512, scores: scoresBF16AVX512,
				accPairs: [4]func(o *float32, p, v *uint16, ldv, nk, hd, ldo, ldp int){1: accPairsG1BF16AVX512, 2: accPairsG2BF16AVX512, 3: accPairsG3BF16AVX512}}
		}
		ks = append(ks, k)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, kernels{name: "avx2", f32: f32Kernel{mr: 6, nr: 16, fn: kernF32AVX2}, tr8: tr8x8, vec: vec256})
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

// Row primitives of the tiled attention (AVX-512; hd a multiple of 16).

//go:noescape
func dotsAVX512(out, q, k *float32, ldk, nk, hd int)

//go:noescape
func accRowsAVX512(o, p, v *float32, ldv, nk, hd int)

//go:noescape
func dotsSeqAVX512(out, q, k *float32, ldk, nk, hd int)

//go:noescape
func dotsSeqBF16AVX512(out, q *float32, k *uint16, ldk, nk, hd int)

//go:noescape
func accRowsBF16AVX512(o, p *float32, v *uint16, ldv, nk, hd int)

//go:noescape
func accTile4AVX512(o *float32, ldo int, p *float32, ldp, pk int, v *float32, ldv, nk, hd int)

//go:noescape
func accTile4BF16AVX512(o *float32, ldo int, p *uint16, ldp int, v *uint16, ldv, nq, hd int)

//go:noescape
func dsTileAVX512(sc, dp *float32, ld, rows, n int, scale float32, lse, d *float32, ldd int)

//go:noescape
func softmaxTileBF16AVX512(sc *float32, ldsc, rows, n int, scale float32, m, mo *float32, sums *float64, pb *uint16, ldpb int)

//go:noescape
func softmaxTileAVX512(sc *float32, ldsc, rows, n int, scale float32, m, mo *float32, sums *float64)

//go:noescape
func dotsBF16AVX512(out, q *float32, k *uint16, ldk, nk, hd int)

// Grouped-query forms of dotsBF16AVX512 and accRowsBF16AVX512, and of
// dotsAVX512 and accRowsAVX512: two or three heads that share their keys
// and values at once (vecSet.dotsGroupBF16, accRowsGroupBF16, dotsGroup,
// accRowsGroup).

//go:noescape
func dotsG2BF16AVX512(out, q *float32, k *uint16, ldk, nk, hd, ldo int)

//go:noescape
func dotsG3BF16AVX512(out, q *float32, k *uint16, ldk, nk, hd, ldo int)

//go:noescape
func accRowsG2BF16AVX512(o, p *float32, v *uint16, ldv, nk, hd, ldo, ldp int)

//go:noescape
func accRowsG3BF16AVX512(o, p *float32, v *uint16, ldv, nk, hd, ldo, ldp int)

//go:noescape
func dotsG2AVX512(out, q, k *float32, ldk, nk, hd, ldo int)

//go:noescape
func dotsG3AVX512(out, q, k *float32, ldk, nk, hd, ldo int)

//go:noescape
func accRowsG2AVX512(o, p, v *float32, ldv, nk, hd, ldo, ldp int)

//go:noescape
func accRowsG3AVX512(o, p, v *float32, ldv, nk, hd, ldo, ldp int)

// The one-query attention over a bf16 cache in bf16 products
// (bf16Kernel.scores, accPairs).

//go:noescape
func scoresBF16AVX512(out *float32, q, k *uint16, ldk, nk, hd int)

//go:noescape
func accPairsG1BF16AVX512(o *float32, p, v *uint16, ldv, nk, hd, ldo, ldp int)

//go:noescape
func accPairsG2BF16AVX512(o *float32, p, v *uint16, ldv, nk, hd, ldo, ldp int)

//go:noescape
func accPairsG3BF16AVX512(o *float32, p, v *uint16, ldv, nk, hd, ldo, ldp int)

// Helpers of bf16 packing.

//go:noescape
func cvtBF16AVX512(dst *uint16, src *float32, n int)

//go:noescape
func interleave16(dst, r0, r1 *uint16, n int)

//go:noescape
func rankKAVX512(dst *float32, ldd int, c *float32, ldc int, x *float32, ldx, nk, kk, hd int)

// AVX2 versions of the vector and row primitives (n, hd multiples of 8).

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func axpyAVX2(y, x *float32, n int, alpha float32)

//go:noescape
func maxAVX2(x *float32, n int) float32

//go:noescape
func expAVX2(dst, x *float32, n int, scale, shift float32) float64

//go:noescape
func accRowsAVX2(o, p, v *float32, ldv, nk, hd int)

//go:noescape
func dotsAVX2(out, q, k *float32, ldk, nk, hd int)

//go:noescape
func dotsBF16AVX2(out, q *float32, k *uint16, ldk, nk, hd int)

//go:noescape
func rankKAVX2(dst *float32, ldd int, c *float32, ldc int, x *float32, ldx, nk, kk, hd int)

var (
	vec512 = &vecSet{w: 16, dot: dotAVX512, axpy: axpyAVX512, max: maxAVX512, exp: expAVX512,
		accRows: accRowsAVX512, accRowsBF16: accRowsBF16AVX512, accTile4: accTile4AVX512, softmaxTile: softmaxTileAVX512, dsTile: dsTileAVX512, rankK: rankKAVX512, dots: dotsAVX512, dotsBF16: dotsBF16AVX512,
		dotsSeq: dotsSeqAVX512, dotsSeqBF16: dotsSeqBF16AVX512,
		dotsGroupBF16:    [4]func(out, q *float32, k *uint16, ldk, nk, hd, ldo int){2: dotsG2BF16AVX512, 3: dotsG3BF16AVX512},
		accRowsGroupBF16: [4]func(o, p *float32, v *uint16, ldv, nk, hd, ldo, ldp int){2: accRowsG2BF16AVX512, 3: accRowsG3BF16AVX512},
		dotsGroup:        [4]func(out, q, k *float32, ldk, nk, hd, ldo int){2: dotsG2AVX512, 3: dotsG3AVX512},
		accRowsGroup:     [4]func(o, p, v *float32, ldv, nk, hd, ldo, ldp int){2: accRowsG2AVX512, 3: accRowsG3AVX512}}
	vec256 = &vecSet{w: 8, dot: dotAVX2, axpy: axpyAVX2, max: maxAVX2, exp: expAVX2,
		accRows: accRowsAVX2, rankK: rankKAVX2, dots: dotsAVX2, dotsBF16: dotsBF16AVX2,
		dotsSeq: dotsAVX2, dotsSeqBF16: dotsBF16AVX2}
)
