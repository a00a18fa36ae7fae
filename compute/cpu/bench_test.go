package cpu

import (
	"testing"
	"time"

	"hone/tensor"
)

func TestBench(t *testing.T) {
	var seen int
	name, res, err := Bench(BenchConfig{Threads: 2, Shapes: [][3]int{{16, 32, 48}}, MinTime: time.Millisecond},
		func(BenchResult) { seen++ })
	if err != nil {
		t.Fatal(err)
	}
	if name == "" || len(res) != 2 || seen != 2 {
		t.Fatalf("Bench = %q, %d results (%d reported), want a name and 2", name, len(res), seen)
	}
	for i, dt := range []tensor.DType{tensor.F32, tensor.BF16} {
		if r := res[i]; r.DType != dt || r.M != 16 || r.K != 32 || r.N != 48 || r.PerOp <= 0 || !(r.GFLOPS > 0) {
			t.Errorf("Bench result %d = %+v, want %v 16x32x48 with a positive time", i, r, dt)
		}
	}
	if _, _, err := Bench(BenchConfig{Shapes: [][3]int{{0, 1, 1}}}, nil); err == nil {
		t.Errorf("Bench(shape 0x1x1) = nil error, want one")
	}
}
