package tokenizer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Tokenizer is a loaded tokenizer.json pipeline. It is immutable after
// loading and safe for concurrent use.
type Tokenizer struct {
	name string

	normalizer normalizer
	pre        preTokenizer
	model      *bpe
	post       postProcessor
	decoder    decoder

	added     []AddedToken
	addedByID map[int32]int // index into added
	addedByS  map[string]int
	rawTrie   *trie // added tokens matched on the original text
	normTrie  *trie // added tokens matched on the normalized text
	special   map[int32]bool
	specialS  map[string]bool
	maxID     int32

	// fast is the byte-level fast path (nil when it does not apply): the
	// regex that splits the text before the ByteLevel mapping.
	fast    pattern
	fastNFC bool // the normalizer is NFC (the fast path checks the text is NFC already)

	bos, eos       int32
	hasBos, hasEos bool

	raw fileJSON // the components as read, for Save
}

// Load reads a tokenizer from a folder holding tokenizer.json (or
// tokenizer.json.gz), or from such a file. In a folder, tokenizer_config.json
// (optional) supplies bos_token and eos_token where the post-processor
// does not say.
func Load(path string) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	dir := ""
	file := path
	if st.IsDir() {
		dir = path
		file = filepath.Join(path, "tokenizer.json")
		if _, err := os.Stat(file); err != nil {
			gz := file + ".gz"
			if _, err2 := os.Stat(gz); err2 != nil {
				return nil, fmt.Errorf("%s: no tokenizer.json or tokenizer.json.gz", path)
			}
			file = gz
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	t, err := Parse(data, file)
	if err != nil {
		return nil, err
	}
	if dir != "" {
		if err := t.readConfig(filepath.Join(dir, "tokenizer_config.json")); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// readConfig takes bos_token and eos_token from tokenizer_config.json when
// the file exists and the post-processor did not determine them. A token
// the config names must be in the vocabulary (transformers would append it
// as a new token, with an id beyond the model's embeddings): otherwise, and
// for a value that is not a string, null or {"content": ...}, it returns an
// error naming the file and the key.
func (t *Tokenizer) readConfig(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	tokenOf := func(key string) (id int32, ok bool, err error) {
		raw, present := cfg[key]
		if !present || isNull(raw) {
			return 0, false, nil
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			var obj struct {
				Content *string `json:"content"`
			}
			if json.Unmarshal(raw, &obj) != nil || obj.Content == nil {
				return 0, false, fmt.Errorf("%s: key %q: want a string, null or {\"content\": ...}, not %.40s", path, key, raw)
			}
			s = *obj.Content
		}
		if s == "" {
			return 0, false, nil
		}
		id, ok = t.TokenID(s)
		if !ok {
			return 0, false, fmt.Errorf("%s: key %q: token %q is not in the vocabulary of %s", path, key, s, t.name)
		}
		return id, true, nil
	}
	bos, hasBos, err := tokenOf("bos_token")
	if err != nil {
		return err
	}
	eos, hasEos, err := tokenOf("eos_token")
	if err != nil {
		return err
	}
	if !t.hasBos {
		t.bos, t.hasBos = bos, hasBos
	}
	if !t.hasEos {
		t.eos, t.hasEos = eos, hasEos
	}
	return nil
}

// Parse builds a tokenizer from the bytes of a tokenizer.json (gzipped or
// not); name is used in errors.
func Parse(data []byte, name string) (*Tokenizer, error) {
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		data, err = io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
	}
	f, err := parseFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid tokenizer.json: %v", name, err)
	}
	if isNull(f.Model) {
		return nil, &configError{name, "", "has no \"model\""}
	}
	p := &parser{file: name}
	m, err := p.model(f.Model)
	if err != nil {
		return nil, err
	}
	return build(p, f, m)
}

// parseFile splits tokenizer.json into its members without decoding the
// model (which the model parser reads itself).
func parseFile(data []byte) (fileJSON, error) {
	var f fileJSON
	mem, err := members(data)
	if err != nil {
		return f, err
	}
	for k, v := range mem {
		switch k {
		case "version":
			if err := json.Unmarshal(v, &f.Version); err != nil {
				return f, fmt.Errorf("version: %v", err)
			}
		case "added_tokens":
			if !isNull(v) {
				if err := json.Unmarshal(v, &f.AddedTokens); err != nil {
					return f, fmt.Errorf("added_tokens: %v", err)
				}
			}
		case "model":
			f.Model = v
		default:
			if !json.Valid(v) {
				return f, fmt.Errorf("%s: invalid JSON", k)
			}
			switch k {
			case "truncation":
				f.Truncation = v
			case "padding":
				f.Padding = v
			case "normalizer":
				f.Normalizer = v
			case "pre_tokenizer":
				f.PreTokenizer = v
			case "post_processor":
				f.PostProcessor = v
			case "decoder":
				f.Decoder = v
			}
		}
	}
	return f, nil
}

// build assembles a tokenizer from the parsed file and model.
func build(p *parser, f fileJSON, m *bpe) (*Tokenizer, error) {
	t := &Tokenizer{name: p.file, model: m, raw: f}
	var err error
	if !isNull(f.Normalizer) {
		if t.normalizer, err = p.normalizer(f.Normalizer, "normalizer"); err != nil {
			return nil, err
		}
	}
	if !isNull(f.PreTokenizer) {
		if t.pre, err = p.preTokenizer(f.PreTokenizer, "pre_tokenizer"); err != nil {
			return nil, err
		}
	}
	if !isNull(f.PostProcessor) {
		if t.post, err = p.postProcessor(f.PostProcessor, "post_processor"); err != nil {
			return nil, err
		}
	}
	if !isNull(f.Decoder) {
		if t.decoder, err = p.decoder(f.Decoder, "decoder"); err != nil {
			return nil, err
		}
	}
	if err := t.setAdded(f.AddedTokens); err != nil {
		return nil, err
	}
	t.setupFastPath()
	t.setBosEos()
	return t, nil
}

func (t *Tokenizer) setAdded(toks []AddedToken) error {
	t.added = toks
	t.addedByID = make(map[int32]int, len(toks))
	t.addedByS = make(map[string]int, len(toks))
	t.special = map[int32]bool{}
	t.specialS = map[string]bool{}
	t.rawTrie, t.normTrie = newTrie(), newTrie()
	t.maxID = int32(len(t.model.tokens)) - 1
	for i, a := range toks {
		if a.ID < 0 {
			return &configError{t.name, fmt.Sprintf("added_tokens[%d]", i), fmt.Sprintf("id %d is negative", a.ID)}
		}
		if a.ID >= maxTokenID {
			return &configError{t.name, fmt.Sprintf("added_tokens[%d]", i), fmt.Sprintf("(%q) id %d is too large (the limit is %d)", a.Content, a.ID, maxTokenID-1)}
		}
		if a.Content == "" {
			return &configError{t.name, fmt.Sprintf("added_tokens[%d]", i), "has empty content"}
		}
		if mid, ok := t.model.vocab[a.Content]; ok && mid != a.ID {
			return &configError{t.name, fmt.Sprintf("added_tokens[%d]", i), fmt.Sprintf("%q has id %d but the model vocabulary says %d", a.Content, a.ID, mid)}
		}
		t.addedByID[a.ID] = i
		t.addedByS[a.Content] = i
		t.maxID = max(t.maxID, a.ID)
		if a.Special {
			t.special[a.ID] = true
			t.specialS[a.Content] = true
		}
	}
	for i, a := range toks {
		if t.addedByS[a.Content] != i {
			continue // a later duplicate wins
		}
		if a.Normalized {
			c := a.Content
			if t.normalizer != nil {
				n := newNstr(c, 0)
				t.normalizer.normalize(&n)
				c = n.s
			}
			t.normTrie.insert(c, int32(i))
		} else {
			t.rawTrie.insert(a.Content, int32(i))
		}
	}
	return nil
}

// setupFastPath enables the raw-byte path for byte-level BPE tokenizers
// whose pre-tokenizer is a regex Split followed by ByteLevel (Llama 3,
// Qwen) or ByteLevel with its own regex (GPT-2 without prefix space).
func (t *Tokenizer) setupFastPath() {
	switch n := t.normalizer.(type) {
	case nil:
	case unicodeNormalizer:
		if n.form != norm.NFC {
			return
		}
		t.fastNFC = true
	default:
		return
	}
	m := t.model
	if m.prefix != nil || m.suffix != nil || !t.normTrie.empty() {
		return
	}
	switch p := t.pre.(type) {
	case byteLevelPreTokenizer:
		if p.useRegex && !p.addPrefixSpace {
			t.fast = gpt2Pattern{}
		}
	case seqPreTokenizer:
		if len(p) != 2 {
			return
		}
		sp, ok1 := p[0].(splitPreTokenizer)
		bl, ok2 := p[1].(byteLevelPreTokenizer)
		if ok1 && ok2 && sp.behavior == behaviorIsolated && !sp.invert && !bl.useRegex && !bl.addPrefixSpace {
			t.fast = sp.pat
		}
	}
	if t.fast != nil {
		m.enableByteLevel()
	}
}

// setBosEos reads BOS and EOS from a TemplateProcessing post-processor.
func (t *Tokenizer) setBosEos() {
	var visit func(p postProcessor)
	visit = func(p postProcessor) {
		switch x := p.(type) {
		case *templateProcessor:
			t.bos, t.eos, t.hasBos, t.hasEos = x.bosEos()
		case bertProcessor:
			t.bos, t.eos, t.hasBos, t.hasEos = x.cls, x.sep, true, true
		case seqProcessor:
			for _, y := range x {
				visit(y)
			}
		}
	}
	visit(t.post)
}

// Encode tokenizes text. Added tokens in the text (such as <|eot_id|>) are
// always matched; addSpecial applies the post-processor (BOS/EOS).
func (t *Tokenizer) Encode(text string, addSpecial bool) []int32 {
	e := t.encode(text, addSpecial, false)
	return e.ids
}

// EncodeOffsets is Encode that also returns, for each token, the byte range
// [start, end) of the original text it came from. Tokens added by the
// post-processor get [0, 0].
func (t *Tokenizer) EncodeOffsets(text string, addSpecial bool) (ids []int32, offsets [][2]int) {
	e := t.encode(text, addSpecial, true)
	return e.ids, e.offs
}

// EncodeBatch encodes every text, in parallel over GOMAXPROCS goroutines.
func (t *Tokenizer) EncodeBatch(texts []string, addSpecial bool) [][]int32 {
	out := make([][]int32, len(texts))
	workers := min(runtime.GOMAXPROCS(0), len(texts))
	if workers <= 1 {
		for i, s := range texts {
			out[i] = t.Encode(s, addSpecial)
		}
		return out
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(texts) {
					return
				}
				out[i] = t.Encode(texts[i], addSpecial)
			}
		})
	}
	wg.Wait()
	return out
}

func (t *Tokenizer) encode(text string, addSpecial, withOffsets bool) encoding {
	var e encoding
	e.ids = make([]int32, 0, len(text)/4+4)
	if withOffsets {
		e.offs = make([][2]int, 0, cap(e.ids))
	}
	var buf []sym
	for _, am := range findAdded(text, t.rawTrie, t.added, nil) {
		if am.tok >= 0 {
			e.ids = append(e.ids, t.added[am.tok].ID)
			if withOffsets {
				e.offs = append(e.offs, [2]int{am.start, am.end})
			}
			continue
		}
		seg := text[am.start:am.end]
		if t.fast != nil && (!t.fastNFC || norm.NFC.IsNormalString(seg)) {
			buf = t.encodeFast(seg, am.start, &e, buf)
			continue
		}
		buf = t.encodeGeneric(seg, am.start, &e, buf)
	}
	if t.post != nil {
		t.post.process(t, &e, addSpecial)
	}
	return e
}

// encodeFast runs the byte-level fast path on a segment of plain text
// starting at byte base of the input.
func (t *Tokenizer) encodeFast(seg string, base int, e *encoding, buf []sym) []sym {
	t.fast.find(seg, func(start, end int) {
		buf = t.model.tokenizeRaw(seg[start:end], buf[:0])
		pos := start
		for _, s := range buf {
			e.ids = append(e.ids, s.id)
			if e.offs != nil {
				a, b := pos, pos+int(s.n)
				// Byte-level characters carry the alignment of the whole
				// original character, so widen to character boundaries.
				for a > start && !isRuneStart(seg, a) {
					a--
				}
				for b < end && !isRuneStart(seg, b) {
					b++
				}
				e.offs = append(e.offs, [2]int{base + a, base + b})
			}
			pos += int(s.n)
		}
	})
	return buf
}

// isRuneStart reports whether a character starts at s[i] (an invalid byte
// is a character of its own).
func isRuneStart(s string, i int) bool {
	if s[i]&0xC0 != 0x80 {
		return true
	}
	// A continuation byte starts a character if it is not part of a valid
	// sequence that begins before it.
	for k := i - 1; k >= 0 && k >= i-3; k-- {
		if s[k]&0xC0 != 0x80 {
			_, w := utf8.DecodeRuneInString(s[k:])
			return k+w <= i
		}
	}
	return true
}

// encodeGeneric runs the full pipeline on a segment of plain text.
func (t *Tokenizer) encodeGeneric(seg string, base int, e *encoding, buf []sym) []sym {
	n := newNstr(seg, base)
	if t.normalizer != nil {
		t.normalizer.normalize(&n)
	}
	for _, am := range findAdded(n.s, t.normTrie, t.added, nil) {
		if am.tok >= 0 {
			e.ids = append(e.ids, t.added[am.tok].ID)
			if e.offs != nil {
				o := n.origRange(am.start, am.end)
				e.offs = append(e.offs, [2]int{o.start, o.end})
			}
			continue
		}
		if am.end <= am.start {
			continue
		}
		piece := n.slice(am.start, am.end)
		var pieces []nstr
		if t.pre != nil {
			pieces = t.pre.preTokenize(piece, nil)
		} else {
			pieces = []nstr{piece}
		}
		for i := range pieces {
			pc := &pieces[i]
			if pc.s == "" {
				continue
			}
			buf = t.model.tokenize(pc.s, buf[:0])
			pos := 0
			for _, s := range buf {
				e.ids = append(e.ids, s.id)
				if e.offs != nil {
					o := pc.origRange(pos, pos+int(s.n))
					e.offs = append(e.offs, [2]int{o.start, o.end})
				}
				pos += int(s.n)
			}
		}
	}
	return buf
}

// Decode turns ids back into text through the decoder. Unknown ids are
// skipped; with skipSpecial, special added tokens are too.
func (t *Tokenizer) Decode(ids []int32, skipSpecial bool) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		tok, ok := t.token(id)
		if !ok {
			continue
		}
		if skipSpecial && t.specialS[tok] {
			continue
		}
		toks = append(toks, tok)
	}
	if t.decoder == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(t.decoder.decodeChain(toks), "")
}

func (t *Tokenizer) token(id int32) (string, bool) {
	if i, ok := t.addedByID[id]; ok {
		return t.added[i].Content, true
	}
	if id >= 0 && int(id) < len(t.model.tokens) {
		if s := t.model.tokens[id]; s != "" {
			return s, true
		}
		if _, ok := t.model.vocab[""]; ok && t.model.vocab[""] == id {
			return "", true
		}
	}
	return "", false
}

// VocabSize is one more than the largest token id, added tokens included;
// it equals the number of tokens when ids are dense, and is the size an
// embedding matrix needs.
func (t *Tokenizer) VocabSize() int { return int(t.maxID) + 1 }

// TokenID returns the id of a token string (added tokens first).
func (t *Tokenizer) TokenID(tok string) (int32, bool) {
	if i, ok := t.addedByS[tok]; ok {
		return t.added[i].ID, true
	}
	id, ok := t.model.vocab[tok]
	return id, ok
}

// Token returns the string of a token id, or "" for an unknown id.
func (t *Tokenizer) Token(id int32) string {
	s, _ := t.token(id)
	return s
}

// IsSpecial reports whether id is a special added token.
func (t *Tokenizer) IsSpecial(id int32) bool { return t.special[id] }

// BOS returns the beginning-of-sequence id that the post-processor adds
// (or, failing that, tokenizer_config.json's bos_token).
func (t *Tokenizer) BOS() (int32, bool) { return t.bos, t.hasBos }

// EOS returns the end-of-sequence id that the post-processor adds (or,
// failing that, tokenizer_config.json's eos_token).
func (t *Tokenizer) EOS() (int32, bool) { return t.eos, t.hasEos }

// AddedTokens returns a copy of the added tokens.
func (t *Tokenizer) AddedTokens() []AddedToken { return append([]AddedToken(nil), t.added...) }
