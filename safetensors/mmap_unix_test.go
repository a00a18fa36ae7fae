//go:build unix

package safetensors

import (
	"path/filepath"
	"runtime/debug"
	"slices"
	"testing"

	"hone/tensor"
)

// TestMappedTensorIsReadOnly checks the documented contract: a tensor from
// Open is a view of a read-only mapping, so writing to it faults instead of
// silently changing a frozen weight (or the file).
func TestMappedTensorIsReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := Write(path, []Named{{"w", tensor.FromF32([]float32{1, 2, 3, 4}, 4)}}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := f.Tensor("w")
	if err != nil {
		t.Fatal(err)
	}
	faulted := func() (faulted bool) {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() { faulted = recover() != nil }()
		w.F32()[0] = 42
		return false
	}()
	if !faulted {
		t.Errorf("writing to a mapped tensor did not fault; want read-only memory")
	}
	if got := w.F32()[0]; got != 1 {
		t.Errorf("mapped tensor w[0] = %v after the write attempt, want 1", got)
	}
	c := w.Clone()
	c.F32()[0] = 42 // a clone is ordinary memory
	if got := c.F32()[0]; got != 42 {
		t.Errorf("clone w[0] = %v, want 42", got)
	}
}

// TestReleaseKeepsTensors checks that Release drops only residency: tensors
// read before and after it hold the file's values.
func TestReleaseKeepsTensors(t *testing.T) {
	dir := t.TempDir()
	want := []float32{1, -2, 3.5, 1e-3}
	if err := Write(filepath.Join(dir, SingleFile), []Named{{"w", tensor.FromF32(want, 4)}}, nil); err != nil {
		t.Fatal(err)
	}
	s, err := OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, err := s.Tensor("w")
	if err != nil {
		t.Fatal(err)
	}
	_ = w.F32()[0] // fault the page in
	s.Release()
	if got := w.F32(); !slices.Equal(got, want) {
		t.Errorf("after Release, w = %v, want %v", got, want)
	}
}

// TestReleaseTensorKeepsTensors: ReleaseTensor of a tensor spanning several
// pages drops only residency; it and its neighbours keep the file's values,
// and unknown names are ignored.
func TestReleaseTensorKeepsTensors(t *testing.T) {
	dir := t.TempDir()
	big := make([]float32, 5000) // several pages, unaligned to them
	for i := range big {
		big[i] = float32(i) * 0.5
	}
	small := []float32{7, 8, 9}
	if err := Write(filepath.Join(dir, SingleFile), []Named{{"a", tensor.FromF32(small, 3)}, {"b", tensor.FromF32(big, 5000)}, {"c", tensor.FromF32(small, 3)}}, nil); err != nil {
		t.Fatal(err)
	}
	s, err := OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ts []*tensor.Tensor
	for _, n := range []string{"a", "b", "c"} {
		x, err := s.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		_ = x.F32()[0]
		ts = append(ts, x)
	}
	s.ReleaseTensor("b")
	s.ReleaseTensor("nothing")
	if !slices.Equal(ts[0].F32(), small) || !slices.Equal(ts[1].F32(), big) || !slices.Equal(ts[2].F32(), small) {
		t.Error("after ReleaseTensor the tensors differ from the file's")
	}
}
