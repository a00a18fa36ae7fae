package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// pattern finds the non-overlapping matches of something in a string, left
// to right, and calls fn with the byte range of each.
type pattern interface {
	find(s string, fn func(start, end int))
}

// literalPattern matches a fixed string. An empty literal matches nothing.
type literalPattern string

func (p literalPattern) find(s string, fn func(start, end int)) {
	if p == "" {
		return
	}
	off := 0
	for {
		i := strings.Index(s[off:], string(p))
		if i < 0 {
			return
		}
		fn(off+i, off+i+len(p))
		off += i + len(p)
	}
}

// funcPattern matches every single character for which f is true.
type funcPattern func(r rune) bool

func (p funcPattern) find(s string, fn func(start, end int)) {
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if p(r) {
			fn(i, i+w)
		}
		i += w
	}
}

// anchoredPattern is a regular expression that matches at every position
// of any string (each character belongs to one of its alternatives), so
// matching reduces to "where does the match that starts here end".
type anchoredPattern interface {
	pattern
	matchAt(s string, pos int) int
}

// findAnchored implements find for an anchoredPattern.
func findAnchored(p anchoredPattern, s string, fn func(start, end int)) {
	for pos := 0; pos < len(s); {
		end := p.matchAt(s, pos)
		fn(pos, end)
		pos = end
	}
}

// regexPattern is a general regular expression run by regexp2, a
// backtracking engine with the lookarounds that Oniguruma (used by Hugging
// Face) has and Go's regexp lacks.
type regexPattern struct {
	re  *regexp2.Regexp
	src string
}

func compileRegex(src string) (pattern, error) {
	switch src {
	case llama3Regex:
		return cl100kPattern{maxDigits: 3}, nil
	case qwen2Regex:
		return cl100kPattern{maxDigits: 1}, nil
	case gpt2Regex:
		return gpt2Pattern{}, nil
	}
	re, err := compileRegexp2(src)
	if err != nil {
		return nil, err
	}
	return &regexPattern{re: re, src: src}, nil
}

func compileRegexp2(src string) (*regexp2.Regexp, error) {
	re, err := regexp2.Compile(src, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %v", src, err)
	}
	return re, nil
}

func (p *regexPattern) find(s string, fn func(start, end int)) {
	if s == "" {
		return
	}
	// regexp2 reports rune indices; map them to byte offsets. Invalid UTF-8
	// bytes become one U+FFFD rune each, both here and inside regexp2.
	offs := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		offs = append(offs, i)
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	offs = append(offs, len(s))
	m, err := p.re.FindStringMatch(s)
	for err == nil && m != nil {
		fn(offs[m.Index], offs[m.Index+m.Length])
		m, err = p.re.FindNextMatch(m)
	}
}

// The regular expressions with hand-written matchers, recognised by their
// exact source text.
const (
	// llama3Regex is the pre-tokenizer regex of Llama 3 (and tiktoken's cl100k).
	llama3Regex = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// qwen2Regex is Llama 3's with single digits (Qwen 2, 2.5 and 3).
	qwen2Regex = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// gpt2Regex is GPT-2's, also used by the ByteLevel pre-tokenizer.
	gpt2Regex = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
)

// Character classes of the hand-written matchers.
const (
	clOther   = iota // none of the below
	clLetter         // \p{L}
	clNumber         // \p{N}
	clSpace          // \s other than CR and LF
	clNewline        // \r or \n
)

var asciiClass = func() (t [128]uint8) {
	for c := range 128 {
		r := rune(c)
		switch {
		case r == '\r' || r == '\n':
			t[c] = clNewline
		case unicode.IsSpace(r):
			t[c] = clSpace
		case unicode.IsLetter(r):
			t[c] = clLetter
		case unicode.IsNumber(r):
			t[c] = clNumber
		}
	}
	return t
}()

// classAt returns the class and width of the character at s[i]. An invalid
// UTF-8 byte is one character of class other (it reads as U+FFFD, a symbol).
func classAt(s string, i int) (uint8, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	switch {
	case unicode.IsLetter(r):
		return clLetter, w
	case unicode.IsNumber(r):
		return clNumber, w
	case unicode.IsSpace(r):
		return clSpace, w
	}
	return clOther, w
}

// scanClass advances over characters of class cl (or either of two
// classes when alsoCl differs) and returns the end and the count.
func scanClass(s string, i int, cl uint8) int {
	for i < len(s) {
		c, w := classAt(s, i)
		if c != cl {
			break
		}
		i += w
	}
	return i
}

// contraction matches 's 't 're 've 'm 'll 'd at s[pos] (the apostrophe)
// and returns the end or -1. With fold, letters match case-insensitively,
// including U+017F (long s), which Unicode case folding maps to s.
func contraction(s string, pos int, fold bool) int {
	i := pos + 1
	if i >= len(s) {
		return -1
	}
	low := func(c byte) byte {
		if fold && c >= 'A' && c <= 'Z' {
			return c + 32
		}
		return c
	}
	c := low(s[i])
	switch c {
	case 's', 't', 'm', 'd':
		return i + 1
	case 'r', 'v', 'l':
		if i+1 < len(s) {
			c2 := low(s[i+1])
			if (c == 'r' || c == 'v') && c2 == 'e' || c == 'l' && c2 == 'l' {
				return i + 2
			}
		}
	}
	if fold && strings.HasPrefix(s[i:], "\u017f") {
		return i + 2
	}
	return -1
}

// whitespaceEnd resolves the three whitespace alternatives shared by the
// known regexes for a run of whitespace starting at pos:
// \s*[\r\n]+ (only when newlines is set), \s+(?!\S), \s+.
func whitespaceEnd(s string, pos int, newlines bool) int {
	q := pos
	lastNL := -1
	lastStart := pos
	n := 0
	for q < len(s) {
		c, w := classAt(s, q)
		if c != clSpace && c != clNewline {
			break
		}
		if c == clNewline {
			lastNL = q
		}
		lastStart = q
		q += w
		n++
	}
	if newlines && lastNL >= 0 {
		return lastNL + 1
	}
	if q == len(s) || n == 1 {
		return q
	}
	return lastStart
}

// cl100kPattern matches llama3Regex (maxDigits 3) or qwen2Regex (1):
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,N}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
type cl100kPattern struct{ maxDigits int }

func (p cl100kPattern) find(s string, fn func(start, end int)) { findAnchored(p, s, fn) }

func (p cl100kPattern) matchAt(s string, pos int) int {
	if s[pos] == '\'' {
		if e := contraction(s, pos, true); e > 0 {
			return e
		}
	}
	c0, w0 := classAt(s, pos)
	switch c0 {
	case clLetter:
		return scanClass(s, pos+w0, clLetter)
	case clNumber:
		i := pos + w0
		for k := 1; k < p.maxDigits && i < len(s); k++ {
			c, w := classAt(s, i)
			if c != clNumber {
				break
			}
			i += w
		}
		return i
	case clOther, clSpace:
		// [^\r\n\p{L}\p{N}]\p{L}+
		if pos+w0 < len(s) {
			if c1, _ := classAt(s, pos+w0); c1 == clLetter {
				return scanClass(s, pos+w0, clLetter)
			}
		}
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	i := pos
	if s[pos] == ' ' {
		i++
	}
	if j := scanClass(s, i, clOther); j > i {
		return scanClass(s, j, clNewline)
	}
	return whitespaceEnd(s, pos, true)
}

// gpt2Pattern matches gpt2Regex:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
type gpt2Pattern struct{}

func (p gpt2Pattern) find(s string, fn func(start, end int)) { findAnchored(p, s, fn) }

func (gpt2Pattern) matchAt(s string, pos int) int {
	if s[pos] == '\'' {
		if e := contraction(s, pos, false); e > 0 {
			return e
		}
	}
	i := pos
	if s[pos] == ' ' && pos+1 < len(s) {
		i++
	}
	c, w := classAt(s, i)
	if c == clLetter || c == clNumber || c == clOther {
		return scanClass(s, i+w, c)
	}
	return whitespaceEnd(s, pos, false)
}

// segment is one piece of a string cut by a pattern.
type segment struct {
	start, end int
	match      bool
}

// findSegments cuts s into the matches of p and the text between them, like
// Hugging Face's Pattern::find_matches. With invert, the flags are swapped.
func findSegments(s string, p pattern, invert bool) []segment {
	if s == "" {
		return []segment{{0, 0, invert}}
	}
	var out []segment
	prev := 0
	p.find(s, func(start, end int) {
		if prev != start {
			out = append(out, segment{prev, start, invert})
		}
		out = append(out, segment{start, end, !invert})
		prev = end
	})
	if prev != len(s) {
		out = append(out, segment{prev, len(s), invert})
	}
	return out
}
