package ref

import (
	"fmt"
	"testing"

	"hone/tensor"
)

// BenchmarkEngineMatMul measures the reference product on a linear layer's
// three shapes (forward y = x·Wᵀ, dx = dy·W, dW = dyᵀ·x), F32 and BF16 W.
func BenchmarkEngineMatMul(b *testing.B) {
	const m, n, k = 128, 256, 256 // tokens, out features, in features
	r := newRand(1)
	e := Engine{}
	x, w, dy := f32Tensor(randn(r, m*k), m, k), f32Tensor(randn(r, n*k), n, k), f32Tensor(randn(r, m*n), m, n)
	wb := w.To(tensor.BF16)
	y, dx, dw := tensor.New(tensor.F32, m, n), tensor.New(tensor.F32, m, k), tensor.New(tensor.F32, n, k)
	for _, bc := range []struct {
		name string
		run  func()
	}{
		{"fwd/x·Wᵀ/F32", func() { e.MatMul(y, x, w, false, true, false) }},
		{"fwd/x·Wᵀ/BF16", func() { e.MatMul(y, x, wb, false, true, false) }},
		{"dx/dy·W/F32", func() { e.MatMul(dx, dy, w, false, false, true) }},
		{"dx/dy·W/BF16", func() { e.MatMul(dx, dy, wb, false, false, true) }},
		{"dW/dyᵀ·x/F32", func() { e.MatMul(dw, dy, x, true, false, true) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				bc.run()
			}
			b.ReportMetric(2*m*n*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkEngineAttention measures causal attention forward and backward on
// one sequence.
func BenchmarkEngineAttention(b *testing.B) {
	for _, T := range []int{128} {
		s := shape(1, T, T, 0, 4, 2, 64, nil)
		q, k, v := attnInputs(1, s)
		qt := f32Tensor(q, T, s.Heads*s.HeadDim)
		kt, vt := f32Tensor(k, T, s.KVHeads*s.HeadDim), f32Tensor(v, T, s.KVHeads*s.HeadDim)
		out, lse := tensor.New(tensor.F32, qt.Shape...), tensor.New(tensor.F32, 1, s.Heads, T)
		e := Engine{}
		b.Run(fmt.Sprintf("fwd/T=%d", T), func(b *testing.B) {
			for b.Loop() {
				e.Attention(out, qt, kt, vt, lse, s)
			}
		})
		dq, dk, dv := tensor.New(tensor.F32, qt.Shape...), tensor.New(tensor.F32, kt.Shape...), tensor.New(tensor.F32, vt.Shape...)
		b.Run(fmt.Sprintf("bwd/T=%d", T), func(b *testing.B) {
			for b.Loop() {
				e.AttentionBackward(dq, dk, dv, out, qt, kt, vt, out, lse, s)
			}
		})
	}
}
