package export

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"hone/gguf"
	"hone/tokenizer"
)

// Pre-tokenizer regexes that llama.cpp knows by name (tokenizer.ggml.pre),
// as Hugging Face tokenizer.json files spell them.
const (
	llama3Regex = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Regex  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	gpt2Regex   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
)

// preNames maps tokenizer.ggml.pre names to the Split regex they stand for.
var preNames = []struct{ name, regex string }{
	{"llama-bpe", llama3Regex},
	{"qwen2", qwen2Regex},
	{"gpt-2", gpt2Regex},
}

// tokJSON is the part of a tokenizer.json the GGUF vocabulary needs.
type tokJSON struct {
	AddedTokens   []tokenizer.AddedToken `json:"added_tokens"`
	Normalizer    json.RawMessage        `json:"normalizer"`
	PreTokenizer  json.RawMessage        `json:"pre_tokenizer"`
	PostProcessor json.RawMessage        `json:"post_processor"`
	Decoder       json.RawMessage        `json:"decoder"`
	Model         struct {
		Type         string           `json:"type"`
		UnkToken     *string          `json:"unk_token"`
		ByteFallback bool             `json:"byte_fallback"`
		Vocab        map[string]int32 `json:"vocab"`
		Merges       json.RawMessage  `json:"merges"`
	} `json:"model"`
}

// component is a tokenizer.json component with its nested lists, enough to
// search it for a type.
type component struct {
	Type          string          `json:"type"`
	Normalizers   []component     `json:"normalizers"`
	Pretokenizers []component     `json:"pretokenizers"`
	Decoders      []component     `json:"decoders"`
	Pattern       json.RawMessage `json:"pattern"`
	Content       string          `json:"content"`
	Prepend       string          `json:"prepend"`
	PrependScheme string          `json:"prepend_scheme"`
	AddPrefix     *bool           `json:"add_prefix_space"`
}

func parseComponent(raw json.RawMessage) (component, bool) {
	var c component
	if len(raw) == 0 || string(raw) == "null" || json.Unmarshal(raw, &c) != nil {
		return c, false
	}
	return c, true
}

// walk calls fn on c and every component nested in it.
func (c component) walk(fn func(component)) {
	fn(c)
	for _, l := range [][]component{c.Normalizers, c.Pretokenizers, c.Decoders} {
		for _, s := range l {
			s.walk(fn)
		}
	}
}

// TokenizerMeta derives the GGUF vocabulary (tokenizer.ggml.*) of a
// Hugging Face BPE tokenizer as llama.cpp's converter does, padded with
// unused "[PADn]" tokens to vocab entries (the embedding's rows).
//
// A byte-level tokenizer (ByteLevel pre-tokenizer or decoder: Llama 3,
// Qwen, GPT-2) becomes model "gpt2" with its merges and the pre-tokenizer
// name llama.cpp recognises by its regex. A SentencePiece-style BPE
// (Metaspace, or Prepend/Replace "▁": Llama 2, llama2.c) becomes model
// "llama", whose encoder merges the adjacent pair making the highest-score
// token: each token's score is minus the rank of the first merge that
// makes it, so that order is the merge order Hugging Face follows.
// Special added tokens are control tokens, other added tokens user-defined,
// <0xXX> tokens bytes. Whether BOS and EOS are added is read off the
// tokenizer's own encoding of a test string.
func TokenizerMeta(tok *tokenizer.Tokenizer, vocab int) (gguf.TokenizerMeta, error) {
	var meta gguf.TokenizerMeta
	data, err := tok.MarshalJSON()
	if err != nil {
		return meta, err
	}
	var tj tokJSON
	if err := json.Unmarshal(data, &tj); err != nil {
		return meta, fmt.Errorf("tokenizer.json: %w", err)
	}
	if tj.Model.Type != "" && tj.Model.Type != "BPE" {
		return meta, fmt.Errorf("tokenizer.json: model type %q: GGUF export handles BPE tokenizers", tj.Model.Type)
	}
	merges, err := parseMerges(tj.Model.Merges)
	if err != nil {
		return meta, err
	}
	n := tok.VocabSize()
	if n > vocab {
		return meta, fmt.Errorf("the tokenizer has %d tokens but the model's vocabulary is %d", n, vocab)
	}
	meta.Tokens = make([]string, vocab)
	meta.TokenTypes = make([]int32, vocab)
	have := make([]bool, vocab)
	for s, id := range tj.Model.Vocab {
		if id >= 0 && int(id) < vocab {
			meta.Tokens[id], have[id] = s, true
			meta.TokenTypes[id] = gguf.TokenNormal
		}
	}
	for _, a := range tj.AddedTokens {
		if a.ID < 0 || int(a.ID) >= vocab {
			return meta, fmt.Errorf("tokenizer.json: added token %q has id %d, outside the vocabulary of %d", a.Content, a.ID, vocab)
		}
		meta.Tokens[a.ID], have[a.ID] = a.Content, true
		if a.Special {
			meta.TokenTypes[a.ID] = gguf.TokenControl
		} else {
			meta.TokenTypes[a.ID] = gguf.TokenUserDefined
		}
	}
	for i := range meta.Tokens {
		if !have[i] {
			meta.Tokens[i] = fmt.Sprintf("[PAD%d]", i)
			meta.TokenTypes[i] = gguf.TokenUnused
		}
	}
	meta.Unknown, meta.Pad = -1, -1
	if u := tj.Model.UnkToken; u != nil {
		if id, ok := tok.TokenID(*u); ok {
			meta.Unknown = int(id)
			meta.TokenTypes[id] = gguf.TokenUnknown
		}
	}

	byteLevel, spm, prepend := false, false, false
	var splitRegex string
	for _, raw := range []json.RawMessage{tj.Normalizer, tj.PreTokenizer, tj.Decoder} {
		c, ok := parseComponent(raw)
		if !ok {
			continue
		}
		c.walk(func(c component) {
			switch c.Type {
			case "ByteLevel":
				byteLevel = true
			case "Metaspace":
				spm = true
				if c.PrependScheme != "never" && (c.AddPrefix == nil || *c.AddPrefix) {
					prepend = true
				}
			case "Prepend":
				if c.Prepend == "▁" {
					spm, prepend = true, true
				}
			case "Replace":
				if c.Content == "▁" {
					spm = true
				}
			case "Split":
				var p struct{ Regex string }
				if json.Unmarshal(c.Pattern, &p) == nil && p.Regex != "" {
					splitRegex = p.Regex
				}
			}
		})
	}
	switch {
	case byteLevel:
		meta.Model = "gpt2"
		meta.Merges = make([]string, len(merges))
		for i, m := range merges {
			if strings.Contains(m[0], " ") || strings.Contains(m[1], " ") {
				return meta, fmt.Errorf("tokenizer.json: merge %d (%q, %q) contains a space, which GGUF's \"a b\" merges cannot hold", i, m[0], m[1])
			}
			meta.Merges[i] = m[0] + " " + m[1]
		}
		meta.Pre = "default"
		if splitRegex == "" {
			meta.Pre = "gpt-2"
		}
		for _, p := range preNames {
			if splitRegex == p.regex {
				meta.Pre = p.name
			}
		}
		if meta.Pre == "default" {
			return meta, fmt.Errorf("tokenizer.json: pre-tokenizer regex %q is none llama.cpp knows by name (%s)", splitRegex, knownPres())
		}
	case spm:
		meta.Model = "llama"
		meta.Scores = make([]float32, vocab)
		for i := range meta.Scores {
			meta.Scores[i] = -1e9 // made by no merge: never preferred
		}
		for i := range meta.Tokens {
			if _, ok := byteValue(meta.Tokens[i]); ok && meta.TokenTypes[i] == gguf.TokenNormal {
				meta.TokenTypes[i] = gguf.TokenByte
			}
			if utf8.RuneCountInString(meta.Tokens[i]) == 1 {
				meta.Scores[i] = 0
			}
		}
		for rank, m := range merges {
			id, ok := tok.TokenID(m[0] + m[1])
			if ok && meta.Scores[id] == -1e9 {
				meta.Scores[id] = -float32(rank + 1)
			}
		}
		if !tj.Model.ByteFallback {
			return meta, errors.New("tokenizer.json: a SentencePiece-style BPE without byte_fallback has no llama.cpp equivalent")
		}
	default:
		return meta, errors.New("tokenizer.json: neither byte-level nor SentencePiece-style; llama.cpp has no matching tokenizer")
	}

	meta.BOS, meta.EOS = -1, -1
	if id, ok := tok.BOS(); ok {
		meta.BOS = int(id)
	}
	if id, ok := tok.EOS(); ok {
		meta.EOS = int(id)
	}
	plain, special := tok.Encode("a", false), tok.Encode("a", true)
	addBOS := len(special) > len(plain) && meta.BOS >= 0 && special[0] == int32(meta.BOS)
	addEOS := len(special) > len(plain) && meta.EOS >= 0 && special[len(special)-1] == int32(meta.EOS)
	meta.AddBOS, meta.AddEOS = &addBOS, &addEOS
	_ = prepend
	return meta, nil
}

// addSpacePrefix reports whether a SentencePiece-style tokenizer.json
// prepends "▁" to the text (llama.cpp's tokenizer.ggml.add_space_prefix).
func addSpacePrefix(tok *tokenizer.Tokenizer) bool {
	ids := tok.Encode("a", false)
	return len(ids) > 0 && strings.HasPrefix(tok.Token(ids[0]), "▁")
}

func knownPres() string {
	var s []string
	for _, p := range preNames {
		s = append(s, p.name)
	}
	return strings.Join(s, ", ")
}

// parseMerges reads tokenizer.json merges in either form: "a b" strings or
// [a, b] pairs.
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var pairs [][2]string
	if err := json.Unmarshal(raw, &pairs); err == nil {
		return pairs, nil
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		return nil, fmt.Errorf("tokenizer.json: model.merges: want strings or pairs: %w", err)
	}
	pairs = make([][2]string, len(lines))
	for i, l := range lines {
		a, b, ok := strings.Cut(l, " ")
		if !ok {
			return nil, fmt.Errorf("tokenizer.json: merge %d %q has no space", i, l)
		}
		pairs[i] = [2]string{a, b}
	}
	return pairs, nil
}

var byteTok = regexp.MustCompile(`^<0x([0-9A-F]{2})>$`)

func byteValue(s string) (byte, bool) {
	m := byteTok.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	var b byte
	fmt.Sscanf(m[1], "%X", &b)
	return b, true
}

// TokenizerFromMeta rebuilds a hone tokenizer from GGUF vocabulary
// metadata, the inverse of TokenizerMeta: the same Hugging Face pipeline
// for the "gpt2" model with a pre-tokenizer llama.cpp names, and for the
// "llama" model a BPE whose merges are every split of every token into two
// tokens, ranked by the score of the token they make (llama.cpp's
// SentencePiece merge order). addSpace is tokenizer.ggml.add_space_prefix.
// Control tokens become special added tokens, user-defined tokens plain
// added tokens.
func TokenizerFromMeta(meta gguf.TokenizerMeta, addSpace bool) (*tokenizer.Tokenizer, error) {
	n := len(meta.Tokens)
	if n == 0 {
		return nil, errors.New("GGUF tokenizer has no tokens")
	}
	// gguf.ReadTokenizer checks these; a hand-made meta may not have been
	if meta.Scores != nil && len(meta.Scores) != n {
		return nil, fmt.Errorf("GGUF key %s has %d entries for %d tokens", gguf.KeyTokenScores, len(meta.Scores), n)
	}
	if meta.TokenTypes != nil && len(meta.TokenTypes) != n {
		return nil, fmt.Errorf("GGUF key %s has %d entries for %d tokens", gguf.KeyTokenTypes, len(meta.TokenTypes), n)
	}
	for _, id := range []struct {
		key string
		id  int
	}{{gguf.KeyBOSID, meta.BOS}, {gguf.KeyEOSID, meta.EOS}, {gguf.KeyUnknownID, meta.Unknown}, {gguf.KeyPaddingID, meta.Pad}} {
		if id.id >= n {
			return nil, fmt.Errorf("GGUF key %s = %d, but there are %d tokens", id.key, id.id, n)
		}
	}
	typ := func(i int) int32 {
		if meta.TokenTypes == nil {
			return gguf.TokenNormal
		}
		return meta.TokenTypes[i]
	}
	vocab := map[string]int32{}
	var added []tokenizer.AddedToken
	for i, s := range meta.Tokens {
		t := typ(i)
		if t == gguf.TokenUnused {
			continue
		}
		if _, dup := vocab[s]; !dup {
			vocab[s] = int32(i)
		}
		switch t {
		case gguf.TokenControl:
			added = append(added, tokenizer.AddedToken{ID: int32(i), Content: s, Special: true})
		case gguf.TokenUserDefined:
			added = append(added, tokenizer.AddedToken{ID: int32(i), Content: s, Normalized: meta.Model == "llama"})
		case gguf.TokenUnknown:
			added = append(added, tokenizer.AddedToken{ID: int32(i), Content: s, Special: true})
		}
	}
	var merges [][2]string
	f := map[string]any{"version": "1.0", "truncation": nil, "padding": nil}
	model := map[string]any{"type": "BPE", "dropout": nil, "continuing_subword_prefix": nil, "end_of_word_suffix": nil,
		"ignore_merges": false, "vocab": vocab}
	var unk any
	if meta.Unknown >= 0 {
		unk = meta.Tokens[meta.Unknown]
	}
	model["unk_token"] = unk
	post := []any{}
	if meta.AddBOS != nil && *meta.AddBOS && meta.BOS >= 0 {
		post = append(post, map[string]any{"SpecialToken": map[string]any{"id": meta.Tokens[meta.BOS], "type_id": 0}})
	}
	post = append(post, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}})
	if meta.AddEOS != nil && *meta.AddEOS && meta.EOS >= 0 {
		post = append(post, map[string]any{"SpecialToken": map[string]any{"id": meta.Tokens[meta.EOS], "type_id": 0}})
	}
	specials := map[string]any{}
	for _, id := range []int{meta.BOS, meta.EOS} {
		if id >= 0 {
			specials[meta.Tokens[id]] = map[string]any{"id": meta.Tokens[id], "ids": []int{id}, "tokens": []string{meta.Tokens[id]}}
		}
	}
	f["post_processor"] = map[string]any{"type": "TemplateProcessing", "single": post, "pair": post, "special_tokens": specials}

	switch meta.Model {
	case "gpt2":
		for i, m := range meta.Merges {
			a, b, ok := strings.Cut(m, " ")
			if !ok {
				return nil, fmt.Errorf("GGUF key %s: merge %d %q has no space", gguf.KeyMerges, i, m)
			}
			merges = append(merges, [2]string{a, b})
		}
		pre := meta.Pre
		if pre == "" {
			pre = "gpt-2"
		}
		regex := ""
		for _, p := range preNames {
			if p.name == pre {
				regex = p.regex
			}
		}
		if regex == "" {
			return nil, fmt.Errorf("GGUF key %s = %q: hone knows %s", gguf.KeyTokenizerPre, pre, knownPres())
		}
		f["normalizer"] = nil
		f["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": regex}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}}
		f["decoder"] = map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}
		model["fuse_unk"], model["byte_fallback"] = false, false
	case "llama":
		if meta.Scores == nil {
			return nil, fmt.Errorf("GGUF key %s is missing; the llama tokenizer needs scores", gguf.KeyTokenScores)
		}
		type merge struct {
			a, b  string
			score float32
			id    int
			split int
		}
		var ms []merge
		for i, s := range meta.Tokens {
			if typ(i) != gguf.TokenNormal || vocab[s] != int32(i) {
				continue
			}
			for k := range s {
				if k == 0 {
					continue
				}
				a, b := s[:k], s[k:]
				if _, ok := vocab[a]; !ok {
					continue
				}
				if _, ok := vocab[b]; !ok {
					continue
				}
				ms = append(ms, merge{a, b, meta.Scores[i], i, k})
			}
		}
		slices.SortStableFunc(ms, func(x, y merge) int {
			return cmp.Or(cmp.Compare(y.score, x.score), cmp.Compare(x.id, y.id), cmp.Compare(x.split, y.split))
		})
		for _, m := range ms {
			merges = append(merges, [2]string{m.a, m.b})
		}
		norm := []any{}
		if addSpace {
			norm = append(norm, map[string]any{"type": "Prepend", "prepend": "▁"})
		}
		norm = append(norm, map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"})
		f["normalizer"] = map[string]any{"type": "Sequence", "normalizers": norm}
		f["pre_tokenizer"] = nil
		dec := []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"}, map[string]any{"type": "Fuse"},
		}
		if addSpace {
			dec = append(dec, map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0})
		}
		f["decoder"] = map[string]any{"type": "Sequence", "decoders": dec}
		model["fuse_unk"], model["byte_fallback"] = true, true
	default:
		return nil, fmt.Errorf("GGUF key %s = %q: hone reads the llama and gpt2 tokenizers", gguf.KeyTokenizerModel, meta.Model)
	}
	if merges == nil {
		merges = [][2]string{}
	}
	model["merges"] = merges
	f["model"] = model
	if added == nil {
		added = []tokenizer.AddedToken{}
	}
	f["added_tokens"] = added
	data, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	return tokenizer.Parse(data, "GGUF vocabulary")
}
