package gguf

import (
	"fmt"
	"strconv"
	"strings"
)

// NameRule pairs a Hugging Face tensor name with its GGUF name. "{N}"
// stands for the block (layer) number in both.
type NameRule struct {
	HF   string
	GGUF string
}

// TensorNames is the HF <-> GGUF tensor-name table of the llama family
// (llama, mistral, qwen2, qwen3), as llama.cpp's gguf-py tensor_mapping
// names them. Import and export both read it (DESIGN principle 12).
var TensorNames = []NameRule{
	{"model.embed_tokens.weight", "token_embd.weight"},
	{"model.norm.weight", "output_norm.weight"},
	{"lm_head.weight", "output.weight"},
	{"model.layers.{N}.input_layernorm.weight", "blk.{N}.attn_norm.weight"},
	{"model.layers.{N}.self_attn.q_proj.weight", "blk.{N}.attn_q.weight"},
	{"model.layers.{N}.self_attn.k_proj.weight", "blk.{N}.attn_k.weight"},
	{"model.layers.{N}.self_attn.v_proj.weight", "blk.{N}.attn_v.weight"},
	{"model.layers.{N}.self_attn.o_proj.weight", "blk.{N}.attn_output.weight"},
	{"model.layers.{N}.self_attn.q_proj.bias", "blk.{N}.attn_q.bias"},          // qwen2
	{"model.layers.{N}.self_attn.k_proj.bias", "blk.{N}.attn_k.bias"},          // qwen2
	{"model.layers.{N}.self_attn.v_proj.bias", "blk.{N}.attn_v.bias"},          // qwen2
	{"model.layers.{N}.self_attn.q_norm.weight", "blk.{N}.attn_q_norm.weight"}, // qwen3
	{"model.layers.{N}.self_attn.k_norm.weight", "blk.{N}.attn_k_norm.weight"}, // qwen3
	{"model.layers.{N}.post_attention_layernorm.weight", "blk.{N}.ffn_norm.weight"},
	{"model.layers.{N}.mlp.gate_proj.weight", "blk.{N}.ffn_gate.weight"},
	{"model.layers.{N}.mlp.up_proj.weight", "blk.{N}.ffn_up.weight"},
	{"model.layers.{N}.mlp.down_proj.weight", "blk.{N}.ffn_down.weight"},
}

// HFToGGUF returns the GGUF name of a Hugging Face tensor name.
func HFToGGUF(name string) (string, bool) { return mapName(name, false) }

// GGUFToHF returns the Hugging Face name of a GGUF tensor name.
func GGUFToHF(name string) (string, bool) { return mapName(name, true) }

func mapName(name string, fromGGUF bool) (string, bool) {
	for _, r := range TensorNames {
		from, to := r.HF, r.GGUF
		if fromGGUF {
			from, to = to, from
		}
		i := strings.Index(from, "{N}")
		if i < 0 {
			if name == from {
				return to, true
			}
			continue
		}
		pre, post := from[:i], from[i+3:]
		if !strings.HasPrefix(name, pre) || !strings.HasSuffix(name, post) || len(name) <= len(pre)+len(post) {
			continue
		}
		num := name[len(pre) : len(name)-len(post)]
		if n, err := strconv.Atoi(num); err != nil || n < 0 || strconv.Itoa(n) != num {
			continue
		}
		return strings.Replace(to, "{N}", num, 1), true
	}
	return "", false
}

// QKPermuted reports whether llama.cpp's converter permutes the rows of the
// Q and K projections for arch (a GGUF general.architecture). The llama
// architecture (which Llama 2/3 and Mistral checkpoints all convert to, so a
// Mistral model is exported as "llama") applies RoPE to interleaved pairs
// (GGML_ROPE_TYPE_NORM), so convert_hf_to_gguf.py undoes Hugging Face's
// rotate-half layout; qwen2 and qwen3 use the NeoX rotation, as Hugging Face
// does, and are stored unpermuted.
func QKPermuted(arch string) bool {
	return arch == "llama"
}

// PermuteQK reorders the rows of a Q or K projection (weight [heads·hd,
// cols] or bias, cols = 1) from Hugging Face's layout to llama.cpp's, as
// convert_hf_to_gguf.py's LlamaModel.permute does:
//
//	w.reshape(heads, 2, hd/2, cols).swapaxes(1, 2).reshape(w.shape)
//
// so GGUF row h·hd + 2i + j is HF row h·hd + j·hd/2 + i. Pass the number of
// query heads for Q and of key-value heads for K. E is the element type; a
// quantised matrix can be permuted too, with E = byte and cols its row size
// in bytes, since the permutation moves whole rows.
func PermuteQK[E any](dst, src []E, heads, cols int) error {
	return permuteRows(dst, src, heads, cols, false)
}

// UnpermuteQK is the inverse of PermuteQK: llama.cpp's Q/K row order back to
// Hugging Face's.
func UnpermuteQK[E any](dst, src []E, heads, cols int) error {
	return permuteRows(dst, src, heads, cols, true)
}

func permuteRows[E any](dst, src []E, heads, cols int, inverse bool) error {
	if heads <= 0 || cols <= 0 || len(src)%cols != 0 || len(dst) != len(src) {
		return fmt.Errorf("gguf: permute %d values (dst %d) as rows of %d for %d heads", len(src), len(dst), cols, heads)
	}
	rows := len(src) / cols
	if rows%(2*heads) != 0 {
		return fmt.Errorf("gguf: permute %d rows: not a whole number of heads of even size (%d heads)", rows, heads)
	}
	hd := rows / heads
	half := hd / 2
	for h := range heads {
		for i := range half {
			for j := range 2 {
				g := h*hd + 2*i + j    // llama.cpp row
				f := h*hd + j*half + i // Hugging Face row
				if inverse {
					g, f = f, g
				}
				copy(dst[g*cols:(g+1)*cols], src[f*cols:(f+1)*cols])
			}
		}
	}
	return nil
}
