package tokenizer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"hone/internal/shared"
)

// textsOf yields the given texts.
func textsOf(texts ...string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for _, s := range texts {
			if !yield(s) {
				return
			}
		}
	}
}

// mixedText returns n pseudo-random lines of words, punctuation, numbers,
// accented letters and an emoji, from a fixed xorshift stream.
func mixedText(n int, seed uint64) []string {
	words := []string{"the", "cat", "sat", "on", "a", "mat", "and", "then", "she", "said", "hello", "world",
		"café", "naïve", "über", "garden", "bright", "kite", "river", "blue", "red", "it's", "they're", "don't",
		"42", "2024", "3.14", "🙂", "日本", "x", "y", "z", "Tom", "Mia", "ran", "home", "quickly", "\"yes\"", "(no)"}
	x := seed | 1
	next := func() uint64 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return x
	}
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		k := 3 + int(next()%12)
		for j := range k {
			if j > 0 {
				switch next() % 9 {
				case 0:
					b.WriteString(", ")
				case 1:
					b.WriteString("  ")
				case 2:
					b.WriteString(".\n")
				default:
					b.WriteByte(' ')
				}
			}
			b.WriteString(words[next()%uint64(len(words))])
		}
		b.WriteString(".")
		out[i] = b.String()
	}
	return out
}

func mergesOf(t *Tokenizer) [][2]string {
	type mg struct {
		rank int32
		a, b int32
	}
	var ms []mg
	for k, v := range t.model.merges {
		ms = append(ms, mg{v.rank, int32(uint32(k >> 32)), int32(uint32(k))})
	}
	slices.SortFunc(ms, func(x, y mg) int { return int(x.rank - y.rank) })
	out := make([][2]string, len(ms))
	for i, m := range ms {
		out[i] = [2]string{t.model.tokens[m.a], t.model.tokens[m.b]}
	}
	return out
}

func TestTrainHandComputedMerges(t *testing.T) {
	// Words (each text is one word): hug x2, pug, pun, bun, hugs.
	// Pair counts: ug 4, hu 3, pu 2, un 2, bu 1, gs 1 -> merge u g.
	// Then h ug 3 -> hug; then u n 2 -> un; then all pairs occur once and
	// the lowest ids win: (b, un), (p, ug), (p, un), (hug, s).
	corpus := textsOf("hug", "hug", "pug", "pun", "bun", "hugs")
	base := len(DefaultSpecialTokens) + 256
	for _, tc := range []struct {
		name    string
		vocab   int
		minFreq int
		want    [][2]string
	}{
		{"all", base + 100, 0, [][2]string{{"u", "g"}, {"h", "ug"}, {"u", "n"}, {"b", "un"}, {"p", "ug"}, {"p", "un"}, {"hug", "s"}}},
		{"vocab limit", base + 2, 0, [][2]string{{"u", "g"}, {"h", "ug"}}},
		{"min frequency 2", base + 100, 2, [][2]string{{"u", "g"}, {"h", "ug"}, {"u", "n"}}},
		{"min frequency 4", base + 100, 4, [][2]string{{"u", "g"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tk, err := Train(corpus, TrainOptions{VocabSize: tc.vocab, MinFrequency: tc.minFreq})
			if err != nil {
				t.Fatal(err)
			}
			if got := mergesOf(tk); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Train merges = %q, want %q", got, tc.want)
			}
			if got, want := tk.VocabSize(), base+len(tc.want); got != want {
				t.Errorf("VocabSize() = %d, want %d", got, want)
			}
			// Merged tokens take ids after the alphabet, in merge order.
			for i, m := range tc.want {
				if id, ok := tk.TokenID(m[0] + m[1]); !ok || id != int32(base+i) {
					t.Errorf("TokenID(%q) = %d, %v, want %d", m[0]+m[1], id, ok, base+i)
				}
			}
		})
	}
}

func TestTrainOverlappingPairs(t *testing.T) {
	// "aaaa": (a,a) occurs 3 times; merging left to right gives aa aa, then
	// (aa,aa) once. "aaa": aa a, then (aa,a).
	for _, tc := range []struct {
		text string
		want [][2]string
	}{
		{"aaaa", [][2]string{{"a", "a"}, {"aa", "aa"}}},
		{"aaa", [][2]string{{"a", "a"}, {"aa", "a"}}},
		// aa aa a: (aa,aa) and (aa,a) occur once; a has the lower id.
		{"aaaaa", [][2]string{{"a", "a"}, {"aa", "a"}, {"aa", "aaa"}}},
	} {
		tk, err := Train(textsOf(tc.text), TrainOptions{VocabSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if got := mergesOf(tk); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Train(%q) merges = %q, want %q", tc.text, got, tc.want)
		}
		if got := tk.Encode(tc.text, false); len(got) != 1 {
			t.Errorf("Encode(%q) = %v, want one token", tc.text, got)
		}
	}
}

// naiveMerges is the textbook BPE trainer: recount every pair before every
// merge. Ties go to the lowest (id a, id b).
func naiveMerges(texts []string, vocabSize int) [][2]string {
	counts := map[string]int64{}
	for _, s := range texts {
		countText(s, DefaultSpecialTokens, counts)
	}
	id := map[string]int{}
	var toks []string
	for _, s := range DefaultSpecialTokens {
		id[s] = len(toks)
		toks = append(toks, s)
	}
	chars := make([]string, 0, 256)
	for b := range 256 {
		chars = append(chars, byteToChar[b])
	}
	slices.SortFunc(chars, func(a, b string) int {
		ra, _ := utf8.DecodeRuneInString(a)
		rb, _ := utf8.DecodeRuneInString(b)
		return int(ra - rb)
	})
	for _, c := range chars {
		id[c] = len(toks)
		toks = append(toks, c)
	}
	type word struct {
		syms []string
		n    int64
	}
	var words []word
	for w, n := range counts {
		var syms []string
		for i := 0; i < len(w); i++ {
			syms = append(syms, byteToChar[w[i]])
		}
		words = append(words, word{syms, n})
	}
	var merges [][2]string
	for len(id) < vocabSize {
		pc := map[[2]string]int64{}
		for _, w := range words {
			for i := 0; i+1 < len(w.syms); i++ {
				pc[[2]string{w.syms[i], w.syms[i+1]}] += w.n
			}
		}
		var best [2]string
		var bestN int64
		for p, n := range pc {
			if n > bestN || n == bestN && (id[p[0]] < id[best[0]] || id[p[0]] == id[best[0]] && id[p[1]] < id[best[1]]) {
				best, bestN = p, n
			}
		}
		if bestN == 0 {
			break
		}
		merges = append(merges, best)
		s := best[0] + best[1]
		if _, ok := id[s]; !ok {
			id[s] = len(toks)
			toks = append(toks, s)
		}
		for wi := range words {
			w := &words[wi]
			var out []string
			for i := 0; i < len(w.syms); i++ {
				if i+1 < len(w.syms) && w.syms[i] == best[0] && w.syms[i+1] == best[1] {
					out = append(out, s)
					i++
					continue
				}
				out = append(out, w.syms[i])
			}
			w.syms = out
		}
	}
	return merges
}

func TestTrainMatchesNaiveTrainer(t *testing.T) {
	texts := mixedText(300, 7)
	const vocab = 260 + 4 + 150
	tk, err := Train(textsOf(texts...), TrainOptions{VocabSize: vocab})
	if err != nil {
		t.Fatal(err)
	}
	got, want := mergesOf(tk), naiveMerges(texts, vocab)
	if !reflect.DeepEqual(got, want) {
		n := 0
		for n < min(len(got), len(want)) && got[n] == want[n] {
			n++
		}
		t.Fatalf("Train merges differ from the naive trainer at merge %d (of %d, %d): got %q, want %q",
			n, len(got), len(want), got[n:min(n+3, len(got))], want[n:min(n+3, len(want))])
	}
}

func trainMixed(t *testing.T) *Tokenizer {
	t.Helper()
	tk, err := Train(textsOf(mixedText(2000, 1)...), TrainOptions{VocabSize: 600, MinFrequency: 2})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

var roundTripTexts = []string{
	"",
	"The cat sat on a mat.",
	"Tom said, \"hello world\" and then ran home quickly.\n\nMia: it's blue!",
	"café naïve über 日本語 🙂🙃 and unseen words: zyzzyva, qwxq.",
	"numbers 1234567 3.14159 and   many   spaces\t\ttabs\r\n",
	"<|im_start|>user\nWhat colour is the kite?<|im_end|>\n<|im_start|>assistant\n",
	"<|begin_of_text|>text<|end_of_text|>",
	"\x00\x01 control bytes \x7f",
}

func TestTrainedRoundTrip(t *testing.T) {
	tk := trainMixed(t)
	dir := t.TempDir()
	if err := tk.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), tk.TokenizerConfigChatJSON(ChatMLTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := tk.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	b, err := back.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON after Load: %v", err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("tokenizer.json changes when saved, loaded and saved again")
	}
	for _, s := range append(roundTripTexts, mixedText(50, 99)...) {
		for _, special := range []bool{false, true} {
			x, y := tk.Encode(s, special), back.Encode(s, special)
			if !slices.Equal(x, y) {
				t.Errorf("Encode(%q, %v) = %v after Load, want %v", s, special, y, x)
			}
		}
		if got := back.Decode(back.Encode(s, false), false); got != s {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
		plain := s
		for _, sp := range DefaultSpecialTokens {
			plain = strings.ReplaceAll(plain, sp, "")
		}
		if got := back.Decode(back.Encode(s, true), true); got != plain {
			t.Errorf("Decode(Encode(%q, true), skip) = %q, want %q", s, got, plain)
		}
	}
	for _, tok := range []struct {
		get  func() (int32, bool)
		name string
		want int32
	}{{back.BOS, "BOS", 0}, {back.EOS, "EOS", 1}} {
		if id, ok := tok.get(); !ok || id != tok.want {
			t.Errorf("%s() = %d, %v, want %d", tok.name, id, ok, tok.want)
		}
	}
	if ids := back.Encode("hi", true); len(ids) == 0 || ids[0] != 0 {
		t.Errorf("Encode(\"hi\", true) = %v, want BOS (0) first", ids)
	}
	chat := back.Encode("<|im_start|>user<|im_end|>", false)
	if len(chat) < 2 || chat[0] != 2 || chat[len(chat)-1] != 3 {
		t.Errorf("Encode(chat) = %v, want <|im_start|> (2) first and <|im_end|> (3) last", chat)
	}
	var cfg map[string]any
	data, _ := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"bos_token": BeginOfText, "eos_token": EndOfText, "chat_template": ChatMLTemplate} {
		if cfg[k] != want {
			t.Errorf("tokenizer_config.json %s = %v, want %v", k, cfg[k], want)
		}
	}
}

func TestTrainDeterministic(t *testing.T) {
	a, err := trainMixed(t).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	b, err := trainMixed(t).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two trainings on the same text give different tokenizer.json")
	}
}

func TestTrainSpecialTokensCutOut(t *testing.T) {
	// Without cutting, "<|im_end|>" repeated would be the most frequent
	// material; no merge may span or enter a special token.
	text := strings.Repeat("<|im_start|>ab<|im_end|>", 50)
	tk, err := Train(textsOf(text), TrainOptions{VocabSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"a", "b"}}
	if got := mergesOf(tk); !reflect.DeepEqual(got, want) {
		t.Errorf("merges = %q, want %q", got, want)
	}
}

// TestTrainedMatchesHFLayout compares the structure of a trained
// tokenizer.json with one written by Hugging Face tokenizers' BpeTrainer in
// the same style: the same members, the same pre-tokenizer and decoder,
// the same model options, added tokens of the same shape, and the alphabet
// in the same id order after the special tokens.
func TestTrainedMatchesHFLayout(t *testing.T) {
	dir := shared.Env(t, "HONE_TOKENIZER_DIR", "tokenizers")
	ref, err := os.ReadFile(filepath.Join(dir, "trained-bytelevel", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := trainMixed(t).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var r, g map[string]any
	if err := json.Unmarshal(ref, &r); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) []string {
		var k []string
		for s := range m {
			k = append(k, s)
		}
		slices.Sort(k)
		return k
	}
	if !slices.Equal(keys(g), keys(r)) {
		t.Errorf("members = %v, want %v", keys(g), keys(r))
	}
	for _, k := range []string{"version", "truncation", "padding", "normalizer", "pre_tokenizer"} {
		if !reflect.DeepEqual(g[k], r[k]) {
			t.Errorf("%s = %v, want %v", k, g[k], r[k])
		}
	}
	// The decoder is the ByteLevel one; HF writes the same for any byte-level BPE.
	if !reflect.DeepEqual(g["decoder"], r["decoder"]) {
		t.Errorf("decoder = %v, want %v", g["decoder"], r["decoder"])
	}
	gm, rm := g["model"].(map[string]any), r["model"].(map[string]any)
	if !slices.Equal(keys(gm), keys(rm)) {
		t.Errorf("model members = %v, want %v", keys(gm), keys(rm))
	}
	for k := range rm {
		if k != "vocab" && k != "merges" && !reflect.DeepEqual(gm[k], rm[k]) {
			t.Errorf("model.%s = %v, want %v", k, gm[k], rm[k])
		}
	}
	ga, ra := g["added_tokens"].([]any), r["added_tokens"].([]any)
	if len(ga) == 0 || !slices.Equal(keys(ga[0].(map[string]any)), keys(ra[0].(map[string]any))) {
		t.Errorf("added_tokens[0] = %v, want the members of %v", ga, ra[0])
	}
	// The alphabet follows the special tokens in the same order.
	gv, rv := gm["vocab"].(map[string]any), rm["vocab"].(map[string]any)
	gOff, rOff := float64(len(ga)), float64(len(ra))
	for b := range 256 {
		c := byteToChar[b]
		if gv[c].(float64)-gOff != rv[c].(float64)-rOff {
			t.Errorf("byte %#x (%q) has id %v, HF's order gives %v", b, c, gv[c], rv[c].(float64)-rOff+gOff)
		}
	}
	if _, ok := gm["merges"].([]any)[0].([]any); !ok {
		t.Errorf("merges are not [a, b] pairs as HF writes them")
	}
}

func TestTrainErrors(t *testing.T) {
	for _, tc := range []struct {
		opt  TrainOptions
		want string
	}{
		{TrainOptions{VocabSize: 100}, "smaller than"},
		{TrainOptions{VocabSize: 300, SpecialTokens: []string{"<a>", "<a>"}, BOS: "<a>", EOS: "<a>"}, "twice"},
		{TrainOptions{VocabSize: 300, SpecialTokens: []string{"<a>", ""}}, "empty"},
		{TrainOptions{VocabSize: 300, SpecialTokens: []string{"<s>", "</s>"}}, "BOS token"},
		{TrainOptions{VocabSize: 300, SpecialTokens: []string{"<s>", "</s>"}, BOS: "<s>"}, "EOS token"},
		{TrainOptions{VocabSize: 300, SpecialTokens: []string{"<s>\xff"}}, "UTF-8"},
	} {
		_, err := Train(textsOf("abc"), tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Train(%+v) = %v, want an error with %q", tc.opt, err, tc.want)
		}
	}
	// Custom special tokens work and take the first ids.
	tk, err := Train(textsOf("abc abc"), TrainOptions{VocabSize: 300, SpecialTokens: []string{"<s>", "</s>", "<pad>"}, BOS: "<s>", EOS: "</s>"})
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := tk.TokenID("<pad>"); id != 2 {
		t.Errorf("TokenID(<pad>) = %d, want 2", id)
	}
}

// syllableText returns n lines of words made of 1 to 4 syllables, so that
// the text has tens of thousands of distinct words, as natural text does.
func syllableText(n int, seed uint64) []string {
	syl := strings.Fields("ka lo mi ne ta ri su po an el in on ur ba de fi go hu je ku la mo nu pe qui ra se ti vo wa xe yo zu " +
		"th sh ch st tr pl gr br cr dr er or ar ing ed ly ous ment tion al ic ful less ness pre un re dis")
	x := seed | 1
	next := func() uint64 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return x
	}
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for j := range 8 + int(next()%10) {
			if j > 0 {
				b.WriteByte(' ')
			}
			// Skewed lengths and syllables: small indices are frequent.
			for range 1 + int(next()%4) {
				r := next() % uint64(len(syl))
				b.WriteString(syl[r*(next()%uint64(len(syl)))/uint64(len(syl))])
			}
		}
		b.WriteString(".")
		out[i] = b.String()
	}
	return out
}

// BenchmarkTrain trains a 4k vocabulary on about 10 MB of text.
func BenchmarkTrain(b *testing.B) {
	texts := syllableText(120000, 3)
	size := 0
	for _, s := range texts {
		size += len(s)
	}
	counts := map[string]int64{}
	for _, s := range texts {
		countText(s, nil, counts)
	}
	b.Logf("%.1f MB, %d distinct words", float64(size)/1e6, len(counts))
	b.SetBytes(int64(size))
	for b.Loop() {
		start := time.Now()
		tk, err := Train(textsOf(texts...), TrainOptions{VocabSize: 4096, MinFrequency: 2})
		if err != nil {
			b.Fatal(err)
		}
		if tk.VocabSize() != 4096 {
			b.Fatalf("VocabSize() = %d, want 4096", tk.VocabSize())
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/train")
	}
}

// FuzzTrain trains on arbitrary text: training never fails on it, the
// result reparses from its own tokenizer.json with the same encodings, and
// decoding gives the text back.
func FuzzTrain(f *testing.F) {
	for _, s := range append(roundTripTexts, "aaaa bbbb aaaa", "\xff\xfe invalid", "<|im_end|><|im_end|>x") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tk, err := Train(textsOf(s, strings.ToUpper(s), s+" "+s), TrainOptions{VocabSize: 320})
		if err != nil {
			t.Fatalf("Train(%q) = %v", s, err)
		}
		data, err := tk.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(data, "fuzz")
		if err != nil {
			t.Fatalf("Parse(MarshalJSON()) = %v", err)
		}
		ids := tk.Encode(s, true)
		if got := back.Encode(s, true); !slices.Equal(got, ids) {
			t.Errorf("Encode(%q) = %v after reparsing, want %v", s, got, ids)
		}
		if utf8.ValidString(s) {
			if got := tk.Decode(tk.Encode(s, false), false); got != s {
				t.Errorf("Decode(Encode(%q)) = %q", s, got)
			}
		}
	})
}
