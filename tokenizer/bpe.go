package tokenizer

import (
	"fmt"
	"hash/maphash"
	"sync/atomic"
	"unicode/utf8"
)

// sym is one token of a tokenized word: its id and the number of bytes of
// the word it covers.
type sym struct {
	id int32
	n  int32
}

// mergeVal is the rank of a merge and the id of the token it produces.
type mergeVal struct {
	rank  int32
	newID int32
}

// bpe is the byte-pair-encoding model with Hugging Face's options.
type bpe struct {
	vocab  map[string]int32
	tokens []string // id -> token for the model vocabulary ("" where absent)
	merges map[uint64]mergeVal

	unk          int32 // -1 without an unknown token
	unkToken     string
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	dropout      *float64
	prefix       *string // continuing_subword_prefix
	suffix       *string // end_of_word_suffix
	fallbackIDs  [256]int32

	// byteIDs is set for byte-level models: the id of each byte's
	// stand-in character (-1 if absent), so that the fast path works on the
	// raw bytes and never builds the mapped strings.
	byteIDs *[256]int32

	cache *wordCache
}

// maxTokenID bounds the ids of a vocabulary (the id -> token table is dense).
const maxTokenID = 1 << 24

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// newBPE builds the model and checks that every merge refers to known tokens.
func newBPE(vocab map[string]int32, merges [][2]string, unkToken *string) (*bpe, error) {
	m := &bpe{vocab: vocab, unk: -1, merges: make(map[uint64]mergeVal, len(merges))}
	maxID := int32(-1)
	for _, id := range vocab {
		maxID = max(maxID, id)
	}
	if maxID >= maxTokenID {
		return nil, fmt.Errorf("token id %d is too large (the limit is %d)", maxID, maxTokenID-1)
	}
	m.tokens = make([]string, maxID+1)
	for t, id := range vocab {
		m.tokens[id] = t
	}
	if unkToken != nil {
		m.unkToken = *unkToken
	}
	for i := range m.fallbackIDs {
		m.fallbackIDs[i] = -1
		if id, ok := vocab[fmt.Sprintf("<0x%02X>", i)]; ok {
			m.fallbackIDs[i] = id
		}
	}
	m.cache = newWordCache()
	return m, m.setMerges(merges)
}

func (m *bpe) setMerges(merges [][2]string) error {
	for i, mg := range merges {
		if err := m.addMerge(i, []byte(mg[0]), []byte(mg[1])); err != nil {
			return err
		}
	}
	return nil
}

// addMerge adds merge number i (its rank), a then b.
func (m *bpe) addMerge(i int, a, b []byte) error {
	k, v, err := m.resolveMerge(i, a, b)
	if err != nil {
		return err
	}
	m.merges[k] = v
	return nil
}

// resolveMerge returns the map entry of merge number i. It only reads the
// vocabulary, so it may run concurrently.
func (m *bpe) resolveMerge(i int, a, b []byte) (uint64, mergeVal, error) {
	ida, ok := m.vocab[string(a)]
	if !ok {
		return 0, mergeVal{}, fmt.Errorf("merge %d (%q %q): token %q is not in the vocabulary", i+1, a, b, a)
	}
	idb, ok := m.vocab[string(b)]
	if !ok {
		return 0, mergeVal{}, fmt.Errorf("merge %d (%q %q): token %q is not in the vocabulary", i+1, a, b, b)
	}
	if m.prefix != nil && len(*m.prefix) <= len(b) {
		b = b[len(*m.prefix):]
	}
	var stack [128]byte
	buf := append(append(stack[:0], a...), b...)
	n, ok := m.vocab[string(buf)]
	if !ok {
		return 0, mergeVal{}, fmt.Errorf("merge %d (%q %q): merged token %q is not in the vocabulary", i+1, a, b, buf)
	}
	return pairKey(ida, idb), mergeVal{int32(i), n}, nil
}

// setUnk resolves the unknown token once the options are known.
func (m *bpe) setUnk() error {
	if m.unkToken == "" {
		return nil
	}
	id, ok := m.vocab[m.unkToken]
	if !ok {
		return fmt.Errorf("unk_token %q is not in the vocabulary", m.unkToken)
	}
	m.unk = id
	return nil
}

// enableByteLevel prepares tokenizeRaw.
func (m *bpe) enableByteLevel() {
	var ids [256]int32
	for i := range ids {
		ids[i] = -1
		if id, ok := m.vocab[byteToChar[i]]; ok {
			ids[i] = id
		}
	}
	m.byteIDs = &ids
}

// tokenizeRaw tokenizes one byte-level word given as raw bytes (the text
// before the ByteLevel mapping); it is equivalent to tokenize on the mapped
// text. Results are appended to out.
func (m *bpe) tokenizeRaw(w string, out []sym) []sym {
	if w == "" {
		return out
	}
	if s, ok := m.cache.get(w, true); ok {
		return append(out, s...)
	}
	if m.ignoreMerges {
		var stack [256]byte
		mapped := stack[:0]
		for i := 0; i < len(w); i++ {
			mapped = append(mapped, byteToChar[w[i]]...)
		}
		if id, ok := m.vocab[string(mapped)]; ok {
			res := []sym{{id, int32(len(w))}}
			m.cache.put(w, true, res)
			return append(out, res...)
		}
	}
	word := make([]node, 0, len(w))
	for i := 0; i < len(w); i++ {
		id := m.byteIDs[w[i]]
		if id < 0 {
			// The vocabulary lacks this byte: take the general path, which
			// handles unknown characters exactly as Hugging Face does.
			var mapped []byte
			for j := 0; j < len(w); j++ {
				mapped = append(mapped, byteToChar[w[j]]...)
			}
			res := m.tokenize(string(mapped), nil)
			// Convert lengths back to raw bytes: every mapped character is one byte.
			k := 0
			for idx := range res {
				chars := utf8.RuneCount(mapped[k : k+int(res[idx].n)])
				k += int(res[idx].n)
				res[idx].n = int32(chars)
			}
			m.cache.put(w, true, res)
			return append(out, res...)
		}
		word = append(word, node{id: id, n: 1})
	}
	res := m.mergeAll(word)
	m.cache.put(w, true, res)
	return append(out, res...)
}

// tokenize tokenizes one word of (normalized, pre-tokenized) text.
func (m *bpe) tokenize(w string, out []sym) []sym {
	if w == "" {
		return out
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[w]; ok {
			return append(out, sym{id, int32(len(w))})
		}
	}
	if s, ok := m.cache.get(w, false); ok {
		return append(out, s...)
	}
	word := make([]node, 0, len(w))
	unkID, unkLen := int32(-1), int32(0)
	var buf []byte
	for i := 0; i < len(w); {
		_, size := utf8.DecodeRuneInString(w[i:])
		first, last := i == 0, i+size == len(w)
		s := w[i : i+size]
		if (!first && m.prefix != nil) || (last && m.suffix != nil) {
			buf = buf[:0]
			if !first && m.prefix != nil {
				buf = append(buf, *m.prefix...)
			}
			buf = append(buf, s...)
			if last && m.suffix != nil {
				buf = append(buf, *m.suffix...)
			}
			s = string(buf)
		}
		i += size
		if id, ok := m.vocab[s]; ok {
			if unkID >= 0 {
				word = append(word, node{id: unkID, n: unkLen})
				unkID = -1
			}
			word = append(word, node{id: id, n: int32(size)})
			continue
		}
		if m.byteFallback {
			ok := true
			for k := 0; k < len(s); k++ {
				if m.fallbackIDs[s[k]] < 0 {
					ok = false
					break
				}
			}
			if ok {
				for k := 0; k < len(s); k++ {
					word = append(word, node{id: m.fallbackIDs[s[k]], n: 1})
				}
				continue
			}
		}
		if m.unk >= 0 {
			switch {
			case unkID >= 0 && m.fuseUnk:
				unkLen += int32(size)
			case unkID >= 0:
				word = append(word, node{id: unkID, n: unkLen})
				unkID, unkLen = m.unk, int32(size)
			default:
				unkID, unkLen = m.unk, int32(size)
			}
		}
	}
	if unkID >= 0 {
		word = append(word, node{id: unkID, n: unkLen})
	}
	res := m.mergeAll(word)
	m.cache.put(w, false, res)
	return append(out, res...)
}

// node is a symbol of a word being merged, in a doubly linked list.
type node struct {
	id         int32
	n          int32 // bytes covered; 0 once merged into its left neighbour
	prev, next int32
}

// cand is a merge candidate: the pair starting at pos.
type cand struct {
	rank, pos, newID int32
}

func candLess(a, b cand) bool {
	return a.rank < b.rank || a.rank == b.rank && a.pos < b.pos
}

// mergeAll applies the merges in rank order (lowest rank, then leftmost
// first), exactly as Hugging Face's Word::merge_all without dropout.
func (m *bpe) mergeAll(w []node) []sym {
	n := len(w)
	for i := range w {
		w[i].prev = int32(i - 1)
		w[i].next = int32(i + 1)
	}
	if n > 0 {
		w[n-1].next = -1
	}
	var heapBuf [32]cand
	h := heapBuf[:0]
	push := func(c cand) {
		h = append(h, c)
		i := len(h) - 1
		for i > 0 {
			p := (i - 1) / 2
			if !candLess(h[i], h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
	}
	pop := func() cand {
		top := h[0]
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		i := 0
		for {
			l, r, s := 2*i+1, 2*i+2, i
			if l < len(h) && candLess(h[l], h[s]) {
				s = l
			}
			if r < len(h) && candLess(h[r], h[s]) {
				s = r
			}
			if s == i {
				break
			}
			h[i], h[s] = h[s], h[i]
			i = s
		}
		return top
	}
	for i := 0; i+1 < n; i++ {
		if mv, ok := m.merges[pairKey(w[i].id, w[i+1].id)]; ok {
			push(cand{mv.rank, int32(i), mv.newID})
		}
	}
	for len(h) > 0 {
		top := pop()
		cur := &w[top.pos]
		if cur.n == 0 || cur.next < 0 {
			continue
		}
		right := w[cur.next]
		if mv, ok := m.merges[pairKey(cur.id, right.id)]; !ok || mv.newID != top.newID {
			continue
		}
		cur.id = top.newID
		cur.n += right.n
		w[cur.next].n = 0
		cur.next = right.next
		if right.next >= 0 {
			w[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if mv, ok := m.merges[pairKey(w[cur.prev].id, cur.id)]; ok {
				push(cand{mv.rank, cur.prev, mv.newID})
			}
		}
		if cur.next >= 0 {
			if mv, ok := m.merges[pairKey(cur.id, w[cur.next].id)]; ok {
				push(cand{mv.rank, top.pos, mv.newID})
			}
		}
	}
	out := make([]sym, 0, n)
	for _, x := range w {
		if x.n != 0 {
			out = append(out, sym{x.id, x.n})
		}
	}
	return out
}

// wordCache is a fixed-size, lock-free, direct-mapped cache of tokenized
// words, safe for concurrent use: entries are immutable and published with
// an atomic pointer store, so a reader sees either an old or a new entry.
// The table (512 KB at the default size) is made by the first put, so that
// a tokenizer that never encodes, or is built and dropped (a fuzz input),
// does not pay for it.
type wordCache struct {
	seed  maphash.Seed
	mask  uint64                                       // entries - 1; entries is a power of two
	table atomic.Pointer[[]atomic.Pointer[cacheEntry]] // nil until the first put
}

type cacheEntry struct {
	key  string
	raw  bool
	syms []sym
}

const (
	cacheBits   = 16
	cacheMaxKey = 256 // longer words are not cached, as in Hugging Face
)

func newWordCache() *wordCache { return newWordCacheBits(cacheBits) }

// newWordCacheBits returns a cache of 1<<bits entries.
func newWordCacheBits(bits uint) *wordCache {
	return &wordCache{seed: maphash.MakeSeed(), mask: 1<<bits - 1}
}

func (c *wordCache) get(k string, raw bool) ([]sym, bool) {
	t := c.table.Load()
	if t == nil || len(k) > cacheMaxKey {
		return nil, false
	}
	e := (*t)[maphash.String(c.seed, k)&c.mask].Load()
	if e != nil && e.raw == raw && e.key == k {
		return e.syms, true
	}
	return nil, false
}

func (c *wordCache) put(k string, raw bool, s []sym) {
	if len(k) > cacheMaxKey {
		return
	}
	t := c.table.Load()
	if t == nil {
		fresh := make([]atomic.Pointer[cacheEntry], c.mask+1)
		c.table.CompareAndSwap(nil, &fresh) // a concurrent put may win
		t = c.table.Load()
	}
	(*t)[maphash.String(c.seed, k)&c.mask].Store(&cacheEntry{key: k, raw: raw, syms: s})
}
