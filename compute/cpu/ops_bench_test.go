package cpu

import (
	"fmt"
	"math"
	"testing"

	"hone/compute"
	"hone/compute/ref"
	"hone/tensor"
)

// BenchmarkOps runs the fused ops at the shapes of a small Llama (512
// tokens, d=576, ffn=1536, 9 heads of 64 with 3 kv heads, vocab 49152) on
// the reference engine and on this one, so the two can be compared in the
// same run.
func BenchmarkOps(b *testing.B) {
	const n, d, ffn, heads, kvh, hd, vocab = 512, 576, 1536, 9, 3, 64, 49152
	r := newRand(30)
	e := New(0)
	defer e.Close()
	e1 := New(1)
	defer e1.Close()
	x, w := randT(r, n, d), randT(r, d)
	out, rstd := tensor.New(tensor.F32, n, d), tensor.New(tensor.F32, n)
	g, u, o := randT(r, n, ffn), randT(r, n, ffn), tensor.New(tensor.F32, n, ffn)
	logits := randT(r, n, vocab)
	dlogits := tensor.New(tensor.F32, n, vocab)
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(r.IntN(vocab))
	}
	s := compute.AttnShape{Batch: 1, Tq: n, Tk: n, Heads: heads, KVHeads: kvh, HeadDim: hd, Scale: float32(1 / math.Sqrt(hd))}
	q, k, v := randT(r, n, heads*hd), randT(r, n, kvh*hd), randT(r, n, kvh*hd)
	ao, lse := tensor.New(tensor.F32, n, heads*hd), tensor.New(tensor.F32, heads, n)
	dq, dk, dv := tensor.New(tensor.F32, n, heads*hd), tensor.New(tensor.F32, n, kvh*hd), tensor.New(tensor.F32, n, kvh*hd)
	cos, sin := tensor.New(tensor.F32, n, hd/2), tensor.New(tensor.F32, n, hd/2)
	for p := 0; p < n; p++ {
		for j := 0; j < hd/2; j++ {
			a := float64(p) * math.Pow(10000, -2*float64(j)/hd)
			cos.F32()[p*hd/2+j], sin.F32()[p*hd/2+j] = float32(math.Cos(a)), float32(math.Sin(a))
		}
	}
	pos := make([]int32, n)
	for i := range pos {
		pos[i] = int32(i)
	}
	s16 := s
	s16.BF16 = true // the bf16 mode's attention
	engines := []compute.Engine{ref.Engine{}, e1, e}
	for _, k := range availableKernels()[1:] {
		if k.name == "avx2" {
			e2 := newWithKernels(0, k)
			defer e2.Close()
			engines = append(engines, e2)
		}
	}
	for _, eng := range engines {
		name := "ref"
		if c, ok := eng.(*Engine); ok {
			name = fmt.Sprintf("%s-%d", c.Name(), c.Threads())
		}
		bench := func(op string, f func()) {
			b.Run(op+"/"+name, func(b *testing.B) {
				for b.Loop() {
					f()
				}
			})
		}
		bench("RMSNorm", func() { eng.RMSNorm(out, x, w, 1e-5, rstd) })
		bench("RMSNormBackward", func() { eng.RMSNormBackward(out, w, x, x, w, rstd) })
		bench("SwiGLU", func() { eng.SwiGLU(o, g, u) })
		bench("SwiGLUBackward", func() { eng.SwiGLUBackward(g, u, o, g, u) })
		bench("RoPE", func() { eng.RoPE(q, pos, heads, cos, sin) })
		bench("CrossEntropy", func() { eng.CrossEntropy(logits, labels, dlogits, 1) })
		bench("Attention", func() { eng.Attention(ao, q, k, v, lse, s) })
		bench("AttentionBackward", func() { eng.AttentionBackward(dq, dk, dv, ao, q, k, v, ao, lse, s) })
		if c, ok := eng.(*Engine); ok && c.attendBF16(s16, false) {
			bench("AttentionBF16", func() { eng.Attention(ao, q, k, v, lse, s16) })
			bench("AttentionBackwardBF16", func() { eng.AttentionBackward(dq, dk, dv, ao, q, k, v, ao, lse, s16) })
		}
	}
}
