package cpu

import (
	"testing"

	"hone/tensor"
)

func BenchmarkZZReadAhead(b *testing.B) {
	e := New(2)
	defer e.Close()
	w := tensor.New(tensor.BF16, 576, 576)
	out, x := tensor.New(tensor.F32, 1, 576), tensor.New(tensor.F32, 1, 576)
	e.MatMul(out, x, w, false, true, false) // start the worker
	b.ResetTimer()
	for range b.N {
		e.ReadAhead(false, w)
	}
}

func BenchmarkZZReadAheadIdle(b *testing.B) {
	e := New(1)
	defer e.Close()
	w := tensor.New(tensor.BF16, 576, 576)
	for range b.N {
		e.ReadAhead(false, w)
	}
}
