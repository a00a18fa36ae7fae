package compute_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"hone/compute"
	"hone/compute/cpu"
	"hone/compute/ref"
	"hone/quant"
	"hone/tensor"
)

func randT(rng *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(tensor.F32, shape...)
	for i := range t.F32() {
		t.F32()[i] = float32(rng.NormFloat64())
	}
	return t
}

// TestMatMulQuantMatchesDequantised: the tiled NF4 product equals MatMul by
// the fully dequantised weight, for both layouts, with and without acc, on
// awkward sizes (rows crossing tiles and blocks).
func TestMatMulQuantMatchesDequantised(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, e := range []compute.Engine{ref.Engine{}, cpu.New(2)} {
		for i, sz := range [][3]int{{1, 64, 7}, {7, 192, 130}, {33, 320, 257}, {5, 96, 300}} {
			m, k, n := sz[0], sz[1], sz[2]
			w := randT(rng, n, k)
			format := quant.MatrixFormats[i%len(quant.MatrixFormats)]
			q, err := quant.QuantizeMatrix(w, format, true)
			if err != nil {
				t.Fatal(err)
			}
			deq := q.Dequantize()
			if i%2 == 1 { // bf16 tiles: compare with MatMul by the bf16 weight
				q.ComputeDType = tensor.BF16
				deq = deq.To(tensor.BF16)
			}
			for _, acc := range []bool{false, true} {
				// forward: c[m,n] = a[m,k]·wᵀ
				a := randT(rng, m, k)
				c0 := randT(rng, m, n)
				c1 := c0.Clone()
				e.MatMul(c0, a, deq, false, true, acc)
				compute.MatMulQuant(e, c1, a, q, true, acc)
				check(t, e.Name()+" "+format+" forward", c0.F32(), c1.F32())
				// input gradient: c[m,k] = dy[m,n]·w
				dy := randT(rng, m, n)
				g0 := randT(rng, m, k)
				g1 := g0.Clone()
				e.MatMul(g0, dy, deq, false, false, acc)
				compute.MatMulQuant(e, g1, dy, q, false, acc)
				check(t, e.Name()+" "+format+" backward", g0.F32(), g1.F32())
			}
		}
	}
}

func check(t *testing.T, what string, want, got []float32) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(want[i] - got[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s: element %d = %v, dequantised MatMul gives %v", what, i, got[i], want[i])
		}
	}
}
