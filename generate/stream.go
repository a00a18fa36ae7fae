package generate

import (
	"strings"
	"unicode/utf8"
)

// Stream turns the growing decoded text of a generation into deltas that
// are safe to show: whole UTF-8 characters (decoders write U+FFFD for a
// partial byte sequence, which is held back), never a part that might turn
// out to begin a stop string, and nothing from the earliest stop string on.
// Generate and the HTTP server both stream through it.
type Stream struct {
	// Stops are the stop strings.
	Stops []string
	text  string // the final text so far (cut at a stop string)
	sent  int    // bytes of text already returned
}

// Update takes the whole decoded text so far and returns the new text that
// is certain, and whether a stop string was found (then the text is final).
func (s *Stream) Update(full string) (delta string, stopped bool) {
	s.text = full
	for _, st := range s.Stops {
		if i := strings.Index(full, st); st != "" && i >= 0 && i < len(s.text) {
			s.text = full[:i]
		}
	}
	if len(s.text) < len(full) {
		return s.take(len(s.text)), true
	}
	safe := len(full)
	for safe > s.sent && strings.HasSuffix(full[:safe], "\uFFFD") {
		safe -= len("\uFFFD")
	}
	for _, st := range s.Stops {
		for k := min(len(st)-1, safe); k > 0; k-- {
			if strings.HasSuffix(full[:safe], st[:k]) {
				safe -= k
				break
			}
		}
	}
	for safe > s.sent && !utf8.ValidString(full[s.sent:safe]) {
		safe--
	}
	return s.take(safe), false
}

// Flush returns whatever was held back, at the end of generation.
func (s *Stream) Flush() string { return s.take(len(s.text)) }

// Text is the text so far, cut before a stop string.
func (s *Stream) Text() string { return s.text }

func (s *Stream) take(upto int) string {
	if upto <= s.sent {
		return ""
	}
	d := s.text[s.sent:upto]
	s.sent = upto
	return d
}

// Detokenizer gives the text of a growing list of generated token ids
// without decoding the whole list at every token: it decodes a window that
// starts one settled token back (so that the decoder sees the context it
// would have in the whole list: a leading space, a byte sequence) and
// appends what the window adds to the text settled so far, as the
// incremental detokenizers of text-generation servers do. The text settles
// at a token whose window ends in whole characters. (Decoding the whole
// list at every token made generation quadratic: 0.19 ms a token at 2048
// tokens with Llama 3's tokenizer.) Where a window's text does not extend
// the text of its first tokens, it decodes the whole list.
type Detokenizer struct {
	Dec     Decoder
	settled string // the text of ids[:read]
	// prefix and read: the window is ids[prefix:], whose first read-prefix
	// tokens are settled already
	prefix, read int
}

// Text returns the text of ids, which extend those of the previous call.
func (d *Detokenizer) Text(ids []int32) string {
	pre := d.Dec.Decode(ids[d.prefix:d.read], true)
	win := d.Dec.Decode(ids[d.prefix:], true)
	if !strings.HasPrefix(win, pre) {
		full := d.Dec.Decode(ids, true)
		if !strings.HasSuffix(full, "\uFFFD") && len(ids) > 0 {
			d.settled, d.prefix, d.read = full, len(ids)-1, len(ids)
		}
		return full
	}
	tail := win[len(pre):]
	full := d.settled + tail
	if tail != "" && !strings.HasSuffix(tail, "\uFFFD") {
		d.settled, d.prefix, d.read = full, d.read, len(ids)
	}
	return full
}
