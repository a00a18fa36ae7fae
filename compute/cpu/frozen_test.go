package cpu

import (
	"fmt"
	"slices"
	"testing"

	"hone/tensor"
)

// TestFrozenPanels checks that products by a frozen bf16 weight (panels
// packed once and kept) give exactly the results of packing at every
// product (the same sums in the same order), in both orientations, accumulating or not, over awkward sizes,
// rows blocks (a small packABytes) and k blocks; and that Thaw and the
// budget take effect.
func TestFrozenPanels(t *testing.T) {
	r := newRand(11)
	saved := packABytes
	defer func() { packABytes = saved }()
	for _, ks := range availableKernels() {
		if ks.bf16 == nil {
			continue
		}
		for _, sh := range [][3]int{{7, 63, 65}, {65, 577, 47}, {9, 1, 577}, {130, 1600, 97}, {33, 2*kcBF16 + 5, 49}} {
			m, k, n := sh[0], sh[1], sh[2]
			for _, tb := range []bool{true, false} {
				for _, small := range []bool{false, true} {
					name := fmt.Sprintf("%s/%dx%dx%d/tb=%v/smallA=%v", ks.name, m, k, n, tb, small)
					packABytes = saved
					if small {
						packABytes = 64 * 4 * k // rows in blocks of 64
					}
					a := randT(r, m, k)
					w := randT(r, k, n)
					if tb {
						w = randT(r, n, k)
					}
					w = w.To(tensor.BF16)
					c0 := randT(r, m, n)
					plain := newWithKernels(2, ks)
					frozen := newWithKernels(2, ks)
					frozen.Freeze(w)
					for _, acc := range []bool{false, true} {
						want := tensor.FromF32(slices.Clone(c0.F32()), m, n)
						got := tensor.FromF32(slices.Clone(c0.F32()), m, n)
						plain.MatMul(want, a, w, false, tb, acc)
						frozen.MatMul(got, a, w, false, tb, acc)
						mc := max(64, packABytes/4/k/64*64)
						if m > mc && k > 2*kcBF16 {
							// packing each time splits k here (the frozen
							// panels need not): the sums differ in order
							closeTo(t, name, got.F32(), want.F32(), 1e-5)
						} else if !slices.Equal(got.F32(), want.F32()) {
							t.Fatalf("%s acc=%v: frozen panels give other results", name, acc)
						}
					}
					if m > gemvRows && frozen.frozen.used == 0 {
						t.Fatalf("%s: nothing was packed for the frozen weight", name)
					}
					frozen.Thaw(w)
					if frozen.frozen.used != 0 || len(frozen.frozen.w) != 0 {
						t.Fatalf("%s: Thaw left %d bytes, %d weights", name, frozen.frozen.used, len(frozen.frozen.w))
					}
					plain.Close()
					frozen.Close()
				}
			}
		}
	}
	packABytes = saved
	// a budget too small for all the weights keeps none of them, and the
	// product is still right
	e := New(2)
	defer e.Close()
	a, w := randT(r, 64, 128), randT(r, 96, 128).To(tensor.BF16)
	e.SetFrozenBudget(2*int64(len(w.Data)) + 1000)
	e.Freeze(w, randT(r, 96, 128).To(tensor.BF16))
	if len(e.frozen.w) != 0 {
		t.Fatalf("Freeze kept %d weights beyond its budget", len(e.frozen.w))
	}
	e.SetFrozenBudget(1000)
	e.Freeze(w)
	got, want := tensor.New(tensor.F32, 64, 96), tensor.New(tensor.F32, 64, 96)
	e.MatMul(got, a, w, false, true, false)
	e.Thaw(w)
	e.MatMul(want, a, w, false, true, false)
	if e.frozen.used != 0 || !slices.Equal(got.F32(), want.F32()) {
		t.Fatalf("over budget: used %d bytes, equal results %v", e.frozen.used, slices.Equal(got.F32(), want.F32()))
	}
}
