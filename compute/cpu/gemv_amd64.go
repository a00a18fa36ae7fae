//go:build !purego

package cpu

// gemvBF16AVX512 is the AVX-512 row kernel of the few-row product (see
// gen_kernels.go gemvWidenAVX512 and gemvKernel).
//
//go:noescape
func gemvBF16AVX512(out, q *float32, w *uint16, ldw, nr, k, acc int)

// bf16RowKernel returns the row kernel of the few-row product with bf16
// weights for kernel set k, or nil where it has none.
func bf16RowKernel(k *kernels) gemvKernel {
	if k.vec == vec512 {
		return gemvBF16AVX512
	}
	return nil
}

// gemvBF16DotAVX512 is the AVX512_BF16 row kernel of the few-row product
// (see gen_kernels.go gemvDotAVX512 and gemvDotKernel).
//
//go:noescape
func gemvBF16DotAVX512(out *float32, q, w *uint16, ldw, nr, k, acc int)

// bf16DotKernel returns the row kernel of the few-row product with bf16
// weights and bf16-rounded activations for kernel set kern (AVX512_BF16)
// and rows of k weights, or nil where it has none: the kernel that takes
// a row in three equal blocks of cache lines where there is one, else in
// two, else gemvBF16DotAVX512 (gen_kernels.go gemvDotBlocks).
func bf16DotKernel(kern *kernels, k int) gemvDotKernel {
	if kern.vec != vec512 || kern.bf16 == nil {
		return nil
	}
	if lines := k / 32; k%32 == 0 {
		for _, parts := range [...]int{3, 2} {
			if b := lines / parts; lines%parts == 0 && b < len(gemvDotBlocked) && gemvDotBlocked[b] != nil {
				return gemvDotBlocked[b]
			}
		}
	}
	return gemvBF16DotAVX512
}
