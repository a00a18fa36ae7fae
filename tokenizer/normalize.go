package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// span is a byte range [start, end) of the original text.
type span struct{ start, end int }

// nstr is a piece of text on its way through the pipeline, like Hugging
// Face's NormalizedString: the current text and, for each of its bytes, the
// range of the original input it came from.
type nstr struct {
	s     string
	align []span // len(align) == len(s)
	// orig is the original range of the piece; used when s is empty and by
	// Metaspace's "first" prepend scheme.
	orig span
}

// newNstr wraps s, which starts at byte base of the original text.
func newNstr(s string, base int) nstr {
	al := make([]span, len(s))
	i := 0
	for i < len(s) {
		_, w := utf8.DecodeRuneInString(s[i:])
		for k := i; k < i+w; k++ {
			al[k] = span{base + i, base + i + w}
		}
		i += w
	}
	return nstr{s: s, align: al, orig: span{base, base + len(s)}}
}

// origStart is the start of the piece in the original text.
func (n *nstr) origStart() int {
	if len(n.align) > 0 {
		return n.align[0].start
	}
	return n.orig.start
}

// origRange maps the normalized byte range [a, b) to the original text.
func (n *nstr) origRange(a, b int) span {
	if a >= b || a >= len(n.align) {
		if a < len(n.align) {
			p := n.align[a].start
			return span{p, p}
		}
		if len(n.align) > 0 {
			p := n.align[len(n.align)-1].end
			return span{p, p}
		}
		return span{n.orig.start, n.orig.start}
	}
	r := span{n.align[a].start, n.align[a].end}
	for _, x := range n.align[a+1 : b] {
		if x.start < r.start {
			r.start = x.start
		}
		if x.end > r.end {
			r.end = x.end
		}
	}
	return r
}

// slice returns the sub-piece of normalized bytes [a, b).
func (n *nstr) slice(a, b int) nstr {
	o := n.origRange(a, b)
	return nstr{s: n.s[a:b], align: n.align[a:b:b], orig: o}
}

// builder accumulates a transformed nstr.
type builder struct {
	b  []byte
	al []span
}

func (b *builder) add(s string, sp span) {
	b.b = append(b.b, s...)
	for range len(s) {
		b.al = append(b.al, sp)
	}
}

func (b *builder) addRune(r rune, sp span) {
	n := len(b.b)
	b.b = utf8.AppendRune(b.b, r)
	for range len(b.b) - n {
		b.al = append(b.al, sp)
	}
}

// copyFrom appends n's bytes [i, j) with their alignments.
func (b *builder) copyFrom(n *nstr, i, j int) {
	b.b = append(b.b, n.s[i:j]...)
	b.al = append(b.al, n.align[i:j]...)
}

func (b *builder) done(n *nstr) {
	n.s = string(b.b)
	n.align = b.al
}

// normalizer transforms a piece in place.
type normalizer interface {
	normalize(n *nstr)
}

type seqNormalizer []normalizer

func (s seqNormalizer) normalize(n *nstr) {
	for _, x := range s {
		x.normalize(n)
	}
}

// unicodeNormalizer applies one of the four Unicode normalization forms.
// Alignment is per normalization segment (a starter and its combining
// marks): every output byte of a segment maps to the whole input segment.
type unicodeNormalizer struct{ form norm.Form }

func (u unicodeNormalizer) normalize(n *nstr) {
	if u.form.IsNormalString(n.s) {
		return
	}
	var b builder
	b.b = make([]byte, 0, len(n.s)+8)
	b.al = make([]span, 0, len(n.s)+8)
	i := 0
	for i < len(n.s) {
		j := i + u.form.NextBoundaryInString(n.s[i:], true)
		if j <= i {
			j = len(n.s)
		}
		seg := n.s[i:j]
		out := u.form.String(seg)
		if out == seg {
			b.copyFrom(n, i, j)
		} else {
			b.add(out, n.origRange(i, j))
		}
		i = j
	}
	b.done(n)
}

// lowercaseNormalizer maps every character to lower case as Rust's
// char::to_lowercase does (not context sensitive).
type lowercaseNormalizer struct{}

func (lowercaseNormalizer) normalize(n *nstr) {
	var b builder
	for i, r := range n.s {
		w := utf8.RuneLen(r)
		if r == utf8.RuneError {
			_, w = utf8.DecodeRuneInString(n.s[i:])
		}
		sp := n.align[i]
		switch {
		case r == 0x130: // İ lowercases to i + combining dot above
			b.add("i\u0307", sp)
		case r == utf8.RuneError && w == 1:
			b.copyFrom(n, i, i+1)
		default:
			b.addRune(unicode.ToLower(r), sp)
		}
	}
	b.done(n)
}

// stripNormalizer removes leading and/or trailing whitespace.
type stripNormalizer struct{ left, right bool }

func (s stripNormalizer) normalize(n *nstr) {
	a, e := 0, len(n.s)
	if s.left {
		a = len(n.s) - len(strings.TrimLeftFunc(n.s, unicode.IsSpace))
	}
	if s.right {
		e = len(strings.TrimRightFunc(n.s, unicode.IsSpace))
	}
	if e < a {
		e = a
	}
	if a == 0 && e == len(n.s) {
		return
	}
	n.orig = n.origRange(a, e)
	n.s = n.s[a:e]
	n.align = n.align[a:e:e]
}

// prependNormalizer prepends a string to non-empty pieces.
type prependNormalizer struct{ s string }

func (p prependNormalizer) normalize(n *nstr) {
	if n.s == "" {
		return
	}
	var b builder
	b.b = make([]byte, 0, len(p.s)+len(n.s))
	b.al = make([]span, 0, len(p.s)+len(n.s))
	b.add(p.s, n.align[0])
	b.copyFrom(n, 0, len(n.s))
	b.done(n)
}

// replaceNormalizer replaces every match of a pattern with content.
type replaceNormalizer struct {
	pat     pattern
	content string
}

func (r replaceNormalizer) normalize(n *nstr) {
	var b builder
	last := 0
	matched := false
	r.pat.find(n.s, func(start, end int) {
		matched = true
		b.copyFrom(n, last, start)
		sp := span{}
		if end >= 1 {
			sp = n.align[end-1]
		}
		b.add(r.content, sp)
		last = end
	})
	if !matched {
		return
	}
	b.copyFrom(n, last, len(n.s))
	b.done(n)
}
