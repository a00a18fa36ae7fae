package tensor

import (
	"math"
	"testing"
	"unsafe"
)

// TestArena: tensors come out in order, aligned, zeroed, disjoint, and the
// arena refuses to hand out more than it holds.
func TestArena(t *testing.T) {
	shapes := [][]int{{3, 5}, {1}, {7, 65}, {577}, {2, 2}}
	dts := []DType{F32, BF16, BF16, F32, F64}
	size := 0
	for i, s := range shapes {
		size += ArenaSize(dts[i], s...)
	}
	a := NewArena(size)
	var prev uintptr
	for i, s := range shapes {
		x := a.New(dts[i], s...)
		if x.DType != dts[i] || !x.SameShape(&Tensor{Shape: s}) || len(x.Data) != numel(s)*dts[i].Size() {
			t.Fatalf("tensor %d: %v, %d bytes", i, x, len(x.Data))
		}
		p := uintptr(unsafe.Pointer(&x.Data[0]))
		if p%ArenaAlign != 0 || (i > 0 && p <= prev) {
			t.Errorf("tensor %d at %#x (previous %#x): want %d-aligned, after the previous", i, p, prev, ArenaAlign)
		}
		for _, b := range x.Data {
			if b != 0 {
				t.Fatalf("tensor %d not zeroed", i)
			}
		}
		for j := range x.Data {
			x.Data[j] = byte(i + 1)
		}
		if cap(x.Data) != len(x.Data) {
			t.Errorf("tensor %d: capacity %d reaches past its %d bytes", i, cap(x.Data), len(x.Data))
		}
		prev = p
	}
	if a.Left() != 0 {
		t.Errorf("Left = %d, want 0", a.Left())
	}
	defer func() {
		if recover() == nil {
			t.Error("New past the end did not panic")
		}
	}()
	a.New(F32, 1)
}

// TestArenaHuge: an arena of huge pages' size starts on a 2 MiB boundary.
func TestArenaHuge(t *testing.T) {
	a := NewArena(3 * hugePage)
	if p := uintptr(unsafe.Pointer(&a.buf[0])); p%hugePage != 0 {
		t.Errorf("arena at %#x, want 2 MiB-aligned", p)
	}
	x := a.New(BF16, 3*hugePage/2)
	x.Data[len(x.Data)-1] = 1
	a.Settle()
	if x.Data[len(x.Data)-1] != 1 {
		t.Error("Settle changed the arena's contents")
	}
}

// TestCopyTo: converting into a tensor agrees with To, and sizes must match.
func TestCopyTo(t *testing.T) {
	src := New(F32, 4, 3)
	for i := range src.F32() {
		src.F32()[i] = float32(i)*1.001 - 5 + float32(math.Pi)
	}
	for _, dt := range []DType{F32, BF16, F16, F64} {
		dst := New(dt, 12)
		src.CopyTo(dst)
		want := src.To(dt)
		if string(dst.Data) != string(want.Data) {
			t.Errorf("CopyTo %v differs from To", dt)
		}
		back := New(F32, 3, 4)
		dst.CopyTo(back)
		if string(back.Data) != string(want.ToF32().Data) {
			t.Errorf("CopyTo from %v to F32 differs from ToF32", dt)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("CopyTo of 12 elements into 11 did not panic")
		}
	}()
	src.CopyTo(New(BF16, 11))
}
