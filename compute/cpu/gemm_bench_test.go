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
