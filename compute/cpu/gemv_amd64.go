//go:build !purego

package cpu

// gemvBF16AVX512 is the AVX-512 row kernel of the few-row product (see
// gemv_amd64.s and gemvKernel).
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
