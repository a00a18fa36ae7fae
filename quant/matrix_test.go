package quant

import (
	"math/rand/v2"
	"testing"

	"hone/tensor"
)

// TestMatrixRowsBF16: the bf16 tile path rounds exactly the float32
// dequantisation, for every format and row range (including ranges that
// start and end inside NF4 blocks).
func TestMatrixRowsBF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	w := tensor.New(tensor.F32, 37, 96)
	for i := range w.F32() {
		w.F32()[i] = float32(rng.NormFloat64())
	}
	for _, f := range MatrixFormats {
		m, err := QuantizeMatrix(w, f, true)
		if err != nil {
			t.Fatal(err)
		}
		full := m.Dequantize().F32()
		for _, r := range [][2]int{{0, 37}, {1, 2}, {3, 20}, {36, 37}} {
			got := make([]uint16, (r[1]-r[0])*96)
			m.DequantizeRowsBF16(got, r[0], r[1])
			for i, h := range got {
				if want := tensor.F32ToBF16(full[r[0]*96+i]); h != want {
					t.Fatalf("%s rows %v: element %d = %#x, want %#x", f, r, i, h, want)
				}
			}
		}
		if m.Format() != f {
			t.Errorf("Format() = %q, want %q", m.Format(), f)
		}
	}
}
