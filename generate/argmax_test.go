package generate

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestArgmaxKernel checks Argmax (the vector kernels where the CPU has
// them) against argmaxGo on awkward lengths and on rows with NaNs,
// infinities, both zeros, ties and nothing above -Inf.
func TestArgmaxKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	specials := []float32{nan, inf, -inf, 0, negZero, 1e-45, -1e-45, math.MaxFloat32, -math.MaxFloat32}
	check := func(name string, v []float32) {
		t.Helper()
		if got, want := Argmax(v), argmaxGo(v); got != want {
			t.Fatalf("%s, %d logits: Argmax = %d, argmaxGo = %d", name, len(v), got, want)
		}
	}
	for _, n := range []int{1, 7, 8, 31, 32, 33, 63, 64, 65, 577, 1000, 49152, 49153} {
		for trial := 0; trial < 40; trial++ {
			v := make([]float32, n)
			for i := range v {
				v[i] = r.Float32()*20 - 10
			}
			switch trial % 8 {
			case 1: // specials anywhere
				for k := 0; k < 1+n/50; k++ {
					v[r.IntN(n)] = specials[r.IntN(len(specials))]
				}
			case 2: // a tie for the maximum, the later one first found by a lane
				i, j := r.IntN(n), r.IntN(n)
				v[i], v[j] = 100, 100
			case 3: // nothing above -Inf
				for i := range v {
					v[i] = [2]float32{nan, -inf}[r.IntN(2)]
				}
			case 4: // all NaN
				for i := range v {
					v[i] = nan
				}
			case 5: // the maximum is zero, of either sign
				for i := range v {
					v[i] = -r.Float32() - 1
				}
				v[r.IntN(n)], v[r.IntN(n)] = 0, negZero
			case 6: // the maximum in the tail past the vector blocks
				v[n-1] = 50
			case 7: // the maximum first
				v[0] = 50
			}
			check("random", v)
		}
	}
	check("empty", nil)
}

// BenchmarkArgmax times the greedy pick over a 49,152-token vocabulary.
func BenchmarkArgmax(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	v := make([]float32, 49152)
	for i := range v {
		v[i] = r.Float32()*20 - 10
	}
	b.Run("kernel", func(b *testing.B) {
		for b.Loop() {
			Argmax(v)
		}
	})
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			argmaxGo(v)
		}
	})
}
