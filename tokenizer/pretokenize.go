package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// preTokenizer cuts a piece into smaller pieces (and may rewrite them, as
// ByteLevel and Metaspace do). Empty pieces are dropped by the caller.
type preTokenizer interface {
	preTokenize(n nstr, out []nstr) []nstr
}

// splitBehavior is Hugging Face's SplitDelimiterBehavior.
type splitBehavior int

const (
	behaviorRemoved splitBehavior = iota
	behaviorIsolated
	behaviorMergedWithPrevious
	behaviorMergedWithNext
	behaviorContiguous
)

var behaviorNames = map[string]splitBehavior{
	"Removed":            behaviorRemoved,
	"Isolated":           behaviorIsolated,
	"MergedWithPrevious": behaviorMergedWithPrevious,
	"MergedWithNext":     behaviorMergedWithNext,
	"Contiguous":         behaviorContiguous,
}

// splitNstr cuts n at the segments found by a pattern and appends the
// non-empty results to out, as NormalizedString::split does.
func splitNstr(n nstr, segs []segment, b splitBehavior, out []nstr) []nstr {
	type cut struct {
		start, end int
		remove     bool
	}
	var cuts []cut
	switch b {
	case behaviorIsolated:
		for _, s := range segs {
			cuts = append(cuts, cut{s.start, s.end, false})
		}
	case behaviorRemoved:
		for _, s := range segs {
			cuts = append(cuts, cut{s.start, s.end, s.match})
		}
	case behaviorContiguous:
		prev := false
		for _, s := range segs {
			if s.match == prev && len(cuts) > 0 {
				cuts[len(cuts)-1].end = s.end
			} else {
				cuts = append(cuts, cut{s.start, s.end, false})
			}
			prev = s.match
		}
	case behaviorMergedWithPrevious:
		prev := false
		for _, s := range segs {
			if s.match && !prev && len(cuts) > 0 {
				cuts[len(cuts)-1].end = s.end
			} else {
				cuts = append(cuts, cut{s.start, s.end, false})
			}
			prev = s.match
		}
	case behaviorMergedWithNext:
		prev := false
		for i := len(segs) - 1; i >= 0; i-- {
			s := segs[i]
			if s.match && !prev && len(cuts) > 0 {
				cuts[len(cuts)-1].start = s.start
			} else {
				cuts = append(cuts, cut{s.start, s.end, false})
			}
			prev = s.match
		}
		for i, j := 0, len(cuts)-1; i < j; i, j = i+1, j-1 {
			cuts[i], cuts[j] = cuts[j], cuts[i]
		}
	}
	for _, c := range cuts {
		if !c.remove && c.end > c.start {
			out = append(out, n.slice(c.start, c.end))
		}
	}
	return out
}

type seqPreTokenizer []preTokenizer

func (s seqPreTokenizer) preTokenize(n nstr, out []nstr) []nstr {
	cur := []nstr{n}
	for _, p := range s {
		var next []nstr
		for _, x := range cur {
			next = p.preTokenize(x, next)
		}
		cur = next
	}
	return append(out, cur...)
}

// splitPreTokenizer is the Split pre-tokenizer.
type splitPreTokenizer struct {
	pat      pattern
	behavior splitBehavior
	invert   bool
}

func (p splitPreTokenizer) preTokenize(n nstr, out []nstr) []nstr {
	return splitNstr(n, findSegments(n.s, p.pat, p.invert), p.behavior, out)
}

// byteLevelPreTokenizer optionally adds a leading space, optionally splits
// with the GPT-2 regex, then maps every byte to its printable stand-in.
type byteLevelPreTokenizer struct {
	addPrefixSpace bool
	useRegex       bool
}

func (p byteLevelPreTokenizer) preTokenize(n nstr, out []nstr) []nstr {
	if p.addPrefixSpace && (len(n.s) == 0 || n.s[0] != ' ') {
		prependNormalizer{" "}.normalize(&n)
	}
	start := len(out)
	if p.useRegex {
		out = splitNstr(n, findSegments(n.s, gpt2Pattern{}, false), behaviorIsolated, out)
	} else if n.s != "" {
		out = append(out, n)
	}
	for i := start; i < len(out); i++ {
		out[i] = byteLevelMap(out[i])
	}
	return out
}

// byteLevelMap replaces every byte with its GPT-2 stand-in character.
func byteLevelMap(n nstr) nstr {
	var b builder
	b.b = make([]byte, 0, 2*len(n.s))
	b.al = make([]span, 0, 2*len(n.s))
	for i := 0; i < len(n.s); i++ {
		b.add(byteToChar[n.s[i]], n.align[i])
	}
	b.done(&n)
	return n
}

// byteToChar and charToByte are GPT-2's bytes_to_unicode table: printable
// bytes stand for themselves, the others map to U+0100 and up.
var byteToChar, charToByte = func() ([256]string, map[rune]byte) {
	var t [256]string
	m := make(map[rune]byte, 256)
	n := 0
	for b := range 256 {
		r := rune(b)
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
		} else {
			r = rune(256 + n)
			n++
		}
		t[b] = string(r)
		m[r] = byte(b)
	}
	return t, m
}()

// prependScheme is Metaspace's prepend_scheme.
type prependScheme int

const (
	prependAlways prependScheme = iota
	prependFirst
	prependNever
)

var prependSchemeNames = map[string]prependScheme{"always": prependAlways, "first": prependFirst, "never": prependNever}

// metaspacePreTokenizer replaces spaces with a replacement character (▁),
// prepends one per its scheme and optionally splits before each.
type metaspacePreTokenizer struct {
	replacement rune
	scheme      prependScheme
	split       bool
}

func (p metaspacePreTokenizer) preTokenize(n nstr, out []nstr) []nstr {
	rep := string(p.replacement)
	replaceNormalizer{literalPattern(" "), rep}.normalize(&n)
	first, _ := utf8.DecodeRuneInString(n.s)
	switch p.scheme {
	case prependAlways:
		if first != p.replacement || n.s == "" {
			prependNormalizer{rep}.normalize(&n)
		}
	case prependFirst:
		if (first != p.replacement || n.s == "") && n.origStart() == 0 {
			prependNormalizer{rep}.normalize(&n)
		}
	}
	if !p.split {
		if n.s == "" {
			return out
		}
		return append(out, n)
	}
	r := p.replacement
	return splitNstr(n, findSegments(n.s, funcPattern(func(c rune) bool { return c == r }), false), behaviorMergedWithNext, out)
}

// digitsPreTokenizer splits numbers from the rest, each digit alone when
// individual is set.
type digitsPreTokenizer struct{ individual bool }

func (p digitsPreTokenizer) preTokenize(n nstr, out []nstr) []nstr {
	b := behaviorContiguous
	if p.individual {
		b = behaviorIsolated
	}
	return splitNstr(n, findSegments(n.s, funcPattern(unicode.IsNumber), false), b, out)
}

// punctuationPreTokenizer splits off punctuation characters.
type punctuationPreTokenizer struct{ behavior splitBehavior }

func (p punctuationPreTokenizer) preTokenize(n nstr, out []nstr) []nstr {
	isPunct := func(r rune) bool {
		return r < utf8.RuneSelf && unicode.IsPunct(r) || r < utf8.RuneSelf && unicode.IsSymbol(r) || unicode.IsPunct(r)
	}
	return splitNstr(n, findSegments(n.s, funcPattern(isPunct), false), p.behavior, out)
}

// whitespaceSplitPreTokenizer splits on whitespace, dropping it.
type whitespaceSplitPreTokenizer struct{}

func (whitespaceSplitPreTokenizer) preTokenize(n nstr, out []nstr) []nstr {
	return splitNstr(n, findSegments(n.s, funcPattern(unicode.IsSpace), false), behaviorRemoved, out)
}

// whitespacePreTokenizer keeps the matches of \w+|[^\w\s]+ (Rust regex
// classes) and drops the rest.
type whitespacePreTokenizer struct{}

func (whitespacePreTokenizer) preTokenize(n nstr, out []nstr) []nstr {
	return splitNstr(n, findSegments(n.s, wordPunctPattern{}, true), behaviorRemoved, out)
}

// isWordChar is Rust regex's Unicode \w.
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r) ||
		unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r) || r == 0x200C || r == 0x200D
}

// wordPunctPattern matches \w+|[^\w\s]+.
type wordPunctPattern struct{}

func (wordPunctPattern) find(s string, fn func(start, end int)) {
	kind := func(r rune) int {
		switch {
		case isWordChar(r):
			return 1
		case unicode.IsSpace(r):
			return 0
		}
		return 2
	}
	i := 0
	for i < len(s) {
		r, w := utf8.DecodeRuneInString(s[i:])
		k := kind(r)
		if k == 0 {
			i += w
			continue
		}
		j := i + w
		for j < len(s) {
			r2, w2 := utf8.DecodeRuneInString(s[j:])
			if kind(r2) != k {
				break
			}
			j += w2
		}
		fn(i, j)
		i = j
	}
}
