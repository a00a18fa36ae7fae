package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// fileJSON is the top level of tokenizer.json. The components are kept raw
// so that Save writes them back unchanged.
type fileJSON struct {
	Version       string          `json:"version"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []AddedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

// modelJSON is a BPE model without its two large members.
type modelJSON struct {
	Type                    string          `json:"type,omitempty"`
	Dropout                 *float64        `json:"dropout"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	Vocab                   json.RawMessage `json:"vocab,omitempty"`
	Merges                  json.RawMessage `json:"merges,omitempty"`
}

// configError names the file and the construct at fault.
type configError struct {
	file, where, msg string
}

func (e *configError) Error() string {
	if e.where == "" {
		return e.file + ": " + e.msg
	}
	return e.file + ": " + e.where + " " + e.msg
}

// component is the common shape of a tagged component.
type component struct {
	Type string `json:"type"`
}

// isNull reports whether a raw member is absent or null.
func isNull(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) == 0 || bytes.Equal(r, []byte("null"))
}

// decodeInto unmarshals raw into v, with an error naming where.
func (p *parser) decodeInto(raw json.RawMessage, where string, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return &configError{p.file, where, "is malformed: " + err.Error()}
	}
	return nil
}

type parser struct{ file string }

func (p *parser) typeOf(raw json.RawMessage, where string) (string, error) {
	var c component
	if err := p.decodeInto(raw, where, &c); err != nil {
		return "", err
	}
	if c.Type == "" {
		return "", &configError{p.file, where, "has no \"type\""}
	}
	return c.Type, nil
}

func (p *parser) unsupported(where, typ string) error {
	return &configError{p.file, where, fmt.Sprintf("type %q is not supported", typ)}
}

// patternJSON is {"String": "..."} or {"Regex": "..."}.
type patternJSON struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

func (p *parser) pattern(pj patternJSON, where string) (pattern, error) {
	switch {
	case pj.String != nil:
		return literalPattern(*pj.String), nil
	case pj.Regex != nil:
		pat, err := compileRegex(*pj.Regex)
		if err != nil {
			return nil, &configError{p.file, where, err.Error()}
		}
		return pat, nil
	}
	return nil, &configError{p.file, where, "pattern needs \"String\" or \"Regex\""}
}

func (p *parser) normalizer(raw json.RawMessage, where string) (normalizer, error) {
	typ, err := p.typeOf(raw, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var v struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := p.decodeInto(raw, where, &v); err != nil {
			return nil, err
		}
		seq := seqNormalizer{}
		for i, r := range v.Normalizers {
			n, err := p.normalizer(r, fmt.Sprintf("%s.normalizers[%d]", where, i))
			if err != nil {
				return nil, err
			}
			seq = append(seq, n)
		}
		return seq, nil
	case "NFC":
		return unicodeNormalizer{norm.NFC}, nil
	case "NFD":
		return unicodeNormalizer{norm.NFD}, nil
	case "NFKC":
		return unicodeNormalizer{norm.NFKC}, nil
	case "NFKD":
		return unicodeNormalizer{norm.NFKD}, nil
	case "Lowercase":
		return lowercaseNormalizer{}, nil
	case "Strip":
		var v struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		if err := p.decodeInto(raw, where, &v); err != nil {
			return nil, err
		}
		return stripNormalizer{v.Left, v.Right}, nil
	case "Prepend":
		var v struct {
			Prepend *string `json:"prepend"`
		}
		if err := p.decodeInto(raw, where, &v); err != nil {
			return nil, err
		}
		if v.Prepend == nil {
			return nil, &configError{p.file, where, "(Prepend) has no \"prepend\""}
		}
		return prependNormalizer{*v.Prepend}, nil
	case "Replace":
		r, err := p.replace(raw, where)
		return r, err
	}
	return nil, p.unsupported(where, typ)
}

func (p *parser) replace(raw json.RawMessage, where string) (replaceNormalizer, error) {
	var v struct {
		Pattern patternJSON `json:"pattern"`
		Content *string     `json:"content"`
	}
	if err := p.decodeInto(raw, where, &v); err != nil {
		return replaceNormalizer{}, err
	}
	if v.Content == nil {
		return replaceNormalizer{}, &configError{p.file, where, "(Replace) has no \"content\""}
	}
	pat, err := p.pattern(v.Pattern, where)
	if err != nil {
		return replaceNormalizer{}, err
	}
	return replaceNormalizer{pat, *v.Content}, nil
}

func (p *parser) behavior(s, where string, def splitBehavior) (splitBehavior, error) {
	if s == "" {
		return def, nil
	}
	b, ok := behaviorNames[s]
	if !ok {
		return 0, &configError{p.file, where, fmt.Sprintf("behavior %q is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous", s)}
	}
	return b, nil
}

// metaspaceJSON covers the current and the legacy Metaspace fields.
type metaspaceJSON struct {
	Replacement    string `json:"replacement"`
	PrependScheme  string `json:"prepend_scheme"`
	Split          *bool  `json:"split"`
	AddPrefixSpace *bool  `json:"add_prefix_space"`
}

func (p *parser) metaspace(raw json.RawMessage, where string) (metaspacePreTokenizer, error) {
	var v metaspaceJSON
	if err := p.decodeInto(raw, where, &v); err != nil {
		return metaspacePreTokenizer{}, err
	}
	r, n := utf8.DecodeRuneInString(v.Replacement)
	if n == 0 || n != len(v.Replacement) {
		return metaspacePreTokenizer{}, &configError{p.file, where, fmt.Sprintf("(Metaspace) replacement %q is not one character", v.Replacement)}
	}
	scheme := prependAlways
	if v.PrependScheme != "" {
		s, ok := prependSchemeNames[v.PrependScheme]
		if !ok {
			return metaspacePreTokenizer{}, &configError{p.file, where, fmt.Sprintf("(Metaspace) prepend_scheme %q is not one of first, never, always", v.PrependScheme)}
		}
		scheme = s
	}
	if v.AddPrefixSpace != nil && !*v.AddPrefixSpace {
		if scheme != prependNever && v.PrependScheme != "" {
			return metaspacePreTokenizer{}, &configError{p.file, where, "(Metaspace) add_prefix_space does not match prepend_scheme"}
		}
		scheme = prependNever
	}
	split := true
	if v.Split != nil {
		split = *v.Split
	}
	return metaspacePreTokenizer{r, scheme, split}, nil
}

func (p *parser) preTokenizer(raw json.RawMessage, where string) (preTokenizer, error) {
	typ, err := p.typeOf(raw, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var v struct {
			PreTokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := p.decodeInto(raw, where, &v); err != nil {
			return nil, err
		}
		seq := seqPreTokenizer{}
		for i, r := range v.PreTokenizers {
			x, err := p.preTokenizer(r, fmt.Sprintf("%s.pretokenizers[%d]", where, i))
			if err != nil {
				return nil, err
			}
			seq = append(seq, x)
		}
		return seq, nil
	case "Split":
		var v struct {
			Pattern  patternJSON `json:"pattern"`
			Behavior string      `json:"behavior"`
			Invert   bool        `json:"invert"`
		}
		if err := p.decodeInto(raw, where, &v); err != nil {
			return nil, err
		}
		pat, err := p.pattern(v.Pattern, where)
		if err != nil {
			return nil, err
		}
		if v.Behavior == "" {
			return nil, &configError{p.file, where, "(Split) has no \"behavior\""}
		}
		b, err := p.behavior(v.Behavior, where, behaviorIsolated)
		if err != nil {
			return nil, err
		}
		return splitPreTokenizer{pat, b, v.Invert}, nil
	case "ByteLevel":
		v := struct {
			AddPrefixSpace bool `json:"add_prefix_space"`
			UseRegex       bool `json:"use_regex"`
		}{AddPrefixSpace: true, UseRegex: true}
		if err := p.decodeInto(raw, where, &v); err != nil {
			return nil, err
		}
		return byteLevelPreTokenizer{v.AddPrefixSpace, v.UseRegex}, nil
	case "Metaspace":
		return p.metaspace(raw, where)
	case "Digits":
		var v struct {
			Individual bool `json:"individual_digits"`
		}
		if err := p.decodeInto(raw, where, &v); err != nil {
			return nil, err
		}
		return digitsPreTokenizer{v.Individual}, nil
	case "Whitespace":
		return whitespacePreTokenizer{}, nil
	case "WhitespaceSplit":
		return whitespaceSplitPreTokenizer{}, nil
	case "Punctuation":
		var v struct {
			Behavior string `json:"behavior"`
		}
		if err := p.decodeInto(raw, where, &v); err != nil {
			return nil, err
		}
		b, err := p.behavior(v.Behavior, where, behaviorIsolated)
		if err != nil {
			return nil, err
		}
		return punctuationPreTokenizer{b}, nil
	case "BertPreTokenizer":
		return seqPreTokenizer{whitespaceSplitPreTokenizer{}, punctuationPreTokenizer{behaviorIsolated}}, nil
	}
	return nil, p.unsupported(where, typ)
}

// specialJSON is a TemplateProcessing special token entry.
type specialJSON struct {
	ID     string   `json:"id"`
	IDs    []int32  `json:"ids"`
	Tokens []string `json:"tokens"`
}

func (p *parser) postProcessor(raw json.RawMessage, where string) (postProcessor, error) {
	typ, err := p.typeOf(raw, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var v struct {
			Processors []json.RawMessage `json:"processors"`
		}
		if err := p.decodeInto(raw, where, &v); err != nil {
			return nil, err
		}
		seq := seqProcessor{}
		for i, r := range v.Processors {
			x, err := p.postProcessor(r, fmt.Sprintf("%s.processors[%d]", where, i))
			if err != nil {
				return nil, err
			}
			seq = append(seq, x)
		}
		return seq, nil
	case "ByteLevel":
		v := struct {
			AddPrefixSpace bool `json:"add_prefix_space"`
			TrimOffsets    bool `json:"trim_offsets"`
		}{true, true}
		if err := p.decodeInto(raw, where, &v); err != nil {
			return nil, err
		}
		return byteLevelProcessor{v.TrimOffsets, v.AddPrefixSpace}, nil
	case "TemplateProcessing":
		var v struct {
			Single []struct {
				SpecialToken *struct {
					ID string `json:"id"`
				} `json:"SpecialToken"`
				Sequence *struct {
					ID string `json:"id"`
				} `json:"Sequence"`
			} `json:"single"`
			SpecialTokens map[string]specialJSON `json:"special_tokens"`
		}
		if err := p.decodeInto(raw, where, &v); err != nil {
			return nil, err
		}
		tp := &templateProcessor{}
		for i, pc := range v.Single {
			switch {
			case pc.Sequence != nil:
				tp.single = append(tp.single, templatePiece{seq: true})
			case pc.SpecialToken != nil:
				st, ok := v.SpecialTokens[pc.SpecialToken.ID]
				if !ok {
					return nil, &configError{p.file, fmt.Sprintf("%s.single[%d]", where, i), fmt.Sprintf("special token %q is missing from special_tokens", pc.SpecialToken.ID)}
				}
				tp.single = append(tp.single, templatePiece{ids: st.IDs})
			default:
				return nil, &configError{p.file, fmt.Sprintf("%s.single[%d]", where, i), "is neither SpecialToken nor Sequence"}
			}
		}
		return tp, nil
	case "BertProcessing", "RobertaProcessing":
		v := struct {
			Sep            [2]json.RawMessage `json:"sep"`
			Cls            [2]json.RawMessage `json:"cls"`
			TrimOffsets    bool               `json:"trim_offsets"`
			AddPrefixSpace bool               `json:"add_prefix_space"`
		}{TrimOffsets: true, AddPrefixSpace: true}
		if err := p.decodeInto(raw, where, &v); err != nil {
			return nil, err
		}
		var sep, cls int32
		if err := json.Unmarshal(v.Sep[1], &sep); err != nil {
			return nil, &configError{p.file, where, "sep must be [token, id]"}
		}
		if err := json.Unmarshal(v.Cls[1], &cls); err != nil {
			return nil, &configError{p.file, where, "cls must be [token, id]"}
		}
		bp := bertProcessor{cls: cls, sep: sep}
		if typ == "RobertaProcessing" {
			bp.trimOffsets, bp.addPrefixSpace = v.TrimOffsets, v.AddPrefixSpace
		}
		return bp, nil
	}
	return nil, p.unsupported(where, typ)
}

func (p *parser) decoder(raw json.RawMessage, where string) (decoder, error) {
	typ, err := p.typeOf(raw, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var v struct {
			Decoders []json.RawMessage `json:"decoders"`
		}
		if err := p.decodeInto(raw, where, &v); err != nil {
			return nil, err
		}
		seq := seqDecoder{}
		for i, r := range v.Decoders {
			x, err := p.decoder(r, fmt.Sprintf("%s.decoders[%d]", where, i))
			if err != nil {
				return nil, err
			}
			seq = append(seq, x)
		}
		return seq, nil
	case "ByteLevel":
		return byteLevelDecoder{}, nil
	case "Metaspace":
		m, err := p.metaspace(raw, where)
		if err != nil {
			return nil, err
		}
		return metaspaceDecoder{m.replacement, m.scheme}, nil
	case "Replace":
		r, err := p.replace(raw, where)
		if err != nil {
			return nil, err
		}
		return replaceDecoder{r}, nil
	case "ByteFallback":
		return byteFallbackDecoder{}, nil
	case "Fuse":
		return fuseDecoder{}, nil
	case "Strip":
		var v struct {
			Content string `json:"content"`
			Start   int    `json:"start"`
			Stop    int    `json:"stop"`
		}
		if err := p.decodeInto(raw, where, &v); err != nil {
			return nil, err
		}
		r, n := utf8.DecodeRuneInString(v.Content)
		if n == 0 || n != len(v.Content) || v.Start < 0 || v.Stop < 0 {
			return nil, &configError{p.file, where, "(Strip) needs one content character and non-negative start and stop"}
		}
		return stripDecoder{r, v.Start, v.Stop}, nil
	case "BPEDecoder":
		v := struct {
			Suffix string `json:"suffix"`
		}{"</w>"}
		if err := p.decodeInto(raw, where, &v); err != nil {
			return nil, err
		}
		return bpeDecoder{v.Suffix}, nil
	}
	return nil, p.unsupported(where, typ)
}

func (p *parser) model(raw json.RawMessage) (*bpe, error) {
	mem, err := members(raw)
	if err != nil {
		return nil, &configError{p.file, "model", "is malformed: " + err.Error()}
	}
	var mj modelJSON
	for k, v := range mem {
		var dst any
		switch k {
		case "type":
			dst = &mj.Type
		case "dropout":
			dst = &mj.Dropout
		case "unk_token":
			dst = &mj.UnkToken
		case "continuing_subword_prefix":
			dst = &mj.ContinuingSubwordPrefix
		case "end_of_word_suffix":
			dst = &mj.EndOfWordSuffix
		case "fuse_unk":
			dst = &mj.FuseUnk
		case "byte_fallback":
			dst = &mj.ByteFallback
		case "ignore_merges":
			dst = &mj.IgnoreMerges
		case "vocab":
			mj.Vocab = v
			continue
		case "merges":
			mj.Merges = v
			continue
		default:
			continue
		}
		if !isNull(v) {
			if err := p.decodeInto(v, "model."+k, dst); err != nil {
				return nil, err
			}
		}
	}
	if mj.Type == "" && (mj.Vocab == nil || mj.Merges == nil) {
		return nil, &configError{p.file, "model", "has no \"type\""}
	}
	if mj.Type != "" && mj.Type != "BPE" {
		return nil, p.unsupported("model", mj.Type)
	}
	if isNull(mj.Vocab) || isNull(mj.Merges) {
		return nil, &configError{p.file, "model", "(BPE) needs \"vocab\" and \"merges\""}
	}
	// The vocabulary and the merges are read at the same time, then the
	// merges are resolved to ids in parallel: together this is most of the
	// time it takes to load a large tokenizer.
	type pair struct{ a, b []byte }
	var pairs []pair
	var mergeErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		pairs = make([]pair, 0, len(mj.Merges)/16)
		mergeErr = parseMerges(mj.Merges, func(_ int, a, b []byte) error {
			pairs = append(pairs, pair{a, b})
			return nil
		})
	}()
	vocab, err := parseVocab(mj.Vocab)
	<-done
	if err != nil {
		return nil, &configError{p.file, "model.vocab", "is malformed: " + err.Error()}
	}
	if mergeErr != nil {
		return nil, &configError{p.file, "model.merges", "is malformed: " + mergeErr.Error()}
	}
	m, err := newBPEOpts(vocab, mj)
	if err != nil {
		return nil, &configError{p.file, "model", err.Error()}
	}
	type resolved struct {
		key uint64
		val mergeVal
	}
	res := make([]resolved, len(pairs))
	workers := max(1, min(runtime.GOMAXPROCS(0), len(pairs)/4096))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*len(pairs)/workers, (w+1)*len(pairs)/workers
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				k, v, err := m.resolveMerge(i, pairs[i].a, pairs[i].b)
				if err != nil {
					errs[w] = err
					return
				}
				res[i] = resolved{k, v}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, &configError{p.file, "model.merges", err.Error()}
		}
	}
	m.merges = make(map[uint64]mergeVal, len(res))
	for _, r := range res {
		m.merges[r.key] = r.val
	}
	return m, nil
}

// buildBPE makes the model from its parsed parts.
func buildBPE(file string, mj modelJSON, vocab map[string]int32, merges [][2]string) (*bpe, error) {
	m, err := newBPEOpts(vocab, mj)
	if err != nil {
		return nil, &configError{file, "model", err.Error()}
	}
	if err := m.setMerges(merges); err != nil {
		return nil, &configError{file, "model.merges", err.Error()}
	}
	return m, nil
}

func newBPEOpts(vocab map[string]int32, mj modelJSON) (*bpe, error) {
	m, err := newBPE(vocab, nil, mj.UnkToken)
	if err != nil {
		return nil, err
	}
	m.fuseUnk, m.byteFallback, m.ignoreMerges = mj.FuseUnk, mj.ByteFallback, mj.IgnoreMerges
	m.dropout = mj.Dropout
	if mj.ContinuingSubwordPrefix != nil && *mj.ContinuingSubwordPrefix != "" {
		m.prefix = mj.ContinuingSubwordPrefix
	}
	if mj.EndOfWordSuffix != nil && *mj.EndOfWordSuffix != "" {
		m.suffix = mj.EndOfWordSuffix
	}
	if err := m.setUnk(); err != nil {
		return nil, err
	}
	return m, nil
}
