package cpu

import (
	"testing"
	"time"

	"hone/tensor"
)

// BenchmarkGemv times few-row products with bf16 weights larger than the
// caches against reading the same bytes with StreamRead, alternately, on
// every core: the LM head of SmolLM2-135M alone, and the projections of
// its 30 layers as decoding runs them (q, k and v as one shared pass, the
// output and down projections added to the residual, gate and up as one
// pass with their activation). %-of-stream is the mean ratio of the read's time to the
// product's.
func BenchmarkGemv(b *testing.B) {
	e := New(0)
	defer e.Close()
	r := newRand(1)
	const hidden, inter, kv = 576, 1536, 192
	// the weights lie in one arena in decoding order, as a loaded model's
	// do (model.LoadWeights)
	arena := tensor.NewArena(30*(tensor.ArenaSize(tensor.BF16, hidden, hidden)*2+tensor.ArenaSize(tensor.BF16, kv, hidden)*2+
		tensor.ArenaSize(tensor.BF16, inter, hidden)*3) + tensor.ArenaSize(tensor.BF16, 49152, hidden))
	bf := func(n, k int) *tensor.Tensor {
		t := arena.New(tensor.BF16, n, k)
		randT(r, n, k).CopyTo(t)
		return t
	}
	o := func(n int) *tensor.Tensor { return tensor.New(tensor.F32, 1, n) }
	x, h := randT(r, 1, hidden), randT(r, 1, inter)
	type layer struct {
		qkv, gu []*tensor.Tensor
		o, d    *tensor.Tensor
	}
	var layers []layer
	var data [][]byte
	for range 30 {
		var l layer
		l.qkv = []*tensor.Tensor{bf(hidden, hidden), bf(kv, hidden), bf(kv, hidden)}
		l.o = bf(hidden, hidden)
		l.gu = []*tensor.Tensor{bf(inter, hidden), bf(inter, hidden)}
		l.d = bf(hidden, inter)
		layers = append(layers, l)
		for _, w := range append(append([]*tensor.Tensor{l.o, l.d}, l.qkv...), l.gu...) {
			data = append(data, w.Data)
		}
	}
	head := bf(49152, hidden)
	arena.Settle()
	logits, y := o(49152), o(hidden)
	qkv, a := []*tensor.Tensor{o(hidden), o(kv), o(kv)}, o(inter)
	run := func(name string, data [][]byte, f func()) {
		b.Run(name, func(b *testing.B) {
			var ratio float64
			var bytes int64
			for _, d := range data {
				bytes += int64(len(d))
			}
			for range b.N {
				t0 := time.Now()
				f()
				t1 := time.Now()
				e.StreamRead(data...)
				ratio += float64(time.Since(t1)) / float64(t1.Sub(t0))
			}
			b.SetBytes(bytes)
			b.ReportMetric(100*ratio/float64(b.N), "%-of-stream")
		})
	}
	run("head", [][]byte{head.Data}, func() { e.MatMul(logits, x, head, false, true, false) })
	run("layers", data, func() {
		for _, l := range layers {
			e.MatMulShared(qkv, x, l.qkv)
			e.MatMul(y, x, l.o, false, true, true)
			e.MatMulSwiGLU(a, x, l.gu[0], l.gu[1])
			e.MatMul(y, h, l.d, false, true, true)
		}
	})
}
