package gguf

import (
	"errors"
	"fmt"
)

// General metadata keys (gguf-py's Keys.General).
const (
	KeyArchitecture        = "general.architecture"
	KeyQuantizationVersion = "general.quantization_version"
	KeyAlignment           = "general.alignment"
	KeyFileType            = "general.file_type"
	KeyName                = "general.name"
	KeyAuthor              = "general.author"
	KeyVersion             = "general.version"
	KeyOrganization        = "general.organization"
	KeyBasename            = "general.basename"
	KeyFinetune            = "general.finetune"
	KeyDescription         = "general.description"
	KeySizeLabel           = "general.size_label"
	KeyLicense             = "general.license"
	KeyURL                 = "general.url"
	KeyRepoURL             = "general.repo_url"
	KeySourceURL           = "general.source.url"
	KeySourceRepoURL       = "general.source.repo_url"
	KeyTags                = "general.tags"
	KeyLanguages           = "general.languages"
)

// Tokenizer metadata keys (gguf-py's Keys.Tokenizer).
const (
	KeyTokenizerModel  = "tokenizer.ggml.model" // "llama" (SentencePiece) or "gpt2" (byte-level BPE)
	KeyTokenizerPre    = "tokenizer.ggml.pre"   // pre-tokenizer name, e.g. "llama-bpe", "qwen2"
	KeyTokens          = "tokenizer.ggml.tokens"
	KeyTokenScores     = "tokenizer.ggml.scores"
	KeyTokenTypes      = "tokenizer.ggml.token_type"
	KeyMerges          = "tokenizer.ggml.merges"
	KeyBOSID           = "tokenizer.ggml.bos_token_id"
	KeyEOSID           = "tokenizer.ggml.eos_token_id"
	KeyUnknownID       = "tokenizer.ggml.unknown_token_id"
	KeyPaddingID       = "tokenizer.ggml.padding_token_id"
	KeyAddBOS          = "tokenizer.ggml.add_bos_token"
	KeyAddEOS          = "tokenizer.ggml.add_eos_token"
	KeyAddSpacePrefix  = "tokenizer.ggml.add_space_prefix"
	KeyChatTemplate    = "tokenizer.chat_template"
	KeyHuggingFaceJSON = "tokenizer.huggingface.json"
)

// Token types of tokenizer.ggml.token_type (llama.cpp's llama_token_type).
const (
	TokenNormal      int32 = 1
	TokenUnknown     int32 = 2
	TokenControl     int32 = 3
	TokenUserDefined int32 = 4
	TokenUnused      int32 = 5
	TokenByte        int32 = 6
)

// ArchKeys holds the per-architecture hyperparameter keys of the llama
// family, "<arch>.context_length" and so on.
type ArchKeys struct {
	ContextLength      string
	EmbeddingLength    string
	BlockCount         string
	FeedForwardLength  string
	HeadCount          string
	HeadCountKV        string
	RopeFreqBase       string
	RopeDimensionCount string
	RMSEpsilon         string
	VocabSize          string
	KeyLength          string
	ValueLength        string
	RopeScalingType    string
	RopeScalingFactor  string
	RopeScalingOrigCtx string
}

// KeysFor returns the hyperparameter keys of architecture arch ("llama",
// "qwen2", "qwen3", ...).
func KeysFor(arch string) ArchKeys {
	k := func(s string) string { return arch + "." + s }
	return ArchKeys{
		ContextLength:      k("context_length"),
		EmbeddingLength:    k("embedding_length"),
		BlockCount:         k("block_count"),
		FeedForwardLength:  k("feed_forward_length"),
		HeadCount:          k("attention.head_count"),
		HeadCountKV:        k("attention.head_count_kv"),
		RopeFreqBase:       k("rope.freq_base"),
		RopeDimensionCount: k("rope.dimension_count"),
		RMSEpsilon:         k("attention.layer_norm_rms_epsilon"),
		VocabSize:          k("vocab_size"),
		KeyLength:          k("attention.key_length"),
		ValueLength:        k("attention.value_length"),
		RopeScalingType:    k("rope.scaling.type"),
		RopeScalingFactor:  k("rope.scaling.factor"),
		RopeScalingOrigCtx: k("rope.scaling.original_context_length"),
	}
}

// HParams are the hyperparameters a llama-family GGUF carries. Put writes
// them with the types llama.cpp's loader insists on (uint32 counts, float32
// reals), which is what convert_hf_to_gguf.py writes.
type HParams struct {
	Arch              string  // general.architecture: "llama", "qwen2", "qwen3"
	ContextLength     uint32  // max_position_embeddings
	EmbeddingLength   uint32  // hidden_size
	BlockCount        uint32  // num_hidden_layers
	FeedForwardLength uint32  // intermediate_size
	HeadCount         uint32  // num_attention_heads
	HeadCountKV       uint32  // num_key_value_heads
	RopeFreqBase      float32 // rope_theta
	RMSEpsilon        float32 // rms_norm_eps
	RopeDimCount      uint32  // head_dim (0: embedding_length / head_count)
	VocabSize         uint32  // vocab_size (0: omit)
	KeyLength         uint32  // head_dim when it differs from embedding/heads (0: omit)
	ValueLength       uint32  // likewise (0: omit)
}

// Put writes h into m.
func (h HParams) Put(m *Metadata) error {
	if h.Arch == "" {
		return errors.New("gguf: HParams without an architecture")
	}
	if h.HeadCount == 0 {
		return fmt.Errorf("gguf: %s hyperparameters with zero attention heads", h.Arch)
	}
	k := KeysFor(h.Arch)
	rope := h.RopeDimCount
	if rope == 0 {
		rope = h.EmbeddingLength / h.HeadCount
	}
	kvh := h.HeadCountKV
	if kvh == 0 {
		kvh = h.HeadCount
	}
	pairs := []KV{
		{KeyArchitecture, h.Arch},
		{k.ContextLength, h.ContextLength},
		{k.EmbeddingLength, h.EmbeddingLength},
		{k.BlockCount, h.BlockCount},
		{k.FeedForwardLength, h.FeedForwardLength},
		{k.HeadCount, h.HeadCount},
		{k.HeadCountKV, kvh},
		{k.RopeFreqBase, h.RopeFreqBase},
		{k.RMSEpsilon, h.RMSEpsilon},
		{k.RopeDimensionCount, rope},
	}
	if h.VocabSize != 0 {
		pairs = append(pairs, KV{k.VocabSize, h.VocabSize})
	}
	if h.KeyLength != 0 {
		pairs = append(pairs, KV{k.KeyLength, h.KeyLength})
	}
	if h.ValueLength != 0 {
		pairs = append(pairs, KV{k.ValueLength, h.ValueLength})
	}
	for _, kv := range pairs {
		if err := m.Set(kv.Key, kv.Value); err != nil {
			return err
		}
	}
	return nil
}

// ReadHParams reads the hyperparameters of m's architecture, accepting any
// integer width for counts and float32 or float64 for reals (writers
// differ). Every missing or mistyped required key is reported at once.
func ReadHParams(m *Metadata) (HParams, error) {
	var h HParams
	arch, err := m.String(KeyArchitecture)
	if err != nil {
		return h, err
	}
	h.Arch = arch
	k := KeysFor(arch)
	var errs []error
	u32 := func(key string, dst *uint32, required bool) {
		if !m.Has(key) && !required {
			return
		}
		v, err := m.Uint(key)
		if err == nil && v > 1<<32-1 {
			err = fmt.Errorf("gguf: metadata key %q is %d, too large", key, v)
		}
		if err != nil {
			errs = append(errs, err)
			return
		}
		*dst = uint32(v)
	}
	f32 := func(key string, dst *float32, required bool) {
		if !m.Has(key) && !required {
			return
		}
		v, err := m.Float(key)
		if err != nil {
			errs = append(errs, err)
			return
		}
		*dst = float32(v)
	}
	u32(k.ContextLength, &h.ContextLength, true)
	u32(k.EmbeddingLength, &h.EmbeddingLength, true)
	u32(k.BlockCount, &h.BlockCount, true)
	u32(k.FeedForwardLength, &h.FeedForwardLength, true)
	u32(k.HeadCount, &h.HeadCount, true)
	u32(k.HeadCountKV, &h.HeadCountKV, false)
	u32(k.RopeDimensionCount, &h.RopeDimCount, false)
	u32(k.VocabSize, &h.VocabSize, false)
	u32(k.KeyLength, &h.KeyLength, false)
	u32(k.ValueLength, &h.ValueLength, false)
	f32(k.RMSEpsilon, &h.RMSEpsilon, true)
	h.RopeFreqBase = 10000 // llama.cpp's default when the key is absent
	f32(k.RopeFreqBase, &h.RopeFreqBase, false)
	if h.HeadCountKV == 0 {
		h.HeadCountKV = h.HeadCount
	}
	return h, errors.Join(errs...)
}

// TokenizerMeta is the tokenizer a GGUF carries (tokenizer.ggml.*).
type TokenizerMeta struct {
	Model        string    // "llama" (SentencePiece) or "gpt2" (byte-level BPE)
	Pre          string    // pre-tokenizer name ("llama-bpe", "qwen2", ...); empty to omit
	Tokens       []string  // by id
	Scores       []float32 // by id; nil to omit
	TokenTypes   []int32   // by id (TokenNormal, ...); nil to omit
	Merges       []string  // "a b" pairs for BPE; nil to omit
	BOS, EOS     int       // token ids; -1 to omit
	Unknown, Pad int       // token ids; -1 to omit
	AddBOS       *bool     // nil to omit
	AddEOS       *bool     // nil to omit
	ChatTemplate string    // Jinja template; empty to omit
}

// Put writes t into m after checking that the per-token arrays agree in
// length and the special ids are in range.
func (t TokenizerMeta) Put(m *Metadata) error {
	n := len(t.Tokens)
	if t.Model == "" || n == 0 {
		return errors.New("gguf: tokenizer metadata needs a model name and tokens")
	}
	if t.Scores != nil && len(t.Scores) != n {
		return fmt.Errorf("gguf: %s has %d entries for %d tokens", KeyTokenScores, len(t.Scores), n)
	}
	if t.TokenTypes != nil && len(t.TokenTypes) != n {
		return fmt.Errorf("gguf: %s has %d entries for %d tokens", KeyTokenTypes, len(t.TokenTypes), n)
	}
	pairs := []KV{{KeyTokenizerModel, t.Model}}
	if t.Pre != "" {
		pairs = append(pairs, KV{KeyTokenizerPre, t.Pre})
	}
	pairs = append(pairs, KV{KeyTokens, t.Tokens})
	if t.Scores != nil {
		pairs = append(pairs, KV{KeyTokenScores, t.Scores})
	}
	if t.TokenTypes != nil {
		pairs = append(pairs, KV{KeyTokenTypes, t.TokenTypes})
	}
	if t.Merges != nil {
		pairs = append(pairs, KV{KeyMerges, t.Merges})
	}
	for _, id := range []struct {
		key string
		id  int
	}{{KeyBOSID, t.BOS}, {KeyEOSID, t.EOS}, {KeyUnknownID, t.Unknown}, {KeyPaddingID, t.Pad}} {
		if id.id < 0 {
			continue
		}
		if id.id >= n {
			return fmt.Errorf("gguf: %s = %d, but there are %d tokens", id.key, id.id, n)
		}
		pairs = append(pairs, KV{id.key, uint32(id.id)})
	}
	if t.AddBOS != nil {
		pairs = append(pairs, KV{KeyAddBOS, *t.AddBOS})
	}
	if t.AddEOS != nil {
		pairs = append(pairs, KV{KeyAddEOS, *t.AddEOS})
	}
	if t.ChatTemplate != "" {
		pairs = append(pairs, KV{KeyChatTemplate, t.ChatTemplate})
	}
	for _, kv := range pairs {
		if err := m.Set(kv.Key, kv.Value); err != nil {
			return err
		}
	}
	return nil
}

// ReadTokenizer reads the tokenizer metadata of m, reporting every problem
// at once.
func ReadTokenizer(m *Metadata) (TokenizerMeta, error) {
	t := TokenizerMeta{BOS: -1, EOS: -1, Unknown: -1, Pad: -1}
	var errs []error
	var err error
	if t.Model, err = m.String(KeyTokenizerModel); err != nil {
		errs = append(errs, err)
	}
	if t.Tokens, err = m.Strings(KeyTokens); err != nil {
		errs = append(errs, err)
	}
	n := len(t.Tokens)
	if m.Has(KeyTokenizerPre) {
		if t.Pre, err = m.String(KeyTokenizerPre); err != nil {
			errs = append(errs, err)
		}
	}
	if v, ok := m.Get(KeyTokenScores); ok {
		if s, ok := v.([]float32); !ok || len(s) != n {
			errs = append(errs, fmt.Errorf("gguf: metadata key %q: want %d float32 values, have %s", KeyTokenScores, n, describe(v)))
		} else {
			t.Scores = s
		}
	}
	if v, ok := m.Get(KeyTokenTypes); ok {
		if s, ok := v.([]int32); !ok || len(s) != n {
			errs = append(errs, fmt.Errorf("gguf: metadata key %q: want %d int32 values, have %s", KeyTokenTypes, n, describe(v)))
		} else {
			t.TokenTypes = s
		}
	}
	if m.Has(KeyMerges) {
		if t.Merges, err = m.Strings(KeyMerges); err != nil {
			errs = append(errs, err)
		}
	}
	for _, id := range []struct {
		key string
		dst *int
	}{{KeyBOSID, &t.BOS}, {KeyEOSID, &t.EOS}, {KeyUnknownID, &t.Unknown}, {KeyPaddingID, &t.Pad}} {
		if !m.Has(id.key) {
			continue
		}
		v, err := m.Uint(id.key)
		if err == nil && v >= uint64(n) {
			err = fmt.Errorf("gguf: metadata key %q = %d, but there are %d tokens", id.key, v, n)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*id.dst = int(v)
	}
	for _, b := range []struct {
		key string
		dst **bool
	}{{KeyAddBOS, &t.AddBOS}, {KeyAddEOS, &t.AddEOS}} {
		if !m.Has(b.key) {
			continue
		}
		v, err := m.Bool(b.key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*b.dst = &v
	}
	if m.Has(KeyChatTemplate) {
		if t.ChatTemplate, err = m.String(KeyChatTemplate); err != nil {
			errs = append(errs, err)
		}
	}
	return t, errors.Join(errs...)
}
