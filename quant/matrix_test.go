package quant

import (
	"math/rand/v2"
	"slices"
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

// TestQuantizeMatrixBF16Chunks: a bf16 weight quantised to NF4 a chunk at a
// time, in parallel, gives exactly the codes and scales of the whole weight
// widened first (sizes over several chunks, a partial last block, with and
// without double quantisation).
func TestQuantizeMatrixBF16Chunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, sh := range [][2]int{{7, 100}, {1, 64}, {300, 1000}, {3, 3*nf4ChunkValues/4 + 10}} {
		w := tensor.New(tensor.BF16, sh[0], sh[1])
		for i := range w.BF16() {
			w.BF16()[i] = tensor.F32ToBF16(float32(rng.NormFloat64()))
		}
		w.BF16()[0] = 0 // an all-zero block is fine too
		for _, double := range []bool{false, true} {
			got, err := QuantizeMatrix(w, "nf4", double)
			if err != nil {
				t.Fatal(err)
			}
			want, err := QuantizeNF4(w.ToF32().F32(), NF4BlockSize, double)
			if err != nil {
				t.Fatal(err)
			}
			g := got.NF4
			if string(g.Packed) != string(want.Packed) || !slices.Equal(g.Absmax, want.Absmax) ||
				string(g.QAbsmax) != string(want.QAbsmax) || !slices.Equal(g.Absmax2, want.Absmax2) || g.Offset != want.Offset {
				t.Fatalf("%v double=%v: chunked quantisation differs from the whole weight's", sh, double)
			}
		}
	}
}
