package export

import (
	"encoding/json"
	"fmt"
	"strings"

	"hone/gguf"
	"hone/model"
	"hone/tensor"
)

// Metadata keys llama.cpp reads that package gguf does not name, and the
// one hone adds.
const (
	keyEOTID        = "tokenizer.ggml.eot_token_id"
	keyRopeScaling  = "hone.rope_parameters" // the config's RoPE parameters (JSON), for hone's reader
	keyGeneralType  = "general.type"
	keyAdapterType  = "adapter.type"
	keyAdapterAlpha = "adapter.lora.alpha"
	ropeFreqsName   = "rope_freqs.weight"
)

// GGUFOptions control a GGUF export.
type GGUFOptions struct {
	// Type is the tensor type of the large matrices: F32, F16, BF16, Q8_0,
	// Q4_0 or Q4_K (the Q4_K_M mix). Norms and biases are always F32.
	Type gguf.TensorType
	// Name is general.name; empty omits it.
	Name string
}

// Arch returns the GGUF architecture llama.cpp runs a hone model type as:
// llama and mistral are "llama" (with the Q/K permutation), qwen2 and
// qwen3 their own.
func Arch(modelType string) (string, error) {
	switch modelType {
	case "llama", "mistral":
		return "llama", nil
	case "qwen2", "qwen3":
		return modelType, nil
	}
	return "", fmt.Errorf("model type %q has no GGUF architecture", modelType)
}

// TensorTypeFor chooses the type of one tensor in a file whose matrices
// are of type want, as llama.cpp's converter and quantiser do: vectors
// stay F32; a row length that is not a whole number of blocks falls back to
// Q8_0 or F16; Q4_0 keeps the output matrix at Q8_0 (llama.cpp: Q6_K);
// Q4_K_M gives the output matrix, and attn_v and ffn_down in the layers
// llama.cpp's use_more_bits picks, Q8_0 (llama.cpp: Q6_K, which hone does
// not write). ggufName is the tensor's GGUF name, layer its block number
// (-1 outside blocks), layers the block count.
func TensorTypeFor(ggufName string, shape []int, want gguf.TensorType, layer, layers int, tied bool) gguf.TensorType {
	if len(shape) < 2 {
		return gguf.F32
	}
	cols := shape[len(shape)-1]
	fits := func(t gguf.TensorType) bool { return cols%t.BlockLen() == 0 }
	fallback := func(t gguf.TensorType) gguf.TensorType {
		for _, c := range []gguf.TensorType{t, gguf.Q8_0} {
			if fits(c) {
				return c
			}
		}
		return gguf.F16
	}
	output := ggufName == "output.weight" || (tied && ggufName == "token_embd.weight")
	switch want {
	case gguf.Q8_0:
		return fallback(gguf.Q8_0)
	case gguf.Q4_0:
		if output {
			return fallback(gguf.Q8_0)
		}
		return fallback(gguf.Q4_0)
	case gguf.Q4_K:
		if output {
			return fallback(gguf.Q8_0)
		}
		if (strings.HasSuffix(ggufName, ".attn_v.weight") || strings.HasSuffix(ggufName, ".ffn_down.weight")) && useMoreBits(layer, layers) {
			return fallback(gguf.Q8_0)
		}
		return fallback(gguf.Q4_K)
	}
	return want
}

// useMoreBits is llama.cpp's choice of layers that get more bits in the
// _M mixes: the first and last eighth, and every third layer between.
func useMoreBits(i, n int) bool {
	return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2
}

// ggufTensor is one tensor to write: its GGUF spec and how to get its
// float32 data in llama.cpp's layout.
type ggufTensor struct {
	spec gguf.TensorSpec
	data func() ([]float32, error)
}

// weightOf returns a parameter's tensor in float32. A quantised (NF4)
// projection is dequantised: that is also where a QLoRA adapter's merge
// went (lora.Adapter.Merge folds it into the dequantised weights), so an
// export of a QLoRA-merged model writes the weights the adapter was
// trained against.
func weightOf(w *model.Weights, p model.Param) (*tensor.Tensor, error) {
	if t := *p.Ptr; t != nil {
		return t.ToF32(), nil
	}
	if l := w.LinearByName(strings.TrimSuffix(p.Name, ".weight")); l != nil && l.Q != nil {
		return l.Weight().ToF32(), nil
	}
	return nil, fmt.Errorf("parameter %s is missing", p.Name)
}

// planTensors lists the tensors of a model in GGUF form: names from the
// gguf.TensorNames table, Q/K rows permuted for the llama architecture,
// types by TensorTypeFor, plus rope_freqs for Llama 3 RoPE scaling.
func planTensors(m *model.Model, arch string, want gguf.TensorType) ([]ggufTensor, error) {
	c := m.Config
	if c.OBias || c.MLPBias {
		return nil, fmt.Errorf("GGUF export: output-projection and MLP biases (attention_bias/mlp_bias on llama) are not in the tensor-name table")
	}
	var out []ggufTensor
	if c.Rope.Type == "llama3" {
		ff := ropeFreqFactors(c)
		out = append(out, ggufTensor{gguf.TensorSpec{Name: ropeFreqsName, Shape: []int{len(ff)}, Type: gguf.F32}, func() ([]float32, error) { return ff, nil }})
	}
	for _, p := range m.W.Params(c) {
		name, ok := gguf.HFToGGUF(p.Name)
		if !ok {
			return nil, fmt.Errorf("GGUF export: tensor %s has no GGUF name", p.Name)
		}
		layer := -1
		if strings.HasPrefix(name, "blk.") {
			fmt.Sscanf(name, "blk.%d.", &layer)
		}
		p := p
		heads := 0
		if gguf.QKPermuted(arch) {
			switch {
			case strings.HasSuffix(p.Name, "q_proj.weight"), strings.HasSuffix(p.Name, "q_proj.bias"):
				heads = c.Heads
			case strings.HasSuffix(p.Name, "k_proj.weight"), strings.HasSuffix(p.Name, "k_proj.bias"):
				heads = c.KVHeads
			}
		}
		typ := TensorTypeFor(name, p.Shape, want, layer, c.Layers, c.TieEmbeddings)
		out = append(out, ggufTensor{gguf.TensorSpec{Name: name, Shape: p.Shape, Type: typ}, func() ([]float32, error) {
			t, err := weightOf(m.W, p)
			if err != nil {
				return nil, err
			}
			v := t.F32()
			if heads == 0 {
				return v, nil
			}
			cols := 1
			if len(p.Shape) == 2 {
				cols = p.Shape[1]
			}
			dst := make([]float32, len(v))
			if err := gguf.PermuteQK(dst, v, heads, cols); err != nil {
				return nil, fmt.Errorf("%s: %w", p.Name, err)
			}
			return dst, nil
		}})
	}
	return out, nil
}

// ropeFreqFactors returns llama.cpp's rope_freqs for a Llama 3 scaled RoPE:
// per frequency, the factor the unscaled frequency is divided by.
func ropeFreqFactors(c *model.Config) []float32 {
	plain := *c
	plain.Rope.Type = "default"
	base, _ := plain.InvFreq(0)
	scaled, _ := c.InvFreq(0)
	ff := make([]float32, len(base))
	for i := range ff {
		ff[i] = float32(base[i] / scaled[i])
	}
	return ff
}

// modelMetadata fills the architecture, hyperparameter, RoPE and
// tokenizer metadata of a model.
func modelMetadata(b *Bundle, arch string, opt GGUFOptions) (*gguf.Metadata, error) {
	c := b.Model.Config
	meta := &gguf.Metadata{}
	h := gguf.HParams{
		Arch: arch, ContextLength: uint32(c.MaxPositions), EmbeddingLength: uint32(c.Hidden), BlockCount: uint32(c.Layers),
		FeedForwardLength: uint32(c.Intermediate), HeadCount: uint32(c.Heads), HeadCountKV: uint32(c.KVHeads),
		RopeFreqBase: float32(c.Rope.Theta), RMSEpsilon: float32(c.RMSEps), RopeDimCount: uint32(c.HeadDim), VocabSize: uint32(c.Vocab),
	}
	if c.HeadDim*c.Heads != c.Hidden {
		h.KeyLength, h.ValueLength = uint32(c.HeadDim), uint32(c.HeadDim)
	}
	if err := h.Put(meta); err != nil {
		return nil, err
	}
	if opt.Name != "" {
		meta.Set(gguf.KeyName, opt.Name)
	}
	ft, err := gguf.FileTypeFor(opt.Type)
	if err != nil {
		return nil, err
	}
	meta.Set(gguf.KeyFileType, uint32(ft))
	k := gguf.KeysFor(arch)
	switch c.Rope.Type {
	case "default":
	case "linear":
		meta.Set(k.RopeScalingType, "linear")
		meta.Set(k.RopeScalingFactor, float32(c.Rope.Factor))
	case "llama3":
		// llama.cpp reads the scaling from the rope_freqs tensor; hone's
		// reader reads the parameters back from this key.
	default:
		return nil, fmt.Errorf("GGUF export: RoPE type %q is not exported (llama.cpp has no exact equivalent)", c.Rope.Type)
	}
	if c.Rope.Type != "default" {
		rp, _ := json.Marshal(c.HFConfig()["rope_parameters"])
		meta.Set(keyRopeScaling, string(rp))
	}
	if b.Tokenizer != nil {
		tm, err := TokenizerMeta(b.Tokenizer, c.Vocab)
		if err != nil {
			return nil, err
		}
		if tm.EOS < 0 && len(b.EOS) > 0 {
			tm.EOS = b.EOS[0]
		}
		if b.Template != nil {
			tm.ChatTemplate = b.Template.Source
		}
		if err := tm.Put(meta); err != nil {
			return nil, err
		}
		if tm.Model == "llama" {
			meta.Set(gguf.KeyAddSpacePrefix, addSpacePrefix(b.Tokenizer))
		}
		if id, ok := endOfTurnID(b); ok && id != tm.EOS {
			meta.Set(keyEOTID, uint32(id))
		}
	}
	return meta, nil
}

// endOfTurnID returns the token that ends an assistant turn in the chat
// template, when it is one token.
func endOfTurnID(b *Bundle) (int, bool) {
	if b.Template == nil || b.Tokenizer == nil {
		return 0, false
	}
	for _, s := range b.Template.EndOfTurn() {
		if id, ok := b.Tokenizer.TokenID(s); ok {
			return int(id), true
		}
	}
	return 0, false
}

// WriteGGUF writes b's model as a GGUF v3 file that llama.cpp and Ollama
// load: architecture and hyperparameters, the vocabulary and chat template
// when b has them, and every weight under its llama.cpp name (Q and K rows
// permuted for the llama architecture) in the types TensorTypeFor picks.
// Adapters attached to the model are not written: merge them first
// (lora.Set.Merge) or write them with WriteAdapterGGUF. The file appears
// at path only when complete.
func WriteGGUF(path string, b *Bundle, opt GGUFOptions) error {
	c := b.Model.Config
	arch, err := Arch(c.ModelType)
	if err != nil {
		return err
	}
	switch opt.Type {
	case gguf.F32, gguf.F16, gguf.BF16, gguf.Q8_0, gguf.Q4_0, gguf.Q4_K:
	default:
		return fmt.Errorf("GGUF export: tensor type %s: want F32, F16, BF16, Q8_0, Q4_0 or Q4_K", opt.Type)
	}
	meta, err := modelMetadata(b, arch, opt)
	if err != nil {
		return err
	}
	tensors, err := planTensors(b.Model, arch, opt.Type)
	if err != nil {
		return err
	}
	specs := make([]gguf.TensorSpec, len(tensors))
	for i, t := range tensors {
		specs[i] = t.spec
	}
	w, err := gguf.Create(path, meta, specs)
	if err != nil {
		return err
	}
	for _, t := range tensors {
		v, err := t.data()
		if err == nil {
			err = w.WriteF32(t.spec.Name, v)
		}
		if err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close()
}
