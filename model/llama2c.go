package model

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"

	"hone/tensor"
)

// ReadLlama2C reads a checkpoint in llama2.c's legacy format (seven int32
// header fields, then float32 tensors) and returns it as a Llama config and
// Hugging Face-layout weights. The q and k projection rows are permuted from
// llama2.c's interleaved rotary pairs (i, i+1) to Hugging Face's rotate-half
// layout, exactly as Meta-to-Hugging-Face conversion does, so that the
// converted model computes what llama2.c's run.c computes.
func ReadLlama2C(path string) (*Config, *Weights, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	fail := func(format string, args ...any) (*Config, *Weights, error) {
		return nil, nil, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
	if len(data) >= 4 && string(data[:4]) == "ak42" {
		return fail("llama2.c export format v1+ (magic \"ak42\") is not supported; use the legacy format (export version 0)")
	}
	if len(data) < 28 {
		return fail("too short for a llama2.c header (%d bytes)", len(data))
	}
	var h [7]int32
	for i := range h {
		h[i] = int32(binary.LittleEndian.Uint32(data[4*i:]))
	}
	dim, hidden, layers, heads, kvHeads, vocab, seqLen := int(h[0]), int(h[1]), int(h[2]), int(h[3]), int(h[4]), int(h[5]), int(h[6])
	shared := vocab > 0
	if vocab < 0 {
		vocab = -vocab
	}
	for i, v := range []int{dim, hidden, layers, heads, kvHeads, vocab, seqLen} {
		if v <= 0 || v > 1<<20 {
			return fail("header field %d has the implausible value %d", i, v)
		}
	}
	if dim%heads != 0 || heads%kvHeads != 0 || (dim/heads)%2 != 0 {
		return fail("dim %d, %d heads and %d kv heads do not make even, whole heads", dim, heads, kvHeads)
	}
	hd := dim / heads
	kv := kvHeads * hd
	c := &Config{
		ModelType: "llama", Hidden: dim, Intermediate: hidden, Layers: layers,
		Heads: heads, KVHeads: kvHeads, HeadDim: hd, Vocab: vocab, MaxPositions: seqLen,
		RMSEps: 1e-5, TieEmbeddings: shared, BOS: 1, EOS: []int{2}, Pad: -1, DType: "float32",
		Rope: Rope{Theta: 10000, Type: "default", Factor: 1},
	}
	c.Raw = c.HFConfig()
	r := &f32reader{data: data[28:]}
	w := &Weights{Layers: make([]Layer, layers)}
	w.Embed = r.next(vocab, dim)
	stack := func(rows, cols int) []*tensor.Tensor {
		out := make([]*tensor.Tensor, layers)
		for i := range out {
			out[i] = r.next(rows, cols)
		}
		return out
	}
	attnNorm := stack(1, dim)
	wq, wk, wv, wo := stack(dim, dim), stack(kv, dim), stack(kv, dim), stack(dim, dim)
	ffnNorm := stack(1, dim)
	w1, w2, w3 := stack(hidden, dim), stack(dim, hidden), stack(hidden, dim)
	w.Norm = r.next(dim)
	r.next(seqLen, hd/2) // freq_cis_real: recomputed from theta
	r.next(seqLen, hd/2) // freq_cis_imag
	if r.err != nil {
		return fail("truncated: %v", r.err)
	}
	if shared {
		w.LMHead = w.Embed
	} else {
		w.LMHead = r.next(vocab, dim)
		if r.err != nil {
			return fail("truncated: %v", r.err)
		}
	}
	if len(r.data) != 0 {
		return fail("%d bytes left after the last tensor; header and file size disagree", len(r.data))
	}
	for i := range w.Layers {
		l := &w.Layers[i]
		l.AttnNorm = attnNorm[i].Reshape(dim)
		l.MLPNorm = ffnNorm[i].Reshape(dim)
		l.Q.W = PermuteRotary(wq[i], heads)
		l.K.W = PermuteRotary(wk[i], kvHeads)
		l.V.W, l.O.W = wv[i], wo[i]
		l.Gate.W, l.Down.W, l.Up.W = w1[i], w2[i], w3[i]
	}
	return c, w, nil
}

// PermuteRotary reorders the rows of a q or k projection [heads*hd, in]
// from interleaved rotary pairs (rows 2j, 2j+1 of a head rotate together) to
// the rotate-half layout (rows j, j+hd/2), as Hugging Face's conversion of
// Meta checkpoints does. UnpermuteRotary is its inverse (llama.cpp's GGUF
// layout uses the interleaved order).
func PermuteRotary(w *tensor.Tensor, heads int) *tensor.Tensor {
	return permuteRows(w, heads, func(j, e, half int) (int, int) { return 2*j + e, e*half + j })
}

// UnpermuteRotary is the inverse of PermuteRotary.
func UnpermuteRotary(w *tensor.Tensor, heads int) *tensor.Tensor {
	return permuteRows(w, heads, func(j, e, half int) (int, int) { return e*half + j, 2*j + e })
}

func permuteRows(w *tensor.Tensor, heads int, idx func(j, e, half int) (src, dst int)) *tensor.Tensor {
	rows, cols := w.Shape[0], w.Shape[1]
	hd := rows / heads
	half := hd / 2
	out := tensor.New(w.DType, rows, cols)
	rb := cols * w.DType.Size()
	for h := 0; h < heads; h++ {
		for j := 0; j < half; j++ {
			for e := 0; e < 2; e++ {
				s, d := idx(j, e, half)
				s, d = h*hd+s, h*hd+d
				copy(out.Data[d*rb:(d+1)*rb], w.Data[s*rb:(s+1)*rb])
			}
		}
	}
	return out
}

type f32reader struct {
	data []byte
	err  error
}

func (r *f32reader) next(shape ...int) *tensor.Tensor {
	t := tensor.New(tensor.F32, shape...)
	n := len(t.Data)
	if r.err != nil {
		return t
	}
	if len(r.data) < n {
		r.err = io.ErrUnexpectedEOF
		return t
	}
	v := t.F32()
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(r.data[4*i:]))
	}
	r.data = r.data[n:]
	return t
}

// HFConfig returns the config as a transformers config.json object (the
// transformers 5 spelling, with rope_parameters, plus rope_theta for
// readers that only know transformers 4), merged over Raw so that keys hone
// does not interpret are kept.
func (c *Config) HFConfig() map[string]any {
	out := map[string]any{}
	for k, v := range c.Raw {
		out[k] = v
	}
	arch := map[string]string{"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}[c.ModelType]
	out["architectures"] = []any{arch}
	out["model_type"] = c.ModelType
	out["hidden_size"] = c.Hidden
	out["intermediate_size"] = c.Intermediate
	out["num_hidden_layers"] = c.Layers
	out["num_attention_heads"] = c.Heads
	out["num_key_value_heads"] = c.KVHeads
	out["head_dim"] = c.HeadDim
	out["vocab_size"] = c.Vocab
	out["max_position_embeddings"] = c.MaxPositions
	out["rms_norm_eps"] = c.RMSEps
	out["tie_word_embeddings"] = c.TieEmbeddings
	out["hidden_act"] = "silu"
	if c.ModelType == "llama" || c.ModelType == "mistral" {
		out["attention_bias"] = c.QKVBias
		out["mlp_bias"] = c.MLPBias
	}
	if c.BOS >= 0 {
		out["bos_token_id"] = c.BOS
	}
	switch len(c.EOS) {
	case 0:
	case 1:
		out["eos_token_id"] = c.EOS[0]
	default:
		out["eos_token_id"] = c.EOS
	}
	if c.Pad >= 0 {
		out["pad_token_id"] = c.Pad
	}
	rope := map[string]any{"rope_theta": c.Rope.Theta, "rope_type": c.Rope.Type}
	if c.Rope.Type != "default" {
		rope["factor"] = c.Rope.Factor
		rope["original_max_position_embeddings"] = c.Rope.OriginalMaxPositions
		if c.Rope.Type == "llama3" {
			rope["low_freq_factor"] = c.Rope.LowFreqFactor
			rope["high_freq_factor"] = c.Rope.HighFreqFactor
		}
	}
	delete(out, "rope_scaling")
	out["rope_parameters"] = rope
	out["rope_theta"] = c.Rope.Theta
	if c.DType != "" {
		out["torch_dtype"] = c.DType
	}
	return out
}
