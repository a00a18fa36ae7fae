package cpu

import (
	"fmt"
	"testing"

	"hone/tensor"
)

// BenchmarkGEMM measures C = A·Bᵀ (a linear layer's forward: b stored
// [n, k]) and the two backward layouts at the shapes of a small Llama
// (d=576, ffn=1536, vocab=49152, 512 tokens), on all the machine's cores,
// with b in F32 and in BF16; it reports GFLOP/s (2mnk per product).
func BenchmarkGEMM(b *testing.B) {
	e := New(0)
	defer e.Close()
	shapes := [][3]int{{512, 576, 1536}, {512, 1536, 576}, {512, 576, 49152}} // m, k, n
	layouts := []struct {
		name   string
		ta, tb bool
	}{{"NT", false, true}, {"NN", false, false}, {"TN", true, false}}
	r := newRand(3)
	for _, sh := range shapes {
		m, k, n := sh[0], sh[1], sh[2]
		for _, l := range layouts {
			if n > 10000 && l.name != "NT" {
				continue
			}
			for _, dt := range []tensor.DType{tensor.F32, tensor.BF16} {
				b.Run(fmt.Sprintf("%s/%dx%dx%d/%v", l.name, m, k, n, dt), func(b *testing.B) {
					a := randT(r, m, k)
					if l.ta {
						a = randT(r, k, m)
					}
					w := randT(r, k, n)
					if l.tb {
						w = randT(r, n, k)
					}
					w = w.To(dt)
					c := tensor.New(tensor.F32, m, n)
					e.MatMul(c, a, w, l.ta, l.tb, false)
					b.ResetTimer()
					for b.Loop() {
						e.MatMul(c, a, w, l.ta, l.tb, false)
					}
					b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// BenchmarkGEMV measures a decoding step's products (one row of a against
// a weight stored [n, k]), which stream the weight from memory; it reports
// GB/s of weight read.
func BenchmarkGEMV(b *testing.B) {
	e := New(0)
	defer e.Close()
	r := newRand(4)
	for _, sh := range [][2]int{{576, 1536}, {576, 49152}} {
		k, n := sh[0], sh[1]
		for _, dt := range []tensor.DType{tensor.F32, tensor.BF16} {
			b.Run(fmt.Sprintf("1x%dx%d/%v", k, n, dt), func(b *testing.B) {
				a, w := randT(r, 1, k), randT(r, n, k).To(dt)
				c := tensor.New(tensor.F32, 1, n)
				for b.Loop() {
					e.MatMul(c, a, w, false, true, false)
				}
				b.ReportMetric(float64(len(w.Data))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}

// BenchmarkKernel measures one core's micro-kernel on panels that stay in
// L1: the ceiling the blocked product can approach.
func BenchmarkKernel(b *testing.B) {
	ks := availableKernels()[0]
	kc := 256
	b.Run("f32/"+ks.name, func(b *testing.B) {
		mr, nr := ks.f32.mr, ks.f32.nr
		a, p, c := make([]float32, kc*mr), make([]float32, kc*nr), make([]float32, mr*nr)
		for b.Loop() {
			ks.f32.fn(kc, &a[0], &p[0], &c[0], nr, 1)
		}
		b.ReportMetric(2*float64(mr*nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	if ks.bf16 != nil {
		b.Run("bf16/"+ks.name, func(b *testing.B) {
			mr, nr := ks.bf16.mr, ks.bf16.nr
			a, p, c := make([]uint16, 2*kc*mr), make([]uint16, 2*kc*nr), make([]float32, mr*nr)
			for b.Loop() {
				ks.bf16.fn(kc, &a[0], &p[0], &c[0], nr, 1)
			}
			b.ReportMetric(4*float64(mr*nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
