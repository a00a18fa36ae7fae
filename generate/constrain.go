package generate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
)

// Constrained decoding. A compiled Schema is a graph of nodes; the
// automaton is a pushdown machine over bytes whose stack holds one frame per
// open value (object, array, string, number, literal), so that it follows
// JSON and the schema byte by byte, UTF-8, escapes and surrogate pairs
// included, and is built so that every live state can still be completed
// (no dead ends: a comma only when another member may follow, a quote only
// when minLength is met, ...). A token is allowed when the automaton accepts
// all of its bytes; the tokens are arranged in a trie of their bytes, so
// one walk of the trie, pruned where the automaton dies, finds every allowed
// token, and the resulting mask is cached per state. No Go library does
// token-level constrained decoding (llama.cpp's grammars and outlines'
// regex indexes are the peers); the JSON Schema subset is OpenAI's
// structured-outputs subset plus length and item bounds.

// maxGapWhitespace bounds the whitespace between two JSON tokens (enough
// for pretty-printed output, and a sampled run of blanks cannot go on
// forever).
const maxGapWhitespace = 24

type frameKind uint8

const (
	fRoot  frameKind = iota // the value is complete
	fValue                  // a value of node is expected (whitespace first)
	fObj
	fArr
	fStr
	fNum
	fLit
)

// object phases
const (
	oStart uint8 = iota // after '{'
	oKey                // inside a key
	oColon              // after the key
	oAfter              // after a member's value
	oComma              // after ','
)

// array phases
const (
	aStart uint8 = iota
	aAfter
	aComma
)

// number phases
const (
	nStart uint8 = iota
	nSign
	nZero
	nInt
	nDot
	nFrac
	nExp
	nExpSign
	nExpDigits
)

// strLex is the lexical state inside a JSON string: escapes, \u escapes
// with surrogate pairs, and UTF-8 sequences.
type strLex struct {
	esc      uint8 // 0 none, 1 after '\', 2..5 reading the k-th hex digit of \u
	pendHigh bool  // a high surrogate was read; a \u low surrogate must follow
	need     uint8 // UTF-8 continuation bytes still expected
	lo, hi   byte  // the range of the next continuation byte
	hex      uint16
}

const (
	lexDead   = -1
	lexMore   = 0 // inside a character
	lexChar   = 1 // a character completed
	lexClosed = 2 // the closing quote
)

// charStart reports whether byte c begins a new character (not the
// closing quote).
func (l *strLex) charStart(c byte) bool {
	return l.need == 0 && l.esc == 0 && !l.pendHigh && c != '"'
}

func hexVal(c byte) (uint16, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint16(c - '0'), true
	case c >= 'a' && c <= 'f':
		return uint16(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return uint16(c-'A') + 10, true
	}
	return 0, false
}

func (l *strLex) step(c byte, escapes bool) int {
	if l.need > 0 {
		if c < l.lo || c > l.hi {
			return lexDead
		}
		l.need--
		l.lo, l.hi = 0x80, 0xBF
		if l.need == 0 {
			return lexChar
		}
		return lexMore
	}
	switch l.esc {
	case 0:
	case 1:
		if l.pendHigh && c != 'u' {
			return lexDead
		}
		switch c {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			l.esc = 0
			return lexChar
		case 'u':
			l.esc, l.hex = 2, 0
			return lexMore
		}
		return lexDead
	default:
		v, ok := hexVal(c)
		if !ok {
			return lexDead
		}
		k := l.esc - 2 // digits before this one
		l.hex = l.hex<<4 | v
		switch {
		case k == 0 && l.pendHigh && v != 0xD:
			return lexDead
		case k == 1 && l.pendHigh && (l.hex < 0xDC || l.hex > 0xDF):
			return lexDead // not a low surrogate
		case k == 1 && !l.pendHigh && l.hex >= 0xDC && l.hex <= 0xDF:
			return lexDead // a lone low surrogate
		}
		if k < 3 {
			l.esc++
			return lexMore
		}
		l.esc = 0
		if l.hex >= 0xD800 && l.hex <= 0xDBFF {
			l.pendHigh = true
			return lexMore
		}
		l.pendHigh = false
		return lexChar
	}
	if l.pendHigh {
		if c != '\\' {
			return lexDead
		}
		l.esc = 1
		return lexMore
	}
	switch {
	case c == '"':
		return lexClosed
	case c == '\\':
		if !escapes {
			return lexDead
		}
		l.esc = 1
		return lexMore
	case c < 0x20:
		return lexDead
	case c < 0x80:
		return lexChar
	case c >= 0xC2 && c <= 0xDF:
		l.need, l.lo, l.hi = 1, 0x80, 0xBF
	case c == 0xE0:
		l.need, l.lo, l.hi = 2, 0xA0, 0xBF
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		l.need, l.lo, l.hi = 2, 0x80, 0xBF
	case c == 0xED:
		l.need, l.lo, l.hi = 2, 0x80, 0x9F
	case c == 0xF0:
		l.need, l.lo, l.hi = 3, 0x90, 0xBF
	case c >= 0xF1 && c <= 0xF3:
		l.need, l.lo, l.hi = 3, 0x80, 0xBF
	case c == 0xF4:
		l.need, l.lo, l.hi = 3, 0x80, 0x8F
	default:
		return lexDead
	}
	return lexMore
}

// frame is one level of the automaton's stack.
type frame struct {
	kind  frameKind
	phase uint8
	ws    uint8 // whitespace in the current gap
	node  *node
	n     int32   // array items so far; string characters so far; number digits
	lit   int32   // literal or key bytes matched
	lo    int32   // literal: a candidate; key: a matching property or -1
	prop  int32   // object: the property whose value follows (-1: additional)
	seen  *[]bool // object: properties present (shared, copied on write)
	lex   strLex
}

type stackNode struct {
	f    frame
	next *stackNode
}

// state is an immutable position of the automaton: the top frame by value
// and the rest of the stack as a persistent list, so that stepping copies
// nothing but the top frame and walking a trie of tokens can branch freely.
type state struct {
	top  frame
	rest *stackNode
}

func (s *state) push(f frame) {
	s.rest = &stackNode{f: s.top, next: s.rest}
	s.top = f
}

func (s *state) pop() {
	s.top = s.rest.f
	s.rest = s.rest.next
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *state) gap() bool {
	if s.top.ws >= maxGapWhitespace {
		return false
	}
	s.top.ws++
	return true
}

// startValue replaces the fValue frame on top with the frame for node n
// beginning with byte c (whitespace already skipped). consumed reports that
// c was taken; otherwise, when ok, c is to be fed to the new frame.
func (s *state) startValue(n *node, c byte) (consumed, ok bool) {
	for n.kind == kUnion {
		i := n.first[c]
		if i < 0 {
			return false, false
		}
		n = n.alts[i]
	}
	f := frame{node: n, prop: -1}
	switch n.kind {
	case kObject:
		if c != '{' {
			return false, false
		}
		f.kind, f.phase = fObj, oStart
		if len(n.props) > 0 {
			seen := make([]bool, len(n.props))
			f.seen = &seen
		}
		s.top = f
		return true, true
	case kArray:
		if c != '[' {
			return false, false
		}
		f.kind, f.phase = fArr, aStart
		s.top = f
		return true, true
	case kString:
		if c != '"' {
			return false, false
		}
		f.kind = fStr
		s.top = f
		return true, true
	case kNumber, kInteger:
		f.kind, f.phase = fNum, nStart
	case kLiteral:
		f.kind = fLit
	}
	s.top = f
	return false, true
}

// step feeds one byte; ok is false when the byte cannot continue any valid
// document.
func (s state) step(c byte) (state, bool) {
	for {
		t := &s.top
		switch t.kind {
		case fRoot:
			return s, false
		case fValue:
			if isWS(c) {
				ok := s.gap()
				return s, ok
			}
			consumed, ok := s.startValue(t.node, c)
			if !ok || consumed {
				return s, ok
			}
			continue // a number or literal begins with c
		case fStr:
			nd := t.node
			if t.lex.charStart(c) && nd.maxLen >= 0 && int(t.n) >= nd.maxLen {
				return s, false
			}
			switch t.lex.step(c, true) {
			case lexDead:
				return s, false
			case lexChar:
				t.n++
			case lexClosed:
				if int(t.n) < nd.minLen {
					return s, false
				}
				s.pop()
			}
			return s, true
		case fNum:
			ok, term := t.numStep(c)
			if ok {
				return s, true
			}
			if !term {
				return s, false
			}
			s.pop() // the number ended before c; c belongs to the parent
			continue
		case fLit:
			ok, term := t.litStep(c)
			if ok {
				if t.complete() {
					s.pop()
				}
				return s, true
			}
			if !term {
				return s, false
			}
			s.pop()
			continue
		case fArr:
			ok := s.arrStep(c)
			return s, ok
		case fObj:
			ok := s.objStep(c)
			return s, ok
		}
		return s, false
	}
}

// numStep advances a number; term reports that the number is complete and
// c is not part of it.
func (f *frame) numStep(c byte) (ok, term bool) {
	digit := c >= '0' && c <= '9'
	frac := f.node.kind == kNumber
	switch f.phase {
	case nStart:
		switch {
		case c == '-':
			f.phase = nSign
		case c == '0':
			f.phase = nZero
		case digit:
			f.phase, f.n = nInt, 1
		default:
			return false, false
		}
		return true, false
	case nSign:
		switch {
		case c == '0':
			f.phase = nZero
		case digit:
			f.phase, f.n = nInt, 1
		default:
			return false, false
		}
		return true, false
	case nZero, nInt:
		switch {
		case digit && f.phase == nInt && f.n < maxNumberDigits:
			f.n++
			return true, false
		case c == '.' && frac:
			f.phase, f.n = nDot, 0
			return true, false
		case (c == 'e' || c == 'E') && frac:
			f.phase, f.n = nExp, 0
			return true, false
		}
		return false, true
	case nDot:
		if digit {
			f.phase, f.n = nFrac, 1
			return true, false
		}
		return false, false
	case nFrac:
		switch {
		case digit && f.n < maxNumberDigits:
			f.n++
			return true, false
		case c == 'e' || c == 'E':
			f.phase, f.n = nExp, 0
			return true, false
		}
		return false, true
	case nExp:
		switch {
		case c == '+' || c == '-':
			f.phase = nExpSign
			return true, false
		case digit:
			f.phase, f.n = nExpDigits, 1
			return true, false
		}
		return false, false
	case nExpSign:
		if digit {
			f.phase, f.n = nExpDigits, 1
			return true, false
		}
		return false, false
	case nExpDigits:
		if digit && f.n < maxExpDigits {
			f.n++
			return true, false
		}
		return false, true
	}
	return false, false
}

func (f *frame) numAccepting() bool {
	switch f.phase {
	case nZero, nInt, nFrac, nExpDigits:
		return true
	}
	return false
}

// litStep advances a literal match over the node's sorted encodings; term
// reports that a complete literal ends before c.
func (f *frame) litStep(c byte) (ok, term bool) {
	lits := f.node.lits
	pos := int(f.lit)
	cur := lits[f.lo]
	for i, l := range lits {
		if len(l) > pos && l[pos] == c && l[:pos] == cur[:pos] {
			f.lo, f.lit = int32(i), int32(pos+1)
			return true, false
		}
	}
	return false, f.litAccepting()
}

// litAccepting reports whether the bytes matched so far are a whole literal.
func (f *frame) litAccepting() bool {
	lits := f.node.lits
	pos := int(f.lit)
	cur := lits[f.lo][:pos]
	for _, l := range lits {
		if len(l) == pos && l == cur {
			return true
		}
	}
	return false
}

// complete reports whether the literal is whole and no longer one could
// continue it (so the frame can be popped at once).
func (f *frame) complete() bool {
	lits := f.node.lits
	pos := int(f.lit)
	cur := lits[f.lo][:pos]
	whole := false
	for _, l := range lits {
		if len(l) >= pos && l[:pos] == cur {
			if len(l) > pos {
				return false
			}
			whole = true
		}
	}
	return whole
}

func (s *state) arrStep(c byte) bool {
	t := &s.top
	nd := t.node
	if isWS(c) {
		return s.gap()
	}
	switch t.phase {
	case aStart, aAfter:
		if c == ']' {
			if int(t.n) < nd.minItems {
				return false
			}
			s.pop()
			return true
		}
		if t.phase == aAfter {
			if c != ',' || (nd.maxItems >= 0 && int(t.n) >= nd.maxItems) {
				return false
			}
			t.phase, t.ws = aComma, 0
			return true
		}
		if nd.maxItems == 0 {
			return false
		}
	}
	// an item begins with c
	t.n++
	t.phase, t.ws = aAfter, 0
	s.push(frame{kind: fValue, node: nd.items})
	s2, ok := s.step(c)
	*s = s2
	return ok
}

func (f *frame) requiredDone() bool {
	nd := f.node
	if nd.nRequired == 0 {
		return true
	}
	for i, r := range nd.required {
		if r && !(*f.seen)[i] {
			return false
		}
	}
	return true
}

func (f *frame) canAddKey() bool {
	nd := f.node
	if nd.additional != nil {
		return true
	}
	for _, s := range *f.seen {
		if !s {
			return true
		}
	}
	return false
}

func (s *state) objStep(c byte) bool {
	t := &s.top
	nd := t.node
	if t.phase == oKey {
		return s.keyStep(c)
	}
	if isWS(c) {
		return s.gap()
	}
	switch t.phase {
	case oStart, oAfter:
		if c == '}' {
			if !t.requiredDone() {
				return false
			}
			s.pop()
			return true
		}
		if t.phase == oAfter {
			if c != ',' || !t.canAddKey() {
				return false
			}
			t.phase, t.ws = oComma, 0
			return true
		}
		fallthrough
	case oComma:
		if c != '"' || !t.canAddKey() {
			return false
		}
		t.phase, t.ws, t.lit, t.lo, t.lex = oKey, 0, 0, -1, strLex{}
		if len(nd.props) > 0 {
			t.lo = 0
			if nd.additional == nil { // first unseen candidate
				for i, seen := range *t.seen {
					if !seen {
						t.lo = int32(i)
						break
					}
				}
			}
		}
		return true
	case oColon:
		if c != ':' {
			return false
		}
		sub := nd.additional
		if t.prop >= 0 {
			sub = nd.propNodes[t.prop]
		}
		t.phase, t.ws = oAfter, 0
		s.push(frame{kind: fValue, node: sub})
		return true
	}
	return false
}

// keyStep reads a byte of an object key. In a closed object the key must be
// one of the unseen properties, written as canonical JSON; in an open one
// any string is a key, matched against the properties byte for byte (with
// no escapes allowed when the object has properties, so that a key always
// means what its bytes say).
func (s *state) keyStep(c byte) bool {
	t := &s.top
	nd := t.node
	closed := nd.additional == nil
	if !closed {
		switch t.lex.step(c, len(nd.props) == 0) {
		case lexDead:
			return false
		case lexClosed:
			return s.keyDone()
		}
		if t.lo < 0 {
			return true
		}
	} else if c == '"' {
		return s.keyDone()
	}
	pos := int(t.lit)
	cur := nd.enc[t.lo][:pos]
	for i, e := range nd.enc {
		if closed && (*t.seen)[i] {
			continue
		}
		if len(e) > pos && e[pos] == c && e[:pos] == cur {
			t.lo, t.lit = int32(i), int32(pos+1)
			return true
		}
	}
	if closed {
		return false
	}
	t.lo = -1 // an additional property
	return true
}

// keyDone handles the closing quote of a key.
func (s *state) keyDone() bool {
	t := &s.top
	nd := t.node
	t.prop = -1
	if t.lo >= 0 {
		pos := int(t.lit)
		cur := nd.enc[t.lo][:pos]
		for i, e := range nd.enc {
			if e == cur {
				if (*t.seen)[i] {
					return false // a repeated key
				}
				t.prop = int32(i)
			}
		}
	}
	if t.prop < 0 && nd.additional == nil {
		return false
	}
	if t.prop >= 0 {
		seen := append([]bool(nil), *t.seen...)
		seen[t.prop] = true
		t.seen = &seen
	}
	t.phase, t.ws, t.lex = oColon, 0, strLex{}
	return true
}

// canEnd reports whether the document may end here: the value is complete,
// or it is a top-level number or literal that could also go on.
func (s state) canEnd() bool {
	switch s.top.kind {
	case fRoot:
		return s.rest == nil
	case fNum:
		return s.top.numAccepting() && s.rest != nil && s.rest.next == nil
	case fLit:
		return s.top.litAccepting() && s.rest != nil && s.rest.next == nil
	}
	return false
}

// done reports whether the document is complete and nothing can follow.
func (s state) done() bool { return s.top.kind == fRoot && s.rest == nil }

// key appends an encoding of the state that determines which tokens are
// allowed next: equal keys, equal masks. A string's character count is
// included only when a length bound is within reach of one token.
func (s *state) key(b []byte, maxTok int) []byte {
	f := &s.top
	for r := s.rest; ; {
		b = append(b, byte(f.kind), f.phase, f.ws)
		id := -1
		if f.node != nil {
			id = f.node.id
		}
		b = binary.AppendVarint(b, int64(id))
		n := f.n
		if f.kind == fStr {
			nd := f.node
			if !((nd.maxLen >= 0 && nd.maxLen-int(n) <= maxTok) || int(n) < nd.minLen) {
				n = -1
			}
		}
		b = binary.AppendVarint(b, int64(n))
		b = binary.AppendVarint(b, int64(f.lit))
		b = binary.AppendVarint(b, int64(f.lo))
		b = binary.AppendVarint(b, int64(f.prop))
		l := f.lex
		b = append(b, l.esc, l.need, l.lo, l.hi, byte(l.hex>>8), byte(l.hex))
		if l.pendHigh {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		if f.seen != nil {
			for _, v := range *f.seen {
				if v {
					b = append(b, 1)
				} else {
					b = append(b, 0)
				}
			}
		}
		b = append(b, 0xFF)
		if r == nil {
			return b
		}
		f, r = &r.f, r.next
	}
}

// Vocabulary is what constrained decoding knows of a tokenizer: the bytes
// each token stands for, arranged in a trie, and the end-of-sequence ids.
// It is built once per tokenizer and shared by every request.
type Vocabulary struct {
	size   int
	eos    []int32
	maxTok int
	tokens [][]byte

	// the trie: node i's edges are edges[edgeLo[i]:edgeLo[i+1]], its
	// tokens ids[idLo[i]:idLo[i+1]]
	edgeLo []int32
	edges  []trieEdge
	idLo   []int32
	ids    []int32
}

type trieEdge struct {
	b     byte
	child int32
}

// NewVocabulary indexes tokens[i], the bytes of token i (nil or empty: the
// token is never allowed, as special tokens are not), with eos the ids that
// end a generation, allowed only when the document is complete.
func NewVocabulary(tokens [][]byte, eos []int32) *Vocabulary {
	type tnode struct {
		kids map[byte]int32
		ids  []int32
	}
	nodes := []tnode{{}}
	v := &Vocabulary{size: len(tokens), eos: append([]int32(nil), eos...), tokens: make([][]byte, len(tokens))}
	isEOS := map[int32]bool{}
	for _, id := range eos {
		isEOS[id] = true
	}
	for id, tb := range tokens {
		if len(tb) == 0 || isEOS[int32(id)] {
			continue
		}
		v.maxTok = max(v.maxTok, len(tb))
		v.tokens[id] = append([]byte(nil), tb...)
		cur := int32(0)
		for _, c := range tb {
			if nodes[cur].kids == nil {
				nodes[cur].kids = map[byte]int32{}
			}
			nx, ok := nodes[cur].kids[c]
			if !ok {
				nx = int32(len(nodes))
				nodes[cur].kids[c] = nx
				nodes = append(nodes, tnode{})
			}
			cur = nx
		}
		nodes[cur].ids = append(nodes[cur].ids, int32(id))
	}
	for _, n := range nodes {
		v.edgeLo = append(v.edgeLo, int32(len(v.edges)))
		for c := 0; c < 256; c++ {
			if k, ok := n.kids[byte(c)]; ok {
				v.edges = append(v.edges, trieEdge{byte(c), k})
			}
		}
		v.idLo = append(v.idLo, int32(len(v.ids)))
		v.ids = append(v.ids, n.ids...)
	}
	v.edgeLo = append(v.edgeLo, int32(len(v.edges)))
	v.idLo = append(v.idLo, int32(len(v.ids)))
	return v
}

// Size is the number of token ids the vocabulary covers.
func (v *Vocabulary) Size() int { return v.size }

// Constraint is a schema bound to a vocabulary: it computes, for each
// automaton state, the set of tokens that keep the output valid, and
// remembers the sets of recent states (inside a string the state, and so
// the set, repeats at every token). It is safe for concurrent use; each
// generation takes its own Processor from NewProcessor.
type Constraint struct {
	schema *Schema
	vocab  *Vocabulary

	mu    sync.Mutex
	masks map[string][]uint64
}

// maxCachedMasks bounds the masks a Constraint remembers.
const maxCachedMasks = 2048

// NewConstraint binds a compiled schema to a vocabulary.
func NewConstraint(s *Schema, v *Vocabulary) *Constraint {
	return &Constraint{schema: s, vocab: v, masks: map[string][]uint64{}}
}

// mask returns the allowed tokens in state s as a bitset over the vocabulary.
func (c *Constraint) mask(s state, kb []byte) ([]uint64, []byte) {
	kb = s.key(kb[:0], c.vocab.maxTok)
	c.mu.Lock()
	m, ok := c.masks[string(kb)]
	c.mu.Unlock()
	if ok {
		return m, kb
	}
	v := c.vocab
	m = make([]uint64, (v.size+63)/64)
	if !s.done() {
		c.walk(0, s, m)
	}
	if s.canEnd() {
		for _, id := range v.eos {
			if int(id) < v.size {
				m[id/64] |= 1 << (id % 64)
			}
		}
	}
	c.mu.Lock()
	if len(c.masks) >= maxCachedMasks {
		clear(c.masks)
	}
	c.masks[string(kb)] = m
	c.mu.Unlock()
	return m, kb
}

// walk marks every token below trie node n whose bytes the automaton
// accepts from state s.
func (c *Constraint) walk(n int32, s state, m []uint64) {
	v := c.vocab
	for _, e := range v.edges[v.edgeLo[n]:v.edgeLo[n+1]] {
		s2, ok := s.step(e.b)
		if !ok {
			continue
		}
		for _, id := range v.ids[v.idLo[e.child]:v.idLo[e.child+1]] {
			m[id/64] |= 1 << (id % 64)
		}
		if v.edgeLo[e.child] < v.edgeLo[e.child+1] {
			c.walk(e.child, s2, m)
		}
	}
}

// JSONProcessor is a Processor that constrains one generation to the
// Constraint's schema: every token whose bytes would break the document is
// masked to -Inf, and end-of-sequence is allowed only when the document is
// complete. It follows the generation from the token lists Process
// receives (the first call's tokens are the prompt) or from Accept.
type JSONProcessor struct {
	c      *Constraint
	s      state
	base   int // prompt length; -1 until the first Process call
	fed    int // generated tokens fed to the automaton
	dead   bool
	ended  bool
	keybuf []byte
}

// NewProcessor starts a generation at the beginning of the document.
func (c *Constraint) NewProcessor() *JSONProcessor {
	p := &JSONProcessor{c: c, base: -1}
	p.s.top = frame{kind: fRoot}
	p.s.push(frame{kind: fValue, node: c.schema.root})
	return p
}

// ErrConstraint reports a token that the schema does not allow.
var ErrConstraint = errors.New("generate: token breaks the JSON constraint")

// Accept advances the document by token id. A token outside the allowed set
// returns ErrConstraint (and later masks allow only end-of-sequence).
func (p *JSONProcessor) Accept(id int32) error {
	v := p.c.vocab
	for _, e := range v.eos {
		if e == id {
			if !p.s.canEnd() {
				p.dead = true
				return fmt.Errorf("%w: end of sequence before the document is complete", ErrConstraint)
			}
			p.ended = true
			return nil
		}
	}
	if p.dead || p.ended {
		return fmt.Errorf("%w: token %d after the end", ErrConstraint, id)
	}
	var tb []byte
	if id >= 0 && int(id) < v.size {
		tb = v.tokens[id]
	}
	if tb == nil {
		p.dead = true
		return fmt.Errorf("%w: token %d has no text", ErrConstraint, id)
	}
	s := p.s
	for i, c := range tb {
		var ok bool
		if s, ok = s.step(c); !ok {
			p.dead = true
			return fmt.Errorf("%w: token %d (%q) at byte %d", ErrConstraint, id, tb, i)
		}
	}
	p.s = s
	return nil
}

// Done reports whether the document is complete and nothing but the end
// of the sequence can follow: a caller may stop generating.
func (p *JSONProcessor) Done() bool { return p.s.done() || p.ended }

// Failed reports whether a token outside the allowed set was accepted.
func (p *JSONProcessor) Failed() bool { return p.dead }

// Allowed returns the allowed tokens in the current state as a bitset over
// the vocabulary (bit i of word i/64); the slice must not be modified.
func (p *JSONProcessor) Allowed() []uint64 {
	if p.dead || p.ended {
		m := make([]uint64, (p.c.vocab.size+63)/64)
		for _, id := range p.c.vocab.eos {
			if int(id) < p.c.vocab.size {
				m[id/64] |= 1 << (id % 64)
			}
		}
		return m
	}
	var m []uint64
	m, p.keybuf = p.c.mask(p.s, p.keybuf)
	return m
}

// Process implements Processor: it feeds the tokens generated since the
// last call, then masks the logits (ids beyond the vocabulary included).
func (p *JSONProcessor) Process(tokens []int32, logits []float32) {
	if p.base < 0 {
		p.base = len(tokens)
	}
	for p.base+p.fed < len(tokens) {
		p.Accept(tokens[p.base+p.fed]) // a refused token leaves only EOS allowed
		p.fed++
	}
	p.Mask(logits)
}

// Mask sets the logits of every token not allowed now to -Inf.
func (p *JSONProcessor) Mask(logits []float32) {
	m := p.Allowed()
	ninf := float32(math.Inf(-1))
	for i := range logits {
		if i >= p.c.vocab.size || m[i/64]&(1<<(i%64)) == 0 {
			logits[i] = ninf
		}
	}
}
