package tokenizer

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hone/internal/shared"
)

// mkJSON builds a tokenizer.json with a BPE model over vocab (ids in
// order) and the given merges and components (raw JSON, "" for null).
func mkJSON(vocab []string, merges [][2]string, added []AddedToken, normalizer, pre, post, dec string) []byte {
	v := map[string]int{}
	for i, s := range vocab {
		v[s] = i
	}
	if added == nil {
		added = []AddedToken{}
	}
	null := func(s string) json.RawMessage {
		if s == "" {
			return json.RawMessage("null")
		}
		return json.RawMessage(s)
	}
	if merges == nil {
		merges = [][2]string{}
	}
	doc := map[string]any{
		"version":        "1.0",
		"added_tokens":   added,
		"normalizer":     null(normalizer),
		"pre_tokenizer":  null(pre),
		"post_processor": null(post),
		"decoder":        null(dec),
		"model":          map[string]any{"type": "BPE", "vocab": v, "merges": merges, "byte_fallback": false},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

// chars returns the single characters of s, deduplicated, in order.
func chars(s string) []string {
	var out []string
	for _, r := range s {
		if !slices.Contains(out, string(r)) {
			out = append(out, string(r))
		}
	}
	return out
}

func mustParse(t *testing.T, data []byte) *Tokenizer {
	t.Helper()
	tk, err := Parse(data, "test.json")
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// toks maps ids to token strings.
func toks(tk *Tokenizer, ids []int32) []string {
	var out []string
	for _, id := range ids {
		out = append(out, tk.Token(id))
	}
	return out
}

func TestAddedTokenRules(t *testing.T) {
	vocab := chars("abcxy <>")
	added := []AddedToken{
		{ID: 100, Content: "<x>", LStrip: true, Special: true},
		{ID: 101, Content: "<y>", RStrip: true},
		{ID: 102, Content: "ab", SingleWord: true},
		{ID: 103, Content: "hello", Normalized: true},
	}
	tk := mustParse(t, mkJSON(vocab, nil, added, `{"type":"Lowercase"}`, "", "", ""))
	for _, c := range []struct {
		in   string
		want []string
		offs [][2]int
	}{
		{"a <x>b", []string{"a", "<x>", "b"}, [][2]int{{0, 1}, {1, 5}, {5, 6}}},
		{"<y>  c", []string{"<y>", "c"}, [][2]int{{0, 5}, {5, 6}}},
		{"ab cab ab", []string{"ab", " ", "c", "a", "b", " ", "ab"}, nil},
		{"HeLLo", []string{"hello"}, [][2]int{{0, 5}}},
		{"", nil, [][2]int{}},
	} {
		ids, offs := tk.EncodeOffsets(c.in, false)
		if got := toks(tk, ids); !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %q, want %q", c.in, got, c.want)
		}
		if c.offs != nil && !slices.Equal(offs, c.offs) {
			t.Errorf("EncodeOffsets(%q) offsets = %v, want %v", c.in, offs, c.offs)
		}
	}
	if !tk.IsSpecial(100) || tk.IsSpecial(101) {
		t.Errorf("IsSpecial(100), IsSpecial(101) = %v, %v, want true, false", tk.IsSpecial(100), tk.IsSpecial(101))
	}
	if got := tk.Decode([]int32{0, 100, 1}, true); got != "a b" {
		t.Errorf("Decode(skip special) = %q, want %q", got, "a b")
	}
	if got := tk.VocabSize(); got != 104 {
		t.Errorf("VocabSize() = %d, want 104", got)
	}
}

func TestSplitBehaviors(t *testing.T) {
	in := "the-final--countdown"
	for _, c := range []struct {
		behavior string
		want     []string
	}{
		{"Removed", []string{"the", "final", "countdown"}},
		{"Isolated", []string{"the", "-", "final", "-", "-", "countdown"}},
		{"MergedWithPrevious", []string{"the-", "final-", "-", "countdown"}},
		{"MergedWithNext", []string{"the", "-final", "-", "-countdown"}},
		{"Contiguous", []string{"the", "-", "final", "--", "countdown"}},
	} {
		pre := fmt.Sprintf(`{"type":"Split","pattern":{"String":"-"},"behavior":%q,"invert":false}`, c.behavior)
		if got := preTokenizeString(t, pre, in); !slices.Equal(got, c.want) {
			t.Errorf("Split %s: pre_tokenize(%q) = %q, want %q", c.behavior, in, got, c.want)
		}
	}
}

// preTokenizeString runs a pre-tokenizer given as JSON on s.
func preTokenizeString(t *testing.T, pre, s string) []string {
	t.Helper()
	p := &parser{file: "test.json"}
	pt, err := p.preTokenizer(json.RawMessage(pre), "pre_tokenizer")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range pt.preTokenize(newNstr(s, 0), nil) {
		if len(n.align) != len(n.s) {
			t.Fatalf("piece %q has %d alignments", n.s, len(n.align))
		}
		out = append(out, n.s)
	}
	return out
}

func TestPreTokenizers(t *testing.T) {
	for _, c := range []struct {
		pre, in string
		want    []string
	}{
		{`{"type":"Whitespace"}`, "Hey friend!     How are you?!?", []string{"Hey", "friend", "!", "How", "are", "you", "?!?"}},
		{`{"type":"WhitespaceSplit"}`, "Hey friend!  x", []string{"Hey", "friend!", "x"}},
		{`{"type":"Punctuation","behavior":"Isolated"}`, "Hey friend!", []string{"Hey friend", "!"}},
		{`{"type":"Digits","individual_digits":true}`, "a123b", []string{"a", "1", "2", "3", "b"}},
		{`{"type":"Digits","individual_digits":false}`, "a123b", []string{"a", "123", "b"}},
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}`, "Hey  friend", []string{"▁Hey", "▁", "▁friend"}},
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"never","split":false}`, "Hey friend", []string{"Hey▁friend"}},
		{`{"type":"Metaspace","replacement":"▁","add_prefix_space":true}`, "Hey", []string{"▁Hey"}},
		{`{"type":"ByteLevel","add_prefix_space":true,"use_regex":true}`, "Hello  world", []string{"ĠHello", "Ġ", "Ġworld"}},
		{`{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}`, "é \n", []string{"Ã©ĠĊ"}},
		{`{"type":"Split","pattern":{"Regex":"\\d+"},"behavior":"Removed","invert":true}`, "ab12cd3", []string{"12", "3"}},
		{`{"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Digits","individual_digits":true}]}`, "a1 b22", []string{"a", "1", "b", "2", "2"}},
		{`{"type":"BertPreTokenizer"}`, "Hi, you!", []string{"Hi", ",", "you", "!"}},
	} {
		if got := preTokenizeString(t, c.pre, c.in); !slices.Equal(got, c.want) {
			t.Errorf("%s: pre_tokenize(%q) = %q, want %q", c.pre, c.in, got, c.want)
		}
	}
	// Metaspace "first" prepends only to the piece at the start of the text.
	p := &parser{file: "test.json"}
	ms, err := p.preTokenizer(json.RawMessage(`{"type":"Metaspace","replacement":"▁","prepend_scheme":"first"}`), "pre_tokenizer")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		base int
		want string
	}{{0, "▁Hey"}, {5, "Hey"}} {
		got := ms.preTokenize(newNstr("Hey", c.base), nil)
		if len(got) != 1 || got[0].s != c.want {
			t.Errorf("Metaspace first at offset %d: %q, want %q", c.base, got[0].s, c.want)
		}
	}
}

func TestNormalizers(t *testing.T) {
	for _, c := range []struct {
		norm, in, want string
	}{
		{`{"type":"Strip","strip_left":true,"strip_right":true}`, "  hi \t", "hi"},
		{`{"type":"Strip","strip_left":false,"strip_right":true}`, "  hi \t", "  hi"},
		{`{"type":"Lowercase"}`, "İA Σ", "i\u0307a σ"},
		{`{"type":"NFKC"}`, "ﬁ①", "fi1"},
		{`{"type":"NFC"}`, "e\u0301", "é"},
		{`{"type":"NFD"}`, "é", "e\u0301"},
		{`{"type":"NFKD"}`, "ﬁé", "fie\u0301"},
		{`{"type":"Replace","pattern":{"Regex":" +"},"content":"_"}`, "a   b c", "a_b_c"},
		{`{"type":"Replace","pattern":{"String":"ab"},"content":""}`, "xabyab", "xy"},
		{`{"type":"Prepend","prepend":"▁"}`, "hi", "▁hi"},
		{`{"type":"Prepend","prepend":"▁"}`, "", ""},
		{`{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]}`, "a b", "▁a▁b"},
	} {
		p := &parser{file: "test.json"}
		n, err := p.normalizer(json.RawMessage(c.norm), "normalizer")
		if err != nil {
			t.Fatal(err)
		}
		s := newNstr(c.in, 0)
		n.normalize(&s)
		if s.s != c.want || len(s.align) != len(s.s) {
			t.Errorf("%s: normalize(%q) = %q (%d alignments), want %q", c.norm, c.in, s.s, len(s.align), c.want)
		}
		for _, a := range s.align {
			if a.start < 0 || a.end > len(c.in) || a.end < a.start {
				t.Errorf("%s: normalize(%q): alignment %v outside the input", c.norm, c.in, a)
			}
		}
	}
}

func TestDecoders(t *testing.T) {
	for _, c := range []struct {
		dec  string
		toks []string
		want string
	}{
		{`{"type":"ByteFallback"}`, []string{"<0xE2>", "<0x82>", "a", "<0xE2>", "<0x82>", "<0xAC>"}, "��a€"},
		{`{"type":"ByteLevel"}`, []string{"Hello", "Ġw", "orld", "<|eot|>", "âĤ"}, "Hello world<|eot|>�"},
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"always"}`, []string{"▁Hey", "▁friend"}, "Hey friend"},
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"never"}`, []string{"▁Hey", "▁friend"}, " Hey friend"},
		{`{"type":"Strip","content":" ","start":1,"stop":1}`, []string{"  a  "}, " a "},
		{`{"type":"Fuse"}`, []string{"a", "b"}, "ab"},
		{`{"type":"Replace","pattern":{"String":"▁"},"content":" "}`, []string{"▁a▁"}, " a "},
		{`{"type":"BPEDecoder","suffix":"</w>"}`, []string{"hel", "lo</w>", "you</w>"}, "hello you"},
		{`{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]}`,
			[]string{"▁Hi", "<0xF0>", "<0x9F>", "<0x99>", "<0x82>"}, "Hi🙂"},
	} {
		p := &parser{file: "test.json"}
		d, err := p.decoder(json.RawMessage(c.dec), "decoder")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(d.decodeChain(c.toks), ""); got != c.want {
			t.Errorf("%s: decode(%q) = %q, want %q", c.dec, c.toks, got, c.want)
		}
	}
}

func TestLossyUTF8(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"ok", "ok"},
		{"\xe2\x82a", "\uFFFDa"},
		{"\xff\xfe", "\uFFFD\uFFFD"},
		{"\xf0\x9f\x99", "\uFFFD"},
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"},
		{"a\xc3", "a\uFFFD"},
	} {
		if got := lossyUTF8([]byte(c.in)); got != c.want {
			t.Errorf("lossyUTF8(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestBPEMerges covers merge order, ignore_merges, byte_fallback, unknown
// tokens (fused or not) and the continuing-subword prefix.
func TestBPEMerges(t *testing.T) {
	vocab := []string{"<unk>", "a", "b", "c", "ab", "bc", "abc", "<0x7A>"}
	mk := func(model string) *Tokenizer {
		data := fmt.Sprintf(`{"model":{"type":"BPE","unk_token":"<unk>",%s,"vocab":{%s},"merges":["b c","a b","a bc"]}}`, model, quoteVocab(vocab))
		return mustParse(t, []byte(data))
	}
	for _, c := range []struct {
		model, in string
		want      []string
	}{
		{`"fuse_unk":false`, "abc", []string{"abc"}}, // b c (rank 0) first, then a bc
		{`"fuse_unk":false`, "abab", []string{"ab", "ab"}},
		{`"fuse_unk":false`, "xxa", []string{"<unk>", "<unk>", "a"}},
		{`"fuse_unk":true`, "xxa", []string{"<unk>", "a"}},
		{`"fuse_unk":true,"byte_fallback":true`, "za", []string{"<0x7A>", "a"}},
		{`"fuse_unk":true,"byte_fallback":true`, "ya", []string{"<unk>", "a"}},
	} {
		tk := mk(c.model)
		if got := toks(tk, tk.Encode(c.in, false)); !slices.Equal(got, c.want) {
			t.Errorf("%s: Encode(%q) = %q, want %q", c.model, c.in, got, c.want)
		}
	}
	// ignore_merges takes a whole word from the vocabulary even when the
	// merges would not build it.
	data := `{"model":{"type":"BPE","ignore_merges":true,"vocab":{"a":0,"b":1,"ab":2,"ba":3,"aba":4},"merges":[["a","b"],["b","a"]]}}`
	tk := mustParse(t, []byte(data))
	if got := toks(tk, tk.Encode("aba", false)); !slices.Equal(got, []string{"aba"}) {
		t.Errorf("ignore_merges: Encode(aba) = %q, want [aba]", got)
	}
	if got := toks(tk, tk.Encode("abab", false)); !slices.Equal(got, []string{"ab", "ab"}) {
		t.Errorf("ignore_merges: Encode(abab) = %q, want [ab ab]", got)
	}
	// continuing_subword_prefix: merges join "a" and "##b" into "ab".
	data = `{"model":{"type":"BPE","continuing_subword_prefix":"##","vocab":{"a":0,"##b":1,"ab":2},"merges":["a ##b"]}}`
	tk = mustParse(t, []byte(data))
	if got := toks(tk, tk.Encode("ab", false)); !slices.Equal(got, []string{"ab"}) {
		t.Errorf("prefix: Encode(ab) = %q, want [ab]", got)
	}
}

func quoteVocab(v []string) string {
	var parts []string
	for i, s := range v {
		b, _ := json.Marshal(s)
		parts = append(parts, fmt.Sprintf("%s:%d", b, i))
	}
	return strings.Join(parts, ",")
}

// TestReferenceDetails checks offsets, special-token handling and the
// accessors on the real tokenizers.
func TestReferenceDetails(t *testing.T) {
	dir := shared.Env(t, "HONE_TOKENIZER_DIR", "tokenizers")
	llama3 := loadShared(t, filepath.Join(dir, "llama3"))
	llama2 := loadShared(t, filepath.Join(dir, "llama2"))
	qwen3 := loadShared(t, filepath.Join(dir, "qwen3"))
	for _, c := range []struct {
		name string
		tk   *Tokenizer
		in   string
		add  bool
		ids  []int32
		offs [][2]int
	}{
		{"llama3", llama3, "Hello world", false, []int32{9906, 1917}, [][2]int{{0, 5}, {5, 11}}},
		{"llama3", llama3, "<|eot_id|>Hi", false, []int32{128009, 13347}, [][2]int{{0, 10}, {10, 12}}},
		{"llama3", llama3, "é", false, []int32{978}, [][2]int{{0, 2}}},
		{"llama2", llama2, "Hello", true, []int32{1, 22557}, [][2]int{{0, 0}, {0, 5}}},
		{"llama2", llama2, "a b", false, []int32{264, 287}, [][2]int{{0, 1}, {1, 3}}},
		{"qwen3", qwen3, "e\u0301!", false, []int32{963, 0}, [][2]int{{0, 3}, {3, 4}}},
	} {
		ids, offs := c.tk.EncodeOffsets(c.in, c.add)
		if !slices.Equal(ids, c.ids) || !slices.Equal(offs, c.offs) {
			t.Errorf("%s: EncodeOffsets(%q, %v) = %v %v, want %v %v", c.name, c.in, c.add, ids, offs, c.ids, c.offs)
		}
	}
	if got := llama3.Decode([]int32{128000, 9906}, false); got != "<|begin_of_text|>Hello" {
		t.Errorf("llama3 Decode(keep special) = %q", got)
	}
	if got := llama3.Decode([]int32{128000, 9906, 999999}, true); got != "Hello" {
		t.Errorf("llama3 Decode(skip special, unknown id) = %q, want Hello", got)
	}
	if n := llama3.VocabSize(); n != 128256 {
		t.Errorf("llama3 VocabSize() = %d, want 128256", n)
	}
	if id, ok := llama3.TokenID("<|eot_id|>"); !ok || id != 128009 || !llama3.IsSpecial(id) {
		t.Errorf("llama3 TokenID(<|eot_id|>) = %d, %v (special %v), want 128009, true (special)", id, ok, llama3.IsSpecial(id))
	}
	if id, ok := llama3.BOS(); !ok || id != 128000 {
		t.Errorf("llama3 BOS() = %d, %v, want 128000 (tokenizer_config.json)", id, ok)
	}
	if id, ok := llama2.BOS(); !ok || id != 1 {
		t.Errorf("llama2 BOS() = %d, %v, want 1 (post-processor)", id, ok)
	}
	if _, ok := qwen3.BOS(); ok {
		t.Errorf("qwen3 BOS() found one; Qwen has none")
	}
	if id, ok := qwen3.EOS(); !ok || id != 151645 {
		t.Errorf("qwen3 EOS() = %d, %v, want 151645", id, ok)
	}
	if tok := llama3.Token(9906); tok != "Hello" {
		t.Errorf("llama3 Token(9906) = %q, want Hello", tok)
	}
}
