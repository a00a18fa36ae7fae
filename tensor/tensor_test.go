package tensor

import (
	"math"
	"testing"
)

func TestBF16RoundTrip(t *testing.T) {
	tests := []struct {
		in   float32
		want uint16
	}{
		{0, 0},
		{1, 0x3f80},
		{-2, 0xc000},
		{float32(math.Inf(1)), 0x7f80},
		{1.00390625, 0x3f80}, // exactly half-way, even stays
		{1.01171875, 0x3f82}, // half-way, odd rounds up
		{3.14159265, 0x4049}, // pi
		{65504, 0x4780},      // 0x477fe000 rounds up to the next even
	}
	for _, tt := range tests {
		if got := F32ToBF16(tt.in); got != tt.want {
			t.Errorf("F32ToBF16(%v) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
	if !math.IsNaN(float64(BF16ToF32(F32ToBF16(float32(math.NaN()))))) {
		t.Error("NaN did not survive a bf16 round trip")
	}
	for h := 0; h < 1<<16; h++ {
		f := BF16ToF32(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		if back := F32ToBF16(f); back != uint16(h) {
			t.Fatalf("F32ToBF16(BF16ToF32(%#04x)) = %#04x", h, back)
		}
	}
}

func TestF16RoundTrip(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		if back := F32ToF16(f); back != uint16(h) {
			t.Fatalf("F32ToF16(F16ToF32(%#04x)) = %#04x (f=%v)", h, back, f)
		}
	}
	tests := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {6e-8, 0x0001}, {2.98e-8, 0}, {0.1, 0x2e66},
	}
	for _, tt := range tests {
		if got := F32ToF16(tt.in); got != tt.want {
			t.Errorf("F32ToF16(%v) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
}

func TestViews(t *testing.T) {
	x := New(F32, 3, 4)
	v := x.F32()
	for i := range v {
		v[i] = float32(i)
	}
	r := x.Reshape(2, -1)
	if r.Shape[1] != 6 || r.F32()[7] != 7 {
		t.Fatalf("Reshape(2,-1) = %v", r)
	}
	s := x.Slice(1, 3)
	if s.Shape[0] != 2 || s.F32()[0] != 4 {
		t.Fatalf("Slice(1,3) = %v first %v", s, s.F32()[0])
	}
	s.F32()[0] = 40
	if v[4] != 40 {
		t.Fatal("Slice does not share storage")
	}
	var w Tensor
	for _, r := range [][2]int{{0, 3}, {2, 3}, {1, 1}} {
		x.SliceTo(&w, r[0], r[1])
		want := x.Slice(r[0], r[1])
		if w.DType != want.DType || !w.SameShape(want) || len(w.Data) != len(want.Data) || cap(w.Data) != cap(want.Data) ||
			(len(w.Data) > 0 && &w.Data[0] != &want.Data[0]) {
			t.Fatalf("SliceTo(%d, %d) = %v, Slice gives %v", r[0], r[1], &w, want)
		}
	}
	if n := testing.AllocsPerRun(10, func() { x.SliceTo(&w, 1, 2) }); n != 0 {
		t.Fatalf("SliceTo into a used view allocates %v times", n)
	}
	b := x.To(BF16)
	if b.ToF32().F32()[11] != 11 {
		t.Fatal("F32 -> BF16 -> F32 changed a small integer")
	}
	if _, err := FromBytes(F32, make([]byte, 5), 2); err == nil {
		t.Fatal("FromBytes accepted a wrong length")
	}
}
