package model_test

import (
	"fmt"
	"runtime"
	"strings"
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

// shapeSource is a source that also tells shapes without reading, as
// safetensors.Set does, and counts the tensors read.
type shapeSource struct {
	source
	shapes map[string][]int
	reads  int
}

func (s *shapeSource) Shape(name string) ([]int, error) {
	sh, ok := s.shapes[name]
	if !ok {
		return nil, fmt.Errorf("no tensor %q", name)
	}
	return sh, nil
}

func (s *shapeSource) Tensor(name string) (*tensor.Tensor, error) {
	s.reads++
	return s.source.Tensor(name)
}

// TestLoadWeightsHugeConfig: a config whose sizes overflow or exceed what
// hone loads is an error naming the keys, never a panic in the arena.
func TestLoadWeightsHugeConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *model.Config)
		want string
	}{
		{"overflowing product", func(c *model.Config) {
			c.Hidden, c.Intermediate, c.HeadDim, c.Vocab = 1<<32, 1<<32, 1<<32, 1<<32
		}, "hidden_size"},
		{"huge vocabulary", func(c *model.Config) { c.Vocab = 1 << 40 }, "vocab_size"},
		{"deep", func(c *model.Config) { c.Layers = 1 << 32 }, "num_hidden_layers"},
		{"negative", func(c *model.Config) { c.Intermediate = -1 }, "intermediate_size"},
	} {
		c := tinyConfig("llama")
		tc.edit(c)
		_, err := model.LoadWeights(c, &source{}, model.FP32)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: LoadWeights = %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
}

// TestLoadWeightsChecksShapesFirst: when the source can tell shapes, a
// config that claims more than the checkpoint holds fails before anything
// is read or allocated for the weights, reporting every mismatch.
func TestLoadWeightsChecksShapesFirst(t *testing.T) {
	c := tinyConfig("llama")
	w0 := randomWeights(c, tensor.F32, 5)
	src := &shapeSource{source: source{ts: map[string]*tensor.Tensor{}}, shapes: map[string][]int{}}
	for _, p := range w0.Params(c) {
		src.ts[p.Name] = *p.Ptr
		src.shapes[p.Name] = p.Shape
		src.names = append(src.names, p.Name)
	}
	if _, err := model.LoadWeights(c, src, model.FP32); err != nil {
		t.Fatalf("LoadWeights(matching source) = %v", err)
	}
	// the config claims a 1 GiB embedding the checkpoint does not have
	big := *c
	big.Vocab, big.Hidden, big.HeadDim, big.Heads, big.KVHeads = 1<<16, 1<<12, 1<<8, 1<<4, 1<<4
	src.reads = 0
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := model.LoadWeights(&big, src, model.FP32)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "model.embed_tokens.weight has shape") || !strings.Contains(err.Error(), "lm_head.weight has shape") {
		t.Fatalf("LoadWeights(config larger than the checkpoint) = %v, want every shape mismatch", err)
	}
	if src.reads != 0 {
		t.Errorf("LoadWeights read %d tensors before reporting shape mismatches, want 0", src.reads)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
		t.Errorf("LoadWeights allocated %d bytes before failing, want no arena", got)
	}
}

// TestParseConfigRejectsHugeSizes: config.json sizes that overflow or
// describe more than hone loads are errors naming the keys.
func TestParseConfigRejectsHugeSizes(t *testing.T) {
	base := `"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
		"num_attention_heads": 4, "vocab_size": 100`
	if _, err := model.ParseConfig([]byte("{" + base + "}")); err != nil {
		t.Fatalf("ParseConfig(base) = %v", err)
	}
	for _, tc := range []struct{ extra, want string }{
		{`"hidden_size": 4294967296, "num_attention_heads": 1, "intermediate_size": 4294967296`, "hidden_size"},
		{`"num_hidden_layers": 4294967296`, "num_hidden_layers"},
		{`"vocab_size": 1099511627776`, "vocab_size × hidden_size"},
		{`"intermediate_size": 1099511627776, "hidden_size": 1048576, "head_dim": 2`, "intermediate_size × hidden_size"},
		{`"head_dim": 1099511627776`, "head_dim"},
		{`"num_hidden_layers": 65536, "intermediate_size": 16777216`, "num_hidden_layers 65536"},
	} {
		_, err := model.ParseConfig([]byte("{" + base + ", " + tc.extra + "}"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseConfig(%s) = %v, want an error naming %q", tc.extra, err, tc.want)
		}
	}
}
