package tokenizer

import (
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Special tokens of a trained tokenizer, in the Llama 3 and ChatML styles.
const (
	// BeginOfText is the default BOS token, added by the post-processor.
	BeginOfText = "<|begin_of_text|>"
	// EndOfText is the default EOS token (end of a document).
	EndOfText = "<|end_of_text|>"
	// IMStart opens a ChatML turn.
	IMStart = "<|im_start|>"
	// IMEnd closes a ChatML turn.
	IMEnd = "<|im_end|>"
)

// DefaultSpecialTokens are the special tokens Train uses when
// TrainOptions.SpecialTokens is empty; they take ids 0, 1, 2, 3.
var DefaultSpecialTokens = []string{BeginOfText, EndOfText, IMStart, IMEnd}

// ChatMLTemplate is the chat template written into tokenizer_config.json for
// trained tokenizers: BOS, then every message as
// <|im_start|>role\ncontent<|im_end|>\n, then <|im_start|>assistant\n when a
// generation prompt is asked for. It writes BOS itself because chat text is
// encoded without the post-processor's special tokens.
const ChatMLTemplate = "{{- bos_token }}" +
	"{%- for message in messages %}" +
	"{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
	"{%- endfor %}" +
	"{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"

// TrainOptions configures Train.
type TrainOptions struct {
	// VocabSize is the size of the vocabulary to reach, special tokens and
	// the 256 byte symbols included. Training stops earlier when no pair
	// is left at MinFrequency or more.
	VocabSize int
	// MinFrequency is the smallest number of occurrences of a pair for it
	// to be merged (0 or 1: any pair that occurs).
	MinFrequency int
	// SpecialTokens take the first ids, in order (DefaultSpecialTokens when
	// empty). Their occurrences in the training text are cut out: no merge
	// is learnt across or inside them.
	SpecialTokens []string
	// BOS is the token the post-processor puts before every text (BeginOfText
	// when empty); EOS is the end-of-text token (EndOfText when empty). Both
	// must be among the special tokens.
	BOS, EOS string
	// Progress, when set, is called while counting words (stage "count",
	// done = texts read, total = 0) and while merging (stage "merge", done
	// = vocabulary size reached, total = VocabSize).
	Progress func(stage string, done, total int)
}

// Train learns a byte-level BPE tokenizer from texts, as Hugging Face
// tokenizers' BpeTrainer does for a Llama 3 style tokenizer: the text is
// split by the Llama 3 regex, every word is a sequence of its bytes (as
// GPT-2's byte-to-character stand-ins), and the most frequent adjacent pair
// is merged until the vocabulary has VocabSize tokens. Ties go to the pair
// of lower ids (HF's order), so training is deterministic.
//
// Ids are laid out as HF lays them out: the special tokens, then the 256
// byte symbols by code point of their stand-in character, then merged
// tokens in merge order. The tokenizer has no normalizer, the pre-tokenizer
// Split(Llama 3 regex, Isolated) + ByteLevel, a post-processor ByteLevel +
// TemplateProcessing adding BOS, and the ByteLevel decoder.
//
// Pair counts are kept incrementally: each merge updates only the words
// that hold the pair, and a heap with lazy re-insertion finds the next one.
func Train(texts iter.Seq[string], opt TrainOptions) (*Tokenizer, error) {
	specials := opt.SpecialTokens
	if len(specials) == 0 {
		specials = DefaultSpecialTokens
	}
	bos, eos := cmpOr(opt.BOS, BeginOfText), cmpOr(opt.EOS, EndOfText)
	seen := map[string]bool{}
	for i, s := range specials {
		switch {
		case s == "":
			return nil, fmt.Errorf("special token %d is empty", i)
		case !utf8.ValidString(s):
			return nil, fmt.Errorf("special token %q is not valid UTF-8", s)
		case seen[s]:
			return nil, fmt.Errorf("special token %q is given twice", s)
		}
		seen[s] = true
	}
	if !seen[bos] {
		return nil, fmt.Errorf("BOS token %q is not among the special tokens %q", bos, specials)
	}
	if !seen[eos] {
		return nil, fmt.Errorf("EOS token %q is not among the special tokens %q", eos, specials)
	}
	base := len(specials) + 256
	if opt.VocabSize < base {
		return nil, fmt.Errorf("vocabulary size %d is smaller than the %d special tokens and 256 byte symbols", opt.VocabSize, len(specials))
	}
	if opt.VocabSize >= maxTokenID {
		return nil, fmt.Errorf("vocabulary size %d is too large (the limit is %d)", opt.VocabSize, maxTokenID-1)
	}

	// The initial vocabulary: special tokens, then the byte alphabet
	// ordered by stand-in code point.
	tokens := slices.Clone(specials)
	var byteID [256]int32
	order := make([]int, 256)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		ra, _ := utf8.DecodeRuneInString(byteToChar[a])
		rb, _ := utf8.DecodeRuneInString(byteToChar[b])
		return int(ra - rb)
	})
	for _, b := range order {
		byteID[b] = int32(len(tokens))
		tokens = append(tokens, byteToChar[b])
	}
	vocab := make(map[string]int32, opt.VocabSize)
	for i, s := range tokens {
		vocab[s] = int32(i)
	}

	counts := countWords(texts, specials, opt.Progress)
	merges := learnMerges(counts, byteID, &tokens, vocab, opt)
	return trainedTokenizer(tokens, merges, specials, bos, eos)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// countWords pre-tokenizes the texts in parallel and counts the words (raw
// bytes, before the byte-level mapping).
func countWords(texts iter.Seq[string], specials []string, progress func(string, int, int)) map[string]int64 {
	workers := max(1, runtime.GOMAXPROCS(0))
	batches := make(chan []string, workers)
	results := make(chan map[string]int64, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int64{}
			for batch := range batches {
				for _, text := range batch {
					countText(text, specials, local)
				}
			}
			results <- local
		}()
	}
	const batchBytes = 1 << 20
	var batch []string
	size, n := 0, 0
	for text := range texts {
		batch = append(batch, text)
		size += len(text)
		n++
		if size >= batchBytes {
			batches <- batch
			batch, size = nil, 0
			if progress != nil {
				progress("count", n, 0)
			}
		}
	}
	if len(batch) > 0 {
		batches <- batch
	}
	close(batches)
	wg.Wait()
	close(results)
	var total map[string]int64
	for local := range results {
		if total == nil {
			total = local
			continue
		}
		for w, c := range local {
			total[w] += c
		}
	}
	if progress != nil {
		progress("count", n, 0)
	}
	return total
}

// trainSplit is the Llama 3 pre-tokenizer regex (the hand-written matcher).
var trainSplit = cl100kPattern{maxDigits: 3}

// countText adds the words of one text to counts, cutting out special tokens.
func countText(text string, specials []string, counts map[string]int64) {
	for text != "" {
		cut, skip := len(text), 0
		for _, s := range specials {
			if i := strings.Index(text, s); i >= 0 && (i < cut || i == cut && len(s) > skip) {
				cut, skip = i, len(s)
			}
		}
		trainSplit.find(text[:cut], func(a, b int) {
			counts[text[a:b]]++
		})
		text = text[cut+skip:]
	}
}

// trainWord is a distinct word of the training text as token ids.
type trainWord struct {
	syms  []int32
	count int64
}

// pairEntry is a heap entry: a pair and its count when pushed.
type pairEntry struct {
	count int64
	pair  uint64
}

// pairHeap pops the most frequent pair, then the pair of lowest ids.
type pairHeap []pairEntry

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	return h[i].pair < h[j].pair
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pairEntry)) }
func (h *pairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// learnMerges runs the BPE merges on the counted words, appending the new
// tokens to tokens and vocab, and returns the merges in rank order.
func learnMerges(counts map[string]int64, byteID [256]int32, tokens *[]string, vocab map[string]int32, opt TrainOptions) [][2]string {
	// Words in sorted order, so that word indices do not depend on map order.
	keys := make([]string, 0, len(counts))
	for w := range counts {
		keys = append(keys, w)
	}
	slices.Sort(keys)
	words := make([]trainWord, len(keys))
	for i, w := range keys {
		syms := make([]int32, len(w))
		for j := 0; j < len(w); j++ {
			syms[j] = byteID[w[j]]
		}
		words[i] = trainWord{syms, counts[w]}
	}

	pairCount := map[uint64]int64{}
	where := map[uint64][]int32{} // words that hold (or held) the pair
	for i, w := range words {
		for j := 0; j+1 < len(w.syms); j++ {
			k := pairKey(w.syms[j], w.syms[j+1])
			pairCount[k] += w.count
			if l := where[k]; len(l) == 0 || l[len(l)-1] != int32(i) {
				where[k] = append(l, int32(i))
			}
		}
	}
	h := make(pairHeap, 0, len(pairCount))
	for k, c := range pairCount {
		h = append(h, pairEntry{c, k})
	}
	heap.Init(&h)

	minFreq := int64(max(1, opt.MinFrequency))
	merged := map[uint64]bool{}
	var merges [][2]string
	newWhere := map[uint64][]int32{}
	for len(vocab) < opt.VocabSize && h.Len() > 0 {
		top := heap.Pop(&h).(pairEntry)
		if merged[top.pair] {
			continue
		}
		cur := pairCount[top.pair]
		if cur != top.count {
			if cur > 0 {
				heap.Push(&h, pairEntry{cur, top.pair})
			}
			continue
		}
		if cur < minFreq {
			break
		}
		a, b := int32(uint32(top.pair>>32)), int32(uint32(top.pair))
		s := (*tokens)[a] + (*tokens)[b]
		id, ok := vocab[s]
		if !ok {
			id = int32(len(*tokens))
			*tokens = append(*tokens, s)
			vocab[s] = id
		}
		merges = append(merges, [2]string{(*tokens)[a], (*tokens)[b]})
		merged[top.pair] = true

		change := func(x, y int32, d int64, wi int32) {
			k := pairKey(x, y)
			pairCount[k] += d
			if d > 0 {
				if l := newWhere[k]; len(l) == 0 || l[len(l)-1] != wi {
					newWhere[k] = append(l, wi)
				}
			}
		}
		for _, wi := range where[top.pair] {
			w := &words[wi]
			syms := w.syms
			j := 0
			for i := 0; i < len(syms); {
				if i+1 < len(syms) && syms[i] == a && syms[i+1] == b {
					if j > 0 {
						change(syms[j-1], a, -w.count, wi)
						change(syms[j-1], id, w.count, wi)
					}
					if i+2 < len(syms) {
						change(b, syms[i+2], -w.count, wi)
						change(id, syms[i+2], w.count, wi)
					}
					syms[j] = id
					j++
					i += 2
					continue
				}
				syms[j] = syms[i]
				j++
				i++
			}
			w.syms = syms[:j]
		}
		delete(where, top.pair)
		for k, l := range newWhere {
			where[k] = append(where[k], l...)
			if c := pairCount[k]; c > 0 && !merged[k] {
				heap.Push(&h, pairEntry{c, k})
			}
			delete(newWhere, k)
		}
		if opt.Progress != nil && len(merges)%64 == 0 {
			opt.Progress("merge", len(vocab), opt.VocabSize)
		}
	}
	if opt.Progress != nil {
		opt.Progress("merge", len(vocab), opt.VocabSize)
	}
	return merges
}

// trainedTokenizer assembles the tokenizer.json components of a trained
// byte-level BPE and builds the tokenizer from them.
func trainedTokenizer(tokens []string, merges [][2]string, specials []string, bos, eos string) (*Tokenizer, error) {
	const name = "trained tokenizer"
	vocab := make(map[string]int32, len(tokens))
	for i, s := range tokens {
		if _, dup := vocab[s]; !dup {
			vocab[s] = int32(i)
		}
	}
	added := make([]AddedToken, len(specials))
	for i, s := range specials {
		added[i] = AddedToken{ID: int32(i), Content: s, Special: true}
	}
	bosID := vocab[bos]
	mustJSON := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err) // maps and slices of strings always encode
		}
		return b
	}
	type obj = map[string]any
	byteLevel := func(prefix, trim bool) obj {
		return obj{"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": trim, "use_regex": true}
	}
	seq := func(id string, typeID int) obj { return obj{"Sequence": obj{"id": id, "type_id": typeID}} }
	special := func(typeID int) obj { return obj{"SpecialToken": obj{"id": bos, "type_id": typeID}} }
	f := fileJSON{
		Version:     "1.0",
		Truncation:  json.RawMessage("null"),
		Padding:     json.RawMessage("null"),
		AddedTokens: added,
		Normalizer:  json.RawMessage("null"),
		PreTokenizer: mustJSON(obj{"type": "Sequence", "pretokenizers": []obj{
			{"type": "Split", "pattern": obj{"Regex": llama3Regex}, "behavior": "Isolated", "invert": false},
			{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}}),
		PostProcessor: mustJSON(obj{"type": "Sequence", "processors": []obj{
			byteLevel(true, false),
			{
				"type":   "TemplateProcessing",
				"single": []obj{special(0), seq("A", 0)},
				"pair":   []obj{special(0), seq("A", 0), special(1), seq("B", 1)},
				"special_tokens": obj{bos: obj{
					"id": bos, "ids": []int32{bosID}, "tokens": []string{bos},
				}},
			},
		}}),
		Decoder: mustJSON(byteLevel(true, true)),
	}
	m, err := buildBPE(name, modelJSON{Type: "BPE"}, vocab, merges)
	if err != nil {
		return nil, err
	}
	t, err := build(&parser{file: name}, f, m)
	if err != nil {
		return nil, err
	}
	if t.fast == nil {
		return nil, errors.New("trained tokenizer: the byte-level fast path did not apply") // a bug, not bad input
	}
	t.eos, t.hasEos = vocab[eos], true
	return t, nil
}

// TokenizerConfigChatJSON returns tokenizer_config.json for the tokenizer
// with a chat template (for a trained tokenizer, ChatMLTemplate): what
// TokenizerConfigJSON writes, plus chat_template and the
// added_tokens_decoder table transformers writes.
func (t *Tokenizer) TokenizerConfigChatJSON(chatTemplate string) []byte {
	var cfg map[string]any
	if err := json.Unmarshal(t.TokenizerConfigJSON(), &cfg); err != nil {
		panic(err) // TokenizerConfigJSON writes a JSON object
	}
	if chatTemplate != "" {
		cfg["chat_template"] = chatTemplate
	}
	dec := map[string]any{}
	for _, a := range t.added {
		dec[fmt.Sprint(a.ID)] = map[string]any{
			"content": a.Content, "lstrip": a.LStrip, "normalized": a.Normalized,
			"rstrip": a.RStrip, "single_word": a.SingleWord, "special": a.Special,
		}
	}
	cfg["added_tokens_decoder"] = dec
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(cfg); err != nil {
		panic(err)
	}
	return []byte(b.String())
}
