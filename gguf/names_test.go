package gguf

import (
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestTensorNames(t *testing.T) {
	for _, tc := range []struct{ hf, gguf string }{
		{"model.embed_tokens.weight", "token_embd.weight"},
		{"model.norm.weight", "output_norm.weight"},
		{"lm_head.weight", "output.weight"},
		{"model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight"},
		{"model.layers.17.self_attn.q_proj.weight", "blk.17.attn_q.weight"},
		{"model.layers.3.self_attn.k_proj.weight", "blk.3.attn_k.weight"},
		{"model.layers.3.self_attn.v_proj.weight", "blk.3.attn_v.weight"},
		{"model.layers.3.self_attn.o_proj.weight", "blk.3.attn_output.weight"},
		{"model.layers.3.self_attn.q_proj.bias", "blk.3.attn_q.bias"},
		{"model.layers.3.self_attn.k_proj.bias", "blk.3.attn_k.bias"},
		{"model.layers.3.self_attn.v_proj.bias", "blk.3.attn_v.bias"},
		{"model.layers.3.self_attn.q_norm.weight", "blk.3.attn_q_norm.weight"},
		{"model.layers.3.self_attn.k_norm.weight", "blk.3.attn_k_norm.weight"},
		{"model.layers.120.post_attention_layernorm.weight", "blk.120.ffn_norm.weight"},
		{"model.layers.1.mlp.gate_proj.weight", "blk.1.ffn_gate.weight"},
		{"model.layers.1.mlp.up_proj.weight", "blk.1.ffn_up.weight"},
		{"model.layers.1.mlp.down_proj.weight", "blk.1.ffn_down.weight"},
	} {
		if got, ok := HFToGGUF(tc.hf); !ok || got != tc.gguf {
			t.Errorf("HFToGGUF(%q) = %q, %v, want %q", tc.hf, got, ok, tc.gguf)
		}
		if got, ok := GGUFToHF(tc.gguf); !ok || got != tc.hf {
			t.Errorf("GGUFToHF(%q) = %q, %v, want %q", tc.gguf, got, ok, tc.hf)
		}
	}
	for _, name := range []string{
		"model.layers.x.mlp.up_proj.weight", "model.layers..mlp.up_proj.weight", "model.layers.01.mlp.up_proj.weight",
		"model.layers.-1.mlp.up_proj.weight", "model.layers.1.self_attn.rotary_emb.inv_freq", "blk.1.attn_qkv.weight", "",
	} {
		if got, ok := HFToGGUF(name); ok {
			t.Errorf("HFToGGUF(%q) = %q, true, want no mapping", name, got)
		}
		if got, ok := GGUFToHF(name); ok {
			t.Errorf("GGUFToHF(%q) = %q, true, want no mapping", name, got)
		}
	}
	// the table is a bijection: no two rules share a name on either side
	hf, gg := map[string]bool{}, map[string]bool{}
	for _, r := range TensorNames {
		if hf[r.HF] || gg[r.GGUF] {
			t.Errorf("rule %v repeats a name", r)
		}
		hf[r.HF], gg[r.GGUF] = true, true
		if len(strings.Replace(r.GGUF, "{N}", "999", 1)) > MaxNameLen {
			t.Errorf("GGUF name %q too long for ggml", r.GGUF)
		}
	}
}

func TestPermuteQK(t *testing.T) {
	seq := func(n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = i
		}
		return s
	}
	for _, tc := range []struct {
		heads, rows, cols int
		want              []int // GGUF row r holds HF row want[r]
	}{
		// from torch: LlamaModel.permute(arange(16).reshape(16,1), 2, 2)
		{2, 16, 1, []int{0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15}},
		{2, 8, 3, []int{0, 2, 1, 3, 4, 6, 5, 7}},
		{1, 4, 2, []int{0, 2, 1, 3}},
	} {
		src := seq(tc.rows * tc.cols)
		dst := make([]int, len(src))
		if err := PermuteQK(dst, src, tc.heads, tc.cols); err != nil {
			t.Fatal(err)
		}
		for r, hfRow := range tc.want {
			if got, want := dst[r*tc.cols:(r+1)*tc.cols], src[hfRow*tc.cols:(hfRow+1)*tc.cols]; !slices.Equal(got, want) {
				t.Errorf("PermuteQK(heads %d, rows %d, cols %d): GGUF row %d = %v, want HF row %d = %v", tc.heads, tc.rows, tc.cols, r, got, hfRow, want)
			}
		}
		back := make([]int, len(src))
		if err := UnpermuteQK(back, dst, tc.heads, tc.cols); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(back, src) {
			t.Errorf("UnpermuteQK(PermuteQK(x)) = %v, want %v", back, src)
		}
	}
	// bytes of quantised rows move as whole rows
	src := []byte("aabbccdd")
	dst := make([]byte, len(src))
	PermuteQK(dst, src, 1, 2)
	if string(dst) != "aaccbbdd" {
		t.Errorf("PermuteQK(bytes) = %q, want %q", dst, "aaccbbdd")
	}
	for _, tc := range []struct{ n, heads, cols int }{{10, 2, 1}, {8, 0, 1}, {8, 1, 3}, {9, 3, 1}} {
		if err := PermuteQK(make([]int, tc.n), make([]int, tc.n), tc.heads, tc.cols); err == nil {
			t.Errorf("PermuteQK(%d values, %d heads, cols %d) = nil error, want one", tc.n, tc.heads, tc.cols)
		}
	}
	if !QKPermuted("llama") || QKPermuted("qwen2") || QKPermuted("qwen3") {
		t.Errorf("QKPermuted: llama %v qwen2 %v qwen3 %v, want true false false", QKPermuted("llama"), QKPermuted("qwen2"), QKPermuted("qwen3"))
	}
}

func TestHParamsAndTokenizerRoundTrip(t *testing.T) {
	h := HParams{Arch: "llama", ContextLength: 2048, EmbeddingLength: 64, BlockCount: 2, FeedForwardLength: 172,
		HeadCount: 8, HeadCountKV: 4, RopeFreqBase: 500000, RMSEpsilon: 1e-5, VocabSize: 4}
	yes := true
	tok := TokenizerMeta{Model: "gpt2", Pre: "llama-bpe", Tokens: []string{"<s>", "</s>", "a", "b"},
		TokenTypes: []int32{TokenControl, TokenControl, TokenNormal, TokenNormal}, Merges: []string{"a b"},
		BOS: 0, EOS: 1, Unknown: -1, Pad: 1, AddBOS: &yes, ChatTemplate: "{{ messages }}"}
	m := &Metadata{}
	if err := h.Put(m); err != nil {
		t.Fatal(err)
	}
	if err := tok.Put(m); err != nil {
		t.Fatal(err)
	}
	// llama.cpp's loader wants uint32 counts and float32 reals
	for key, want := range map[string]any{
		"llama.context_length": uint32(2048), "llama.block_count": uint32(2), "llama.attention.head_count_kv": uint32(4),
		"llama.rope.dimension_count": uint32(8), "llama.rope.freq_base": float32(500000),
		"llama.attention.layer_norm_rms_epsilon": float32(1e-5), "tokenizer.ggml.bos_token_id": uint32(0),
		"tokenizer.ggml.add_bos_token": true, "tokenizer.ggml.model": "gpt2",
	} {
		if got, _ := m.Get(key); got != want {
			t.Errorf("metadata %q = %#v, want %#v", key, got, want)
		}
	}
	path := filepath.Join(t.TempDir(), "h.gguf")
	w, err := Create(path, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h2, err := ReadHParams(&f.Meta)
	if err != nil {
		t.Fatal(err)
	}
	h.RopeDimCount = 8
	if h2 != h {
		t.Errorf("ReadHParams = %+v, want %+v", h2, h)
	}
	tok2, err := ReadTokenizer(&f.Meta)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tok2, tok) {
		t.Errorf("ReadTokenizer = %+v, want %+v", tok2, tok)
	}

	// every problem at once, each naming its key
	bad := &Metadata{}
	bad.Set(KeyArchitecture, "qwen2")
	bad.Set("qwen2.context_length", "long")
	bad.Set("qwen2.attention.layer_norm_rms_epsilon", uint32(1))
	_, err = ReadHParams(bad)
	for _, key := range []string{"qwen2.context_length", "qwen2.embedding_length", "qwen2.block_count", "qwen2.attention.layer_norm_rms_epsilon"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("ReadHParams(bad) err = %v, want it to name %q", err, key)
		}
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) < 4 {
		t.Errorf("ReadHParams(bad) reported %v, want every problem", err)
	}
	tok.BOS = 9
	if err := tok.Put(&Metadata{}); err == nil || !strings.Contains(err.Error(), KeyBOSID) {
		t.Errorf("TokenizerMeta.Put(bos out of range) err = %v", err)
	}
}
