package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"hone/internal/atomicfile"
	"hone/safetensors"
	"hone/tensor"
)

// Load reads a Hugging Face model folder: config.json and model.safetensors
// (or its sharded form with model.safetensors.index.json). The weight
// matrices are copied into one arena in decoding order (LoadWeights); norms
// and biases that already are F32 stay in the memory map. The returned
// closer releases the mapping; the model must not be used after.
func Load(dir string, prec Precision) (*Model, func() error, error) {
	c, err := LoadConfig(dir)
	if err != nil {
		return nil, nil, err
	}
	st, err := safetensors.OpenModel(dir)
	if err != nil {
		return nil, nil, err
	}
	w, err := LoadWeights(c, st, prec)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	return New(c, w), st.Close, nil
}

// LoadQuantized is Load followed by quantising the decoder projections to
// format (nf4 with double-quantised scales for QLoRA): the unquantised
// projections are read once and their mapped pages released, so the
// process holds only the quantised copies besides embeddings and norms.
func LoadQuantized(dir string, prec Precision, format string) (*Model, func() error, error) {
	c, err := LoadConfig(dir)
	if err != nil {
		return nil, nil, err
	}
	st, err := safetensors.OpenModel(dir)
	if err != nil {
		return nil, nil, err
	}
	w, err := loadWeights(c, st, prec, false)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	if _, err := w.Quantize(c, format, format == "nf4", prec); err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	if _, err := w.QuantizeEmbedding(c, format, prec); err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	st.Release()
	return New(c, w), st.Close, nil
}

// TokenizerFiles are the files of a model folder that describe its
// tokenizer and chat template; they travel with merged, quantised and
// exported copies of the model.
var TokenizerFiles = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "tokenizer.model"}

// GenerationConfig is the part of generation_config.json hone uses.
type GenerationConfig struct {
	BOS int
	EOS []int
	Pad int
}

// LoadGenerationConfig reads dir/generation_config.json when present; the
// end-of-sequence ids there take precedence over config.json's (instruct
// models list their end-of-turn token there). Absent, it falls back to c.
func LoadGenerationConfig(dir string, c *Config) (*GenerationConfig, error) {
	g := &GenerationConfig{BOS: c.BOS, EOS: c.EOS, Pad: c.Pad}
	path := filepath.Join(dir, "generation_config.json")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return g, nil
	}
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: not valid JSON: %w", path, err)
	}
	r := reader{raw: raw}
	if r.has("bos_token_id") && raw["bos_token_id"] != nil {
		g.BOS = r.tokenID("bos_token_id")
	}
	if ids := r.tokenIDs("eos_token_id"); len(ids) > 0 {
		g.EOS = ids
	}
	if r.has("pad_token_id") && raw["pad_token_id"] != nil {
		g.Pad = r.tokenID("pad_token_id")
	}
	if len(r.errs) > 0 {
		return nil, fmt.Errorf("%s: %s", path, joinErrs(r.errs))
	}
	return g, nil
}

// Save writes the model as a Hugging Face folder: config.json,
// generation_config.json and model.safetensors (sharded above 4 GiB), with
// matrices in dtype (F32, BF16 or F16) and vectors in F32 unless dtype is
// BF16/F16, as transformers saves them. Files are written atomically.
func Save(dir string, c *Config, w *Weights, dtype tensor.DType) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var named []safetensors.Named
	var qformat string
	double := false
	for _, p := range w.Params(c) {
		t := *p.Ptr
		if t == nil && strings.HasSuffix(p.Name, "_proj.weight") {
			if l := w.LinearByName(strings.TrimSuffix(p.Name, ".weight")); l != nil && l.Q != nil {
				qformat = l.Q.Format()
				double = l.Q.NF4 != nil && l.Q.NF4.Nested
				for n, qt := range l.Q.Tensors(p.Name) {
					named = append(named, safetensors.Named{Name: n, Tensor: qt})
				}
				continue
			}
		}
		if t == nil && p.Name == "model.embed_tokens.weight" && w.EmbedQ != nil {
			t = w.EmbedQ.Dequantize()
		}
		if t == nil {
			return fmt.Errorf("save %s: parameter %s is missing", dir, p.Name)
		}
		named = append(named, safetensors.Named{Name: p.Name, Tensor: t.To(dtype)})
	}
	sort.Slice(named, func(i, j int) bool { return named[i].Name < named[j].Name })
	cfg := c.HFConfig()
	cfg["torch_dtype"] = map[tensor.DType]string{tensor.F32: "float32", tensor.BF16: "bfloat16", tensor.F16: "float16"}[dtype]
	delete(cfg, "quantization_config")
	if qformat != "" {
		cfg["quantization_config"] = map[string]any{"quant_method": "hone", "format": qformat, "double_quant": double,
			"block_size": map[string]int{"nf4": 64, "int8": 0, "q8_0": 32, "q4_0": 32}[qformat],
			"modules":    []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}}
	}
	if err := writeJSON(filepath.Join(dir, "config.json"), cfg); err != nil {
		return err
	}
	gen := map[string]any{"_from_model_config": true}
	if c.BOS >= 0 {
		gen["bos_token_id"] = c.BOS
	}
	if len(c.EOS) == 1 {
		gen["eos_token_id"] = c.EOS[0]
	} else if len(c.EOS) > 1 {
		gen["eos_token_id"] = c.EOS
	}
	if c.Pad >= 0 {
		gen["pad_token_id"] = c.Pad
	}
	if err := writeJSON(filepath.Join(dir, "generation_config.json"), gen); err != nil {
		return err
	}
	return safetensors.WriteSharded(dir, named, map[string]string{"format": "pt"}, 4<<30)
}

// writeJSON writes v as indented JSON to path atomically.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'))
}
