package model_test

import (
	"fmt"
	"testing"
	"unsafe"

	"hone/model"
	"hone/tensor"
)

// source is a model.Source over a map that records the tensors it was
// asked to release.
type source struct {
	ts       map[string]*tensor.Tensor
	names    []string
	released []string
}

func (s *source) Names() []string { return s.names }

func (s *source) Tensor(name string) (*tensor.Tensor, error) {
	t, ok := s.ts[name]
	if !ok {
		return nil, fmt.Errorf("no tensor %q", name)
	}
	return t, nil
}

func (s *source) ReleaseTensor(name string) { s.released = append(s.released, name) }

// TestLoadWeightsArena: loaded matrices hold the source's values in the
// precision's dtype, lie one after the other in checkpoint order (one block
// that a decoded token reads front to back), and each is released from the
// source once copied; vectors are float32 and not released.
func TestLoadWeightsArena(t *testing.T) {
	for _, family := range []string{"llama", "tied", "qwen2"} {
		for _, prec := range []model.Precision{model.FP32, model.BF16} {
			c := tinyConfig(family)
			w0 := randomWeights(c, tensor.BF16, 5)
			src := &source{ts: map[string]*tensor.Tensor{}}
			for _, p := range w0.Params(c) {
				src.ts[p.Name] = *p.Ptr
				src.names = append(src.names, p.Name)
			}
			w, err := model.LoadWeights(c, src, prec)
			if err != nil {
				t.Fatal(err)
			}
			want := tensor.F32
			if prec == model.BF16 {
				want = tensor.BF16
			}
			var end uintptr
			var matrices []string
			for _, p := range w.Params(c) {
				got, orig := *p.Ptr, src.ts[p.Name]
				if len(p.Shape) != 2 {
					if got.DType != tensor.F32 {
						t.Errorf("%s %v: %s is %v, want F32", family, prec, p.Name, got.DType)
					}
					continue
				}
				matrices = append(matrices, p.Name)
				if got.DType != want || string(got.Data) != string(orig.To(want).Data) {
					t.Errorf("%s %v: %s is %v, not the source's values as %v", family, prec, p.Name, got, want)
				}
				if &got.Data[0] == &orig.Data[0] {
					t.Errorf("%s %v: %s aliases the source", family, prec, p.Name)
				}
				start := uintptr(unsafe.Pointer(&got.Data[0]))
				if end != 0 && (start < end || start-end >= tensor.ArenaAlign) {
					t.Errorf("%s %v: %s starts at %#x, previous matrix ended at %#x: want the next aligned address", family, prec, p.Name, start, end)
				}
				end = start + uintptr(len(got.Data))
			}
			if fmt.Sprint(src.released) != fmt.Sprint(matrices) {
				t.Errorf("%s %v: released %v, want the matrices %v", family, prec, src.released, matrices)
			}
			if c.TieEmbeddings && w.LMHead != w.Embed {
				t.Errorf("%s %v: tied LM head is not the embedding", family, prec)
			}
		}
	}
}
