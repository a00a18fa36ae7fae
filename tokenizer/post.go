package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// encoding is a tokenized text on its way out: ids, original byte offsets
// and, for the post-processor, the token strings' whitespace.
type encoding struct {
	ids  []int32
	offs [][2]int
}

// postProcessor adds special tokens (BOS, EOS...) around one sequence and
// may adjust offsets.
type postProcessor interface {
	process(t *Tokenizer, e *encoding, addSpecial bool)
}

// templatePiece is one element of a TemplateProcessing template: a special
// token (ids) or the sequence itself (ids == nil).
type templatePiece struct {
	ids []int32
	seq bool
}

// templateProcessor is TemplateProcessing for single sequences.
type templateProcessor struct {
	single []templatePiece
}

func (p *templateProcessor) process(_ *Tokenizer, e *encoding, addSpecial bool) {
	if !addSpecial {
		return
	}
	var ids []int32
	var offs [][2]int
	for _, pc := range p.single {
		if pc.seq {
			ids = append(ids, e.ids...)
			if e.offs != nil {
				offs = append(offs, e.offs...)
			}
			continue
		}
		ids = append(ids, pc.ids...)
		if e.offs != nil {
			for range pc.ids {
				offs = append(offs, [2]int{0, 0})
			}
		}
	}
	e.ids = ids
	if e.offs != nil {
		e.offs = offs
	}
}

// bosEos returns the first special id before the sequence and the last after.
func (p *templateProcessor) bosEos() (bos, eos int32, hasBos, hasEos bool) {
	seen := false
	for _, pc := range p.single {
		switch {
		case pc.seq:
			seen = true
		case !seen && !hasBos && len(pc.ids) > 0:
			bos, hasBos = pc.ids[0], true
		case seen && len(pc.ids) > 0:
			eos, hasEos = pc.ids[len(pc.ids)-1], true
		}
	}
	return
}

// byteLevelProcessor is the ByteLevel post-processor: it only trims the
// offsets of tokens that start or end with (byte-level) spaces.
type byteLevelProcessor struct {
	trimOffsets    bool
	addPrefixSpace bool
}

func (p byteLevelProcessor) process(t *Tokenizer, e *encoding, _ bool) {
	if !p.trimOffsets || e.offs == nil {
		return
	}
	for i, id := range e.ids {
		trimByteLevelOffsets(t.Token(id), &e.offs[i], i, p.addPrefixSpace)
	}
}

// isByteLevelSpace is true for Ġ (the stand-in for a space) and whitespace.
func isByteLevelSpace(r rune) bool { return r == 'Ġ' || isSpaceRune(r) }

func trimByteLevelOffsets(tok string, off *[2]int, i int, addPrefixSpace bool) {
	lead := 0
	for _, r := range tok {
		if !isByteLevelSpace(r) {
			break
		}
		lead++
	}
	trail := 0
	for s := tok; s != ""; {
		r, w := utf8.DecodeLastRuneInString(s)
		if !isByteLevelSpace(r) {
			break
		}
		trail++
		s = s[:len(s)-w]
	}
	if lead > 0 {
		if (i == 0 || off[0] == 0) && addPrefixSpace && lead == 1 {
			lead = 0
		}
		off[0] = min(off[0]+lead, off[1])
	}
	if trail > 0 && off[1] >= trail {
		off[1] = max(off[1]-trail, off[0])
	}
}

// bertProcessor covers BertProcessing ([CLS] A [SEP]) and RobertaProcessing
// (<s> A </s>, optionally trimming offsets like ByteLevel).
type bertProcessor struct {
	cls, sep       int32
	trimOffsets    bool
	addPrefixSpace bool
}

func (p bertProcessor) process(t *Tokenizer, e *encoding, addSpecial bool) {
	if p.trimOffsets && e.offs != nil {
		byteLevelProcessor{true, p.addPrefixSpace}.process(t, e, addSpecial)
	}
	if !addSpecial {
		return
	}
	e.ids = append(append([]int32{p.cls}, e.ids...), p.sep)
	if e.offs != nil {
		e.offs = append(append([][2]int{{0, 0}}, e.offs...), [2]int{0, 0})
	}
}

// seqProcessor applies post-processors in order.
type seqProcessor []postProcessor

func (s seqProcessor) process(t *Tokenizer, e *encoding, addSpecial bool) {
	for _, p := range s {
		p.process(t, e, addSpecial)
	}
}

// decoder turns token strings back into text, as a chain over the list.
type decoder interface {
	decodeChain(toks []string) []string
}

type seqDecoder []decoder

func (s seqDecoder) decodeChain(toks []string) []string {
	for _, d := range s {
		toks = d.decodeChain(toks)
	}
	return toks
}

// byteLevelDecoder maps byte-level characters back to bytes; a token with
// any other character is taken as is. Invalid UTF-8 becomes U+FFFD.
type byteLevelDecoder struct{}

func (byteLevelDecoder) decodeChain(toks []string) []string {
	var b []byte
	for _, t := range toks {
		n := len(b)
		ok := true
		for _, r := range t {
			c, found := charToByte[r]
			if !found || r == utf8.RuneError {
				ok = false
				break
			}
			b = append(b, c)
		}
		if !ok {
			b = append(b[:n], t...)
		}
	}
	return []string{lossyUTF8(b)}
}

// lossyUTF8 is Rust's String::from_utf8_lossy: each maximal invalid
// subsequence becomes one U+FFFD.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for i := 0; i < len(b); {
		r, w := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || w > 1 {
			sb.Write(b[i : i+w])
			i += w
			continue
		}
		sb.WriteRune(utf8.RuneError)
		i += invalidPrefixLen(b[i:])
	}
	return sb.String()
}

// invalidPrefixLen returns the length of the maximal prefix of b that is a
// valid start of a UTF-8 sequence but incomplete (at least 1).
func invalidPrefixLen(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	i := 1
	for ; i <= need && i < len(b); i++ {
		if b[i] < lo || b[i] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return i
}

// metaspaceDecoder turns the replacement character back into spaces,
// dropping it in the first token unless the prepend scheme is never.
type metaspaceDecoder struct {
	replacement rune
	scheme      prependScheme
}

func (d metaspaceDecoder) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		var sb strings.Builder
		for _, r := range t {
			if r == d.replacement {
				if i == 0 && d.scheme != prependNever {
					continue
				}
				r = ' '
			}
			sb.WriteRune(r)
		}
		out[i] = sb.String()
	}
	return out
}

// replaceDecoder replaces a pattern in every token.
type replaceDecoder struct{ r replaceNormalizer }

func (d replaceDecoder) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		n := nstr{s: t, align: make([]span, len(t))}
		d.r.normalize(&n)
		out[i] = n.s
	}
	return out
}

// byteFallbackDecoder turns runs of <0xXX> tokens back into text; invalid
// UTF-8 becomes one U+FFFD per byte.
type byteFallbackDecoder struct{}

func byteToken(t string) (byte, bool) {
	if len(t) != 6 || t[:3] != "<0x" || t[5] != '>' {
		return 0, false
	}
	v := 0
	hex := t[3:5]
	if hex[0] == '+' { // Rust's from_str_radix accepts a plus sign
		hex = hex[1:]
	}
	for _, c := range []byte(hex) {
		switch {
		case c >= '0' && c <= '9':
			v = v*16 + int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v*16 + int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v*16 + int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return byte(v), true
}

func (byteFallbackDecoder) decodeChain(toks []string) []string {
	out := make([]string, 0, len(toks))
	var pend []byte
	flush := func() {
		if len(pend) == 0 {
			return
		}
		if utf8.Valid(pend) {
			out = append(out, string(pend))
		} else {
			for range pend {
				out = append(out, "\uFFFD")
			}
		}
		pend = pend[:0]
	}
	for _, t := range toks {
		if b, ok := byteToken(t); ok {
			pend = append(pend, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

// fuseDecoder joins all tokens into one.
type fuseDecoder struct{}

func (fuseDecoder) decodeChain(toks []string) []string { return []string{strings.Join(toks, "")} }

// stripDecoder removes up to start leading and stop trailing content
// characters from every token.
type stripDecoder struct {
	content     rune
	start, stop int
}

func (d stripDecoder) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rs := []rune(t)
		a := 0
		for k := 0; k < d.start && k < len(rs); k++ {
			if rs[k] != d.content {
				break
			}
			a = k + 1
		}
		e := len(rs)
		for k := 0; k < d.stop && k < len(rs); k++ {
			idx := len(rs) - k - 1
			if rs[idx] != d.content {
				break
			}
			e = idx
		}
		if e < a {
			e = a
		}
		out[i] = string(rs[a:e])
	}
	return out
}

// isSpaceRune is Rust's char::is_whitespace (the White_Space property).
func isSpaceRune(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x85, 0xA0:
		return true
	}
	return r > 0xff && unicode.IsSpace(r)
}

// bpeDecoder replaces the end-of-word suffix with a space (nothing after
// the last token).
type bpeDecoder struct{ suffix string }

func (d bpeDecoder) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rep := " "
		if i == len(toks)-1 {
			rep = ""
		}
		if d.suffix == "" {
			out[i] = t
			continue
		}
		out[i] = strings.ReplaceAll(t, d.suffix, rep)
	}
	return out
}
