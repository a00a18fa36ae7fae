package compute

import "hone/tensor"

// SharedMatMuler is the optional capability of an engine that computes
// several products of the same input in one parallel pass: the projections
// of a decoding step that read the same activations (q, k and v; gate and
// up) then stream their weights with one barrier between the threads
// instead of one each.
type SharedMatMuler interface {
	// MatMulShared sets c[i] = a·b[i]ᵀ for every i: the same as
	// MatMul(c[i], a, b[i], false, true, false) for each, in any order.
	// a [m, k] and every c[i] [m, n_i] are F32, b[i] [n_i, k] F32 or BF16.
	MatMulShared(c []*tensor.Tensor, a *tensor.Tensor, b []*tensor.Tensor)
}

// MatMulShared sets c[i] = a·b[i]ᵀ for every i, through the engine's
// SharedMatMuler when it has one, otherwise with one MatMul each.
func MatMulShared(e Engine, c []*tensor.Tensor, a *tensor.Tensor, b []*tensor.Tensor) {
	if s, ok := e.(SharedMatMuler); ok {
		s.MatMulShared(c, a, b)
		return
	}
	for i := range b {
		e.MatMul(c[i], a, b[i], false, true, false)
	}
}
