package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// Config is the architecture of a Llama-family model, with every derived
// value (head width, KV heads, RoPE scaling) resolved.
type Config struct {
	// ModelType is config.json's model_type: llama, mistral, qwen2 or qwen3.
	ModelType string
	// Hidden is the residual width (hidden_size).
	Hidden int
	// Intermediate is the MLP width (intermediate_size).
	Intermediate int
	// Layers is the number of decoder layers (num_hidden_layers).
	Layers int
	// Heads and KVHeads are the query and key/value head counts (grouped-query
	// attention when KVHeads < Heads).
	Heads, KVHeads int
	// HeadDim is the width of one head: head_dim when given, else Hidden/Heads.
	HeadDim int
	// Vocab is the vocabulary size (rows of the embedding and LM head).
	Vocab int
	// MaxPositions is max_position_embeddings.
	MaxPositions int
	// RMSEps is rms_norm_eps.
	RMSEps float64
	// TieEmbeddings shares the embedding matrix with the LM head.
	TieEmbeddings bool
	// QKVBias gives the q, k and v projections a bias (Qwen2, or Llama with
	// attention_bias); OBias gives the output projection one (Llama with
	// attention_bias).
	QKVBias, OBias bool
	// MLPBias gives the MLP projections biases (Llama's mlp_bias).
	MLPBias bool
	// QKNorm applies a per-head RMSNorm to q and k before RoPE (Qwen3).
	QKNorm bool
	// SlidingWindow limits attention to the last SlidingWindow positions when
	// positive (Mistral v0.1); hone refuses sequences longer than it.
	SlidingWindow int
	// Rope is the rotary embedding's frequency base and scaling.
	Rope Rope
	// BOS, EOS and Pad are the special token ids the config names (EOS may be
	// several ids); -1 or empty when absent.
	BOS int
	EOS []int
	Pad int
	// DType is the checkpoint's declared dtype (torch_dtype / dtype), e.g.
	// "bfloat16"; informational.
	DType string
	// Quant, when not nil, says the checkpoint's decoder projections are
	// stored quantised by `hone quantize` (quantization_config with
	// quant_method "hone").
	Quant *QuantConfig
	// Raw is the parsed config.json, kept so that saving a model can write the
	// fields hone does not interpret back unchanged.
	Raw map[string]any
}

// Rope describes rotary position embeddings: the base frequency and an
// optional scaling of the frequencies for longer contexts.
type Rope struct {
	// Theta is the base (rope_theta).
	Theta float64
	// Type is "default", "linear", "dynamic", "yarn" or "llama3".
	Type string
	// Factor is the scaling factor of every scaled type.
	Factor float64
	// LowFreqFactor and HighFreqFactor bound llama3's smooth interpolation.
	LowFreqFactor, HighFreqFactor float64
	// OriginalMaxPositions is the context the frequencies were trained for
	// (llama3, yarn and dynamic).
	OriginalMaxPositions int
	// BetaFast, BetaSlow and AttentionFactor are yarn's ramp bounds and
	// magnitude scaling (0 means the default).
	BetaFast, BetaSlow, AttentionFactor float64
	// MScale and MScaleAllDim are yarn's DeepSeek-style magnitude parameters.
	MScale, MScaleAllDim float64
}

// SupportedTypes lists the model_type values hone runs.
var SupportedTypes = []string{"llama", "mistral", "qwen2", "qwen3"}

// LoadConfig reads dir/config.json.
func LoadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if st, serr := os.Stat(dir); serr != nil || !st.IsDir() {
				return nil, fmt.Errorf("%s: no such model folder", dir)
			}
			return nil, fmt.Errorf("%s: no config.json in the model folder", path)
		}
		return nil, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig interprets the bytes of a config.json.
func ParseConfig(data []byte) (*Config, error) {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	r := reader{raw: raw}
	c := &Config{Raw: raw}
	c.ModelType = r.str("model_type", "")
	switch c.ModelType {
	case "llama", "mistral", "qwen2", "qwen3":
	case "":
		return nil, errors.New(`key "model_type" is missing`)
	default:
		return nil, fmt.Errorf("model_type %q is not supported (hone runs %v)", c.ModelType, SupportedTypes)
	}
	if a, ok := raw["architectures"].([]any); ok && len(a) > 0 {
		if s, _ := a[0].(string); s != "" && !isCausalLM(s) {
			return nil, fmt.Errorf("architecture %q is not a causal language model", s)
		}
	}
	c.Hidden = r.posInt("hidden_size")
	c.Intermediate = r.posInt("intermediate_size")
	c.Layers = r.posInt("num_hidden_layers")
	c.Heads = r.posInt("num_attention_heads")
	c.KVHeads = r.optInt("num_key_value_heads", c.Heads)
	c.Vocab = r.posInt("vocab_size")
	c.MaxPositions = r.optInt("max_position_embeddings", 2048)
	c.RMSEps = r.num("rms_norm_eps", 1e-6)
	c.TieEmbeddings = r.boolean("tie_word_embeddings", false) // every family's default
	switch c.ModelType {
	case "qwen2":
		c.QKVBias = true
	case "qwen3":
		c.QKNorm = true
		c.QKVBias = r.boolean("attention_bias", false)
		c.OBias = c.QKVBias
	default:
		c.QKVBias = r.boolean("attention_bias", false)
		c.OBias = c.QKVBias
		c.MLPBias = r.boolean("mlp_bias", false)
	}
	if c.ModelType == "mistral" || c.ModelType == "qwen2" || c.ModelType == "qwen3" {
		if r.boolean("use_sliding_window", c.ModelType == "mistral") {
			c.SlidingWindow = r.optInt("sliding_window", 0)
		}
	}
	if act := r.str("hidden_act", "silu"); act != "silu" && act != "swish" {
		r.errs = append(r.errs, fmt.Sprintf("hidden_act %q is not supported (only silu)", act))
	}
	if r.has("head_dim") && raw["head_dim"] != nil {
		c.HeadDim = r.posInt("head_dim")
	} else if c.Heads > 0 {
		if c.Hidden%c.Heads != 0 {
			r.errs = append(r.errs, fmt.Sprintf("hidden_size %d is not a multiple of num_attention_heads %d and head_dim is not given", c.Hidden, c.Heads))
		}
		c.HeadDim = c.Hidden / c.Heads
	}
	if c.KVHeads <= 0 || (c.Heads > 0 && c.Heads%c.KVHeads != 0) {
		r.errs = append(r.errs, fmt.Sprintf("num_key_value_heads %d does not divide num_attention_heads %d", c.KVHeads, c.Heads))
	}
	if c.HeadDim%2 != 0 {
		r.errs = append(r.errs, fmt.Sprintf("head_dim %d is odd; rotary embeddings need an even width", c.HeadDim))
	}
	c.BOS = r.tokenID("bos_token_id")
	c.Pad = r.tokenID("pad_token_id")
	c.EOS = r.tokenIDs("eos_token_id")
	c.DType = r.str("torch_dtype", r.str("dtype", "float32"))
	c.Rope = r.rope(c.MaxPositions)
	if qc, ok := raw["quantization_config"].(map[string]any); ok {
		method, _ := qc["quant_method"].(string)
		format, _ := qc["format"].(string)
		switch {
		case method != "hone":
			r.errs = append(r.errs, fmt.Sprintf("quantization_config: quant_method %q is not supported (hone reads its own quantised folders; give hone the unquantised model and use technique qlora or hone quantize)", method))
		case !validQuantFormat(format):
			r.errs = append(r.errs, fmt.Sprintf("quantization_config: format %q is not one of nf4, int8, q8_0, q4_0", format))
		default:
			dq, _ := qc["double_quant"].(bool)
			c.Quant = &QuantConfig{Format: format, Double: dq}
		}
	}
	if len(r.errs) == 0 {
		if err := c.checkSize(); err != nil {
			r.errs = append(r.errs, err.Error())
		}
	}
	if len(r.errs) > 0 {
		return nil, errors.New(joinErrs(r.errs))
	}
	return c, nil
}

// Bounds on the size of model a config may describe, so that a corrupt or
// hostile config.json (or GGUF metadata) is a clear error rather than an
// overflowing size or a request for terabytes of memory.
const (
	// maxLayers bounds num_hidden_layers (the deepest released models have
	// a few hundred).
	maxLayers = 1 << 16
	// maxParams bounds the parameter count, and the element count of any one
	// weight: about 1.1 trillion.
	maxParams = 1 << 40
)

// satMul returns a*b for non-negative a and b, saturating at 1<<62 so that
// it never overflows.
func satMul(a, b int64) int64 {
	const limit = 1 << 62
	if a == 0 || b == 0 {
		return 0
	}
	if a > limit/b {
		return limit
	}
	return a * b
}

// satAdd returns a+b for non-negative a and b, saturating at 1<<62.
func satAdd(a, b int64) int64 {
	const limit = 1 << 62
	if a > limit-b {
		return limit
	}
	return a + b
}

// checkSize reports, naming the config keys, a config whose dimensions are
// negative, whose weights would hold more elements than hone can address,
// or whose layer count is implausible; with it passed, every tensor size
// computed from the config fits in an int.
func (c *Config) checkSize() error {
	dims := []struct {
		key string
		v   int
	}{
		{"hidden_size", c.Hidden}, {"intermediate_size", c.Intermediate}, {"num_hidden_layers", c.Layers},
		{"num_attention_heads", c.Heads}, {"num_key_value_heads", c.KVHeads}, {"head_dim", c.HeadDim},
		{"vocab_size", c.Vocab},
	}
	for _, d := range dims {
		if d.v < 0 || int64(d.v) > maxParams {
			return fmt.Errorf("key %q: %d is out of range (0 to %d)", d.key, d.v, int64(maxParams))
		}
	}
	if c.Layers > maxLayers {
		return fmt.Errorf("key \"num_hidden_layers\": %d layers, more than hone loads (at most %d)", c.Layers, maxLayers)
	}
	h, hd := int64(c.Hidden), int64(c.HeadDim)
	q, kv := satMul(int64(c.Heads), hd), satMul(int64(c.KVHeads), hd)
	f, v := int64(c.Intermediate), int64(c.Vocab)
	mats := []struct {
		keys string
		n    int64
	}{
		{"vocab_size × hidden_size", satMul(v, h)},
		{"num_attention_heads × head_dim × hidden_size", satMul(q, h)},
		{"num_key_value_heads × head_dim × hidden_size", satMul(kv, h)},
		{"intermediate_size × hidden_size", satMul(f, h)},
	}
	for _, m := range mats {
		if m.n > maxParams {
			return fmt.Errorf("keys %s: a weight of %s elements, more than hone loads (at most %d)", m.keys, approx(m.n), int64(maxParams))
		}
	}
	// per layer: q, k, v, o, gate, up, down, with room for norms and biases
	layer := satAdd(satMul(2, mats[1].n), satMul(2, mats[2].n))
	layer = satAdd(layer, satMul(3, mats[3].n))
	layer = satAdd(layer, satAdd(satMul(4, h), satAdd(satMul(2, q), satAdd(satMul(2, kv), satAdd(satMul(2, f), satMul(2, hd))))))
	total := satAdd(satMul(int64(c.Layers), layer), satMul(2, mats[0].n))
	if total > maxParams {
		return fmt.Errorf("keys hidden_size %d, intermediate_size %d, num_hidden_layers %d, num_attention_heads %d, num_key_value_heads %d, head_dim %d and vocab_size %d describe %s parameters, more than hone loads (at most %d)",
			c.Hidden, c.Intermediate, c.Layers, c.Heads, c.KVHeads, c.HeadDim, c.Vocab, approx(total), int64(maxParams))
	}
	return nil
}

// approx prints a saturated count: "more than 4611686018427387904" when it
// hit satMul's limit.
func approx(n int64) string {
	if n >= 1<<62 {
		return fmt.Sprintf("more than %d", int64(1<<62))
	}
	return fmt.Sprint(n)
}

func isCausalLM(arch string) bool {
	switch arch {
	case "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM":
		return true
	}
	return false
}

func joinErrs(errs []string) string {
	s := errs[0]
	for _, e := range errs[1:] {
		s += "; " + e
	}
	return s
}

// reader pulls typed fields out of a parsed config, collecting every problem
// so that one error reports them all.
type reader struct {
	raw  map[string]any
	errs []string
}

func (r *reader) has(key string) bool { _, ok := r.raw[key]; return ok }

func (r *reader) str(key, def string) string {
	v, ok := r.raw[key]
	if !ok || v == nil {
		return def
	}
	s, ok := v.(string)
	if !ok {
		r.errs = append(r.errs, fmt.Sprintf("key %q: want a string, have %v", key, v))
		return def
	}
	return s
}

func (r *reader) num(key string, def float64) float64 {
	v, ok := r.raw[key]
	if !ok || v == nil {
		return def
	}
	f, ok := v.(float64)
	if !ok {
		r.errs = append(r.errs, fmt.Sprintf("key %q: want a number, have %v", key, v))
		return def
	}
	return f
}

func (r *reader) boolean(key string, def bool) bool {
	v, ok := r.raw[key]
	if !ok || v == nil {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		r.errs = append(r.errs, fmt.Sprintf("key %q: want true or false, have %v", key, v))
		return def
	}
	return b
}

func (r *reader) posInt(key string) int {
	v, ok := r.raw[key]
	if !ok || v == nil {
		r.errs = append(r.errs, fmt.Sprintf("key %q is missing", key))
		return 0
	}
	return r.intValue(key, v, 1)
}

func (r *reader) optInt(key string, def int) int {
	v, ok := r.raw[key]
	if !ok || v == nil {
		return def
	}
	return r.intValue(key, v, 0)
}

func (r *reader) intValue(key string, v any, min int) int {
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || f < float64(min) || f > 1<<40 {
		r.errs = append(r.errs, fmt.Sprintf("key %q: want an integer >= %d, have %v", key, min, v))
		return 0
	}
	return int(f)
}

func (r *reader) tokenID(key string) int {
	ids := r.tokenIDs(key)
	if len(ids) == 0 {
		return -1
	}
	return ids[0]
}

func (r *reader) tokenIDs(key string) []int {
	v, ok := r.raw[key]
	if !ok || v == nil {
		return nil
	}
	switch x := v.(type) {
	case float64:
		return []int{r.intValue(key, x, 0)}
	case []any:
		var ids []int
		for _, e := range x {
			ids = append(ids, r.intValue(key, e, 0))
		}
		return ids
	}
	r.errs = append(r.errs, fmt.Sprintf("key %q: want a token id or a list of them, have %v", key, v))
	return nil
}

// rope reads the RoPE settings in either spelling: transformers 5's
// rope_parameters object, or transformers 4's rope_theta + rope_scaling.
func (r *reader) rope(maxPos int) Rope {
	p := Rope{Theta: 10000, Type: "default", Factor: 1}
	var params map[string]any
	if m, ok := r.raw["rope_parameters"].(map[string]any); ok {
		params = m
		if _, nested := m["full_attention"]; nested { // per-layer-type parameters
			if fm, ok := m["full_attention"].(map[string]any); ok {
				params = fm
			}
		}
	} else {
		params = map[string]any{}
		if v, ok := r.raw["rope_theta"]; ok {
			params["rope_theta"] = v
		}
		if m, ok := r.raw["rope_scaling"].(map[string]any); ok {
			for k, v := range m {
				params[k] = v
			}
		}
	}
	sub := reader{raw: params}
	p.Theta = sub.num("rope_theta", 10000)
	typ := sub.str("rope_type", sub.str("type", "default"))
	p.Type = typ
	switch typ {
	case "default":
	case "linear", "dynamic", "yarn", "llama3":
		p.Factor = sub.num("factor", 1)
		if p.Factor <= 0 {
			sub.errs = append(sub.errs, fmt.Sprintf("rope factor %v must be positive", p.Factor))
		}
		p.OriginalMaxPositions = sub.optInt("original_max_position_embeddings", maxPos)
		p.LowFreqFactor = sub.num("low_freq_factor", 1)
		p.HighFreqFactor = sub.num("high_freq_factor", 4)
		p.BetaFast = sub.num("beta_fast", 32)
		p.BetaSlow = sub.num("beta_slow", 1)
		p.AttentionFactor = sub.num("attention_factor", 0)
		p.MScale = sub.num("mscale", 0)
		p.MScaleAllDim = sub.num("mscale_all_dim", 0)
		if typ == "llama3" && p.HighFreqFactor <= p.LowFreqFactor {
			sub.errs = append(sub.errs, "llama3 rope scaling needs high_freq_factor > low_freq_factor")
		}
	default:
		sub.errs = append(sub.errs, fmt.Sprintf("rope type %q is not supported (default, linear, dynamic, yarn, llama3)", typ))
	}
	for _, e := range sub.errs {
		r.errs = append(r.errs, "rope: "+e)
	}
	return p
}

// KVDim is the width of the k and v projections: KVHeads * HeadDim.
func (c *Config) KVDim() int { return c.KVHeads * c.HeadDim }

// QDim is the width of the q projection and of the attention output.
func (c *Config) QDim() int { return c.Heads * c.HeadDim }

// NumParams returns the number of parameters of the model (the LM head is
// counted once when tied).
func (c *Config) NumParams() int64 {
	h, q, kv, f := int64(c.Hidden), int64(c.QDim()), int64(c.KVDim()), int64(c.Intermediate)
	layer := h*q + 2*h*kv + q*h + 3*h*f + 2*h
	if c.QKVBias {
		layer += q + 2*kv
	}
	if c.OBias {
		layer += h
	}
	if c.MLPBias {
		layer += 2*f + h
	}
	if c.QKNorm {
		layer += 2 * int64(c.HeadDim)
	}
	n := int64(c.Layers)*layer + int64(c.Vocab)*h + h
	if !c.TieEmbeddings {
		n += int64(c.Vocab) * h
	}
	return n
}

// QuantConfig describes how a checkpoint's projections are quantised.
type QuantConfig struct {
	// Format is nf4, int8, q8_0 or q4_0.
	Format string
	// Double is NF4's double quantisation of the scales.
	Double bool
}

func validQuantFormat(f string) bool {
	switch f {
	case "nf4", "int8", "q8_0", "q4_0":
		return true
	}
	return false
}
