package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// AddedToken is an entry of tokenizer.json's "added_tokens": a token matched
// in the text before the model runs (special tokens such as <|eot_id|>, and
// any user-added ones).
//
// The flags mean what they mean in Hugging Face tokenizers' AddedToken.
type AddedToken struct {
	// ID is the token's id; below the vocabulary limit of 1<<24, and the
	// same as the model vocabulary's id when the content is in it too.
	ID int32 `json:"id"`
	// Content is the text the token stands for, matched in the input
	// (leftmost, longest first) before the model runs.
	Content string `json:"content"`
	// SingleWord matches the token only as a whole word: not when a word
	// character (a letter, digit or '_') touches it on either side, so
	// that "ing" is not cut out of "tokenizing".
	SingleWord bool `json:"single_word"`
	// LStrip makes the match take in the whitespace on its left: with
	// LStrip, "[MASK]" in "a [MASK]" matches " [MASK]".
	LStrip bool `json:"lstrip"`
	// RStrip makes the match take in the whitespace on its right.
	RStrip bool `json:"rstrip"`
	// Normalized matches the token against the normalized text (after
	// the normalizer, for example lowercasing) rather than the original
	// text, with the content normalized the same way.
	Normalized bool `json:"normalized"`
	// Special marks a control token (BOS, EOS, <|im_start|>, ...): Decode
	// leaves it out when asked to skip special tokens, and IsSpecial
	// reports it.
	Special bool `json:"special"`
}

// trie is a byte trie of added-token contents for leftmost-longest search.
type trie struct {
	nodes []trieNode
	first [256]bool // bytes that can start a match
}

type trieNode struct {
	next map[byte]int32
	tok  int32 // index into the added tokens, -1 if no token ends here
}

func newTrie() *trie { return &trie{nodes: []trieNode{{tok: -1}}} }

func (t *trie) insert(s string, tok int32) {
	if s == "" {
		return
	}
	n := int32(0)
	for i := 0; i < len(s); i++ {
		nx, ok := t.nodes[n].next[s[i]]
		if !ok {
			if t.nodes[n].next == nil {
				t.nodes[n].next = map[byte]int32{}
			}
			nx = int32(len(t.nodes))
			t.nodes = append(t.nodes, trieNode{tok: -1})
			t.nodes[n].next[s[i]] = nx
		}
		n = nx
	}
	if t.nodes[n].tok < 0 {
		t.nodes[n].tok = tok
	}
	t.first[s[0]] = true
}

func (t *trie) empty() bool { return len(t.nodes) == 1 }

// longestAt returns the token and end of the longest match starting at i.
func (t *trie) longestAt(s string, i int) (int32, int) {
	n, tok, end := int32(0), int32(-1), -1
	for j := i; j < len(s); j++ {
		nx, ok := t.nodes[n].next[s[j]]
		if !ok {
			break
		}
		n = nx
		if t.nodes[n].tok >= 0 {
			tok, end = t.nodes[n].tok, j+1
		}
	}
	return tok, end
}

// addedMatch is a piece of text cut by the added-token search: either an
// added token (tok >= 0) or plain text.
type addedMatch struct {
	tok        int32
	start, end int
}

// findAdded cuts s at the added tokens of t, as Hugging Face's
// AddedVocabulary::find_matches does (leftmost-longest matches, then the
// single_word, lstrip and rstrip rules).
func findAdded(s string, t *trie, toks []AddedToken, out []addedMatch) []addedMatch {
	if t == nil || t.empty() {
		return append(out, addedMatch{-1, 0, len(s)})
	}
	startOff := 0
	i := 0
	for i < len(s) {
		if !t.first[s[i]] {
			i++
			continue
		}
		k, e := t.longestAt(s, i)
		if k < 0 {
			i++
			continue
		}
		start, stop := i, e
		i = e
		at := &toks[k]
		if at.SingleWord {
			startSpace := start == 0 || !endsWithWord(s[:start])
			stopSpace := stop == len(s) || !startsWithWord(s[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if at.LStrip {
			start = max(spaceLeftmostAtEnd(s[:start]), startOff)
		}
		if at.RStrip {
			stop += spaceRightmostAtStart(s[stop:])
		}
		if startOff < start {
			out = append(out, addedMatch{-1, startOff, start})
		}
		out = append(out, addedMatch{k, start, stop})
		startOff = stop
	}
	if startOff != len(s) || len(s) == 0 {
		out = append(out, addedMatch{-1, startOff, len(s)})
	}
	return out
}

// isAlnum is Rust's char::is_alphanumeric (Alphabetic or Numeric).
func isAlnum(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Other_Alphabetic, r)
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && (isAlnum(r) || r == '_')
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && (isAlnum(r) || r == '_')
}

func spaceLeftmostAtEnd(s string) int {
	for i := len(s); i > 0; {
		r, w := utf8.DecodeLastRuneInString(s[:i])
		if !unicode.IsSpace(r) {
			return i
		}
		i -= w
	}
	return 0
}

func spaceRightmostAtStart(s string) int {
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			return i
		}
		i += w
	}
	return len(s)
}
