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
// weights and bf16-rounded activations for kernel set k (AVX512_BF16), or
// nil where it has none.
func bf16DotKernel(k *kernels) gemvDotKernel {
	if k.vec == vec512 && k.bf16 != nil {
		return gemvBF16DotAVX512
	}
	return nil
}
