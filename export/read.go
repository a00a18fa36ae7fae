package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"hone/chat"
	"hone/gguf"
	"hone/model"
	"hone/tensor"
)

// ggufSource serves a GGUF file's tensors under their Hugging Face names,
// dequantised to float32 and with llama's Q/K rows put back in Hugging
// Face's order: a model.Source.
type ggufSource struct {
	f     *gguf.File
	c     *model.Config
	arch  string
	names map[string]string // HF name -> GGUF name
}

func (s *ggufSource) Names() []string {
	out := make([]string, 0, len(s.names))
	for hf := range s.names {
		out = append(out, hf)
	}
	return out
}

// Shape returns the shape of the tensor serving name, from the file's
// tensor info (model.LoadWeights checks shapes through it before reading).
func (s *ggufSource) Shape(name string) ([]int, error) {
	gn, ok := s.names[name]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor for %s", s.f.Path, name)
	}
	ti, ok := s.f.Info(gn)
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %s", s.f.Path, gn)
	}
	return append([]int(nil), ti.Shape...), nil
}

func (s *ggufSource) Tensor(name string) (*tensor.Tensor, error) {
	gn, ok := s.names[name]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor for %s", s.f.Path, name)
	}
	t, err := s.f.TensorF32(gn)
	if err != nil {
		return nil, err
	}
	heads := 0
	if gguf.QKPermuted(s.arch) {
		switch {
		case strings.Contains(name, "q_proj."):
			heads = s.c.Heads
		case strings.Contains(name, "k_proj."):
			heads = s.c.KVHeads
		}
	}
	if heads == 0 {
		return t, nil
	}
	cols := 1
	if len(t.Shape) == 2 {
		cols = t.Shape[1]
	}
	out := tensor.New(tensor.F32, t.Shape...)
	if err := gguf.UnpermuteQK(out.F32(), t.F32(), heads, cols); err != nil {
		return nil, fmt.Errorf("%s: tensor %s: %w", s.f.Path, gn, err)
	}
	return out, nil
}

// ReadGGUF loads a llama-family GGUF file (llama, qwen2, qwen3) into a
// hone model: the config from the architecture metadata, every weight
// through the gguf.TensorNames table (dequantised, Q/K rows un-permuted
// for llama), and the tokenizer (TokenizerFromMeta) and chat template when
// the file carries them. The returned closer releases the file.
func ReadGGUF(path string, prec model.Precision) (*Bundle, func() error, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, nil, err
	}
	b, err := readGGUF(f, prec)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return b, f.Close, nil
}

func readGGUF(f *gguf.File, prec model.Precision) (*Bundle, error) {
	if t, err := f.Meta.String(keyGeneralType); err == nil && t != "model" {
		return nil, fmt.Errorf("%s: general.type is %q, not a model", f.Path, t)
	}
	h, err := gguf.ReadHParams(&f.Meta)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	emb, ok := f.Info("token_embd.weight")
	if !ok || len(emb.Shape) != 2 {
		return nil, fmt.Errorf("%s: no 2-D token_embd.weight", f.Path)
	}
	cfg := map[string]any{
		"model_type": h.Arch, "hidden_size": h.EmbeddingLength, "intermediate_size": h.FeedForwardLength,
		"num_hidden_layers": h.BlockCount, "num_attention_heads": h.HeadCount, "num_key_value_heads": h.HeadCountKV,
		"vocab_size": emb.Shape[0], "max_position_embeddings": h.ContextLength, "rms_norm_eps": h.RMSEpsilon,
		"rope_theta": h.RopeFreqBase, "hidden_act": "silu",
	}
	if h.Arch != "llama" && h.Arch != "qwen2" && h.Arch != "qwen3" {
		return nil, fmt.Errorf("%s: architecture %q: hone reads llama, qwen2 and qwen3", f.Path, h.Arch)
	}
	if h.KeyLength != 0 {
		cfg["head_dim"] = h.KeyLength
	} else if h.HeadCount > 0 {
		cfg["head_dim"] = h.EmbeddingLength / h.HeadCount
	}
	_, hasOutput := f.Info("output.weight")
	cfg["tie_word_embeddings"] = !hasOutput
	if _, ok := f.Info("blk.0.attn_q.bias"); ok && h.Arch == "llama" {
		cfg["attention_bias"] = true
	}
	if t, err := f.Meta.String(gguf.KeyName); err == nil && t != "" {
		cfg["_name_or_path"] = t
	}
	k := gguf.KeysFor(h.Arch)
	if s, err := f.Meta.String(keyRopeScaling); err == nil {
		var rp map[string]any
		if err := json.Unmarshal([]byte(s), &rp); err != nil {
			return nil, fmt.Errorf("%s: key %s: %w", f.Path, keyRopeScaling, err)
		}
		cfg["rope_parameters"] = rp
	} else if typ, err := f.Meta.String(k.RopeScalingType); err == nil && typ != "none" {
		factor, err := f.Meta.Float(k.RopeScalingFactor)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		if typ != "linear" {
			return nil, fmt.Errorf("%s: key %s = %q: hone reads linear RoPE scaling", f.Path, k.RopeScalingType, typ)
		}
		cfg["rope_scaling"] = map[string]any{"rope_type": "linear", "factor": factor}
	} else if _, ok := f.Info(ropeFreqsName); ok {
		return nil, fmt.Errorf("%s: %s without %s: hone cannot recover the RoPE scaling parameters", f.Path, ropeFreqsName, keyRopeScaling)
	}
	meta, terr := gguf.ReadTokenizer(&f.Meta)
	hasTok := f.Meta.Has(gguf.KeyTokens)
	if hasTok && terr != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, terr)
	}
	if hasTok {
		if meta.BOS >= 0 {
			cfg["bos_token_id"] = meta.BOS
		}
		if meta.EOS >= 0 {
			cfg["eos_token_id"] = meta.EOS
		}
	}
	data, _ := json.Marshal(cfg)
	c, err := model.ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: metadata gives an invalid config (hidden_size is %s, intermediate_size %s, num_hidden_layers %s, num_attention_heads %s, num_key_value_heads %s, head_dim %s, vocab_size the rows of token_embd.weight): %w",
			f.Path, k.EmbeddingLength, k.FeedForwardLength, k.BlockCount, k.HeadCount, k.HeadCountKV, k.KeyLength, err)
	}
	src := &ggufSource{f: f, c: c, arch: h.Arch, names: map[string]string{}}
	var unknown []string
	for _, ti := range f.Tensors {
		if ti.Name == ropeFreqsName {
			continue
		}
		hf, ok := gguf.GGUFToHF(ti.Name)
		if !ok {
			unknown = append(unknown, ti.Name)
			continue
		}
		src.names[hf] = ti.Name
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%s: %d tensors hone has no name for: %s", f.Path, len(unknown), strings.Join(unknown[:min(8, len(unknown))], ", "))
	}
	w, err := model.LoadWeights(c, src, prec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	b := &Bundle{Model: model.New(c, w), Name: f.Path}
	if !hasTok {
		return b, nil
	}
	addSpace := true
	if f.Meta.Has(gguf.KeyAddSpacePrefix) {
		if addSpace, err = f.Meta.Bool(gguf.KeyAddSpacePrefix); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	if b.Tokenizer, err = TokenizerFromMeta(meta, addSpace); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	if meta.EOS >= 0 {
		b.EOS = append(b.EOS, meta.EOS)
	}
	if f.Meta.Has(keyEOTID) {
		id, err := f.Meta.Uint(keyEOTID)
		if err != nil || id >= uint64(len(meta.Tokens)) {
			return nil, fmt.Errorf("%s: key %s: bad token id (%v)", f.Path, keyEOTID, err)
		}
		b.EOS = append(b.EOS, int(id))
	}
	if meta.ChatTemplate != "" {
		sp := chat.Specials{}
		if meta.BOS >= 0 {
			sp.BOS = meta.Tokens[meta.BOS]
		}
		if meta.EOS >= 0 {
			sp.EOS = meta.Tokens[meta.EOS]
		}
		if meta.Unknown >= 0 {
			sp.UNK = meta.Tokens[meta.Unknown]
		}
		if meta.Pad >= 0 {
			sp.PAD = meta.Tokens[meta.Pad]
		}
		if b.Template, err = chat.Parse(meta.ChatTemplate, f.Path+": "+gguf.KeyChatTemplate, sp); err != nil {
			return nil, err
		}
	}
	return b, nil
}

var errNotFinite = errors.New("not finite")

// finite reports an error naming the first NaN or infinity in v.
func finite(v []float32) error {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("value %d is %v: %w", i, x, errNotFinite)
		}
	}
	return nil
}
