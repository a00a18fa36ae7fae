package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a minimal JSON reader for the two large members of a BPE model,
// "vocab" (an object of string to integer) and "merges" (an array of "a b"
// strings or of ["a", "b"] pairs). encoding/json needs about four times as
// long for the 280k merges of Llama 3 because it goes through interface
// values; this reader decodes straight into the maps the model uses.
type scanner struct {
	b   []byte
	src string // string(b), when set
	pos int
	// aliased is where the last string read by strBytes starts in b when
	// it had no escapes, else -1.
	aliased int
}

// errorf reports a syntax error with the byte offset inside the member.
func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", s.pos, fmt.Sprintf(format, args...))
}

func (s *scanner) ws() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos >= len(s.b) {
		return 0
	}
	return s.b[s.pos]
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		if s.pos >= len(s.b) {
			return s.errorf("expected %q, found end of input", c)
		}
		return s.errorf("expected %q, found %q", c, s.b[s.pos])
	}
	s.pos++
	return nil
}

// strBytes reads a JSON string, decoding escapes. Without escapes the
// result aliases the input.
func (s *scanner) strBytes() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	start := s.pos
	// Fast path: no escapes.
	for s.pos < len(s.b) {
		c := s.b[s.pos]
		if c == '"' {
			s.pos++
			s.aliased = start
			return s.b[start : s.pos-1], nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		s.pos++
	}
	s.aliased = -1
	buf := append([]byte(nil), s.b[start:s.pos]...)
	for s.pos < len(s.b) {
		c := s.b[s.pos]
		switch {
		case c == '"':
			s.pos++
			return buf, nil
		case c < 0x20:
			return nil, s.errorf("control character in string")
		case c != '\\':
			buf = append(buf, c)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.b) {
			return nil, s.errorf("unterminated escape")
		}
		e := s.b[s.pos+1]
		s.pos += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, err := s.hex4()
			if err != nil {
				return nil, err
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if s.pos+1 < len(s.b) && s.b[s.pos] == '\\' && s.b[s.pos+1] == 'u' {
					save := s.pos
					s.pos += 2
					if r2, err = s.hex4(); err != nil {
						return nil, err
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
					} else {
						s.pos = save
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return nil, s.errorf("invalid escape \\%c", e)
		}
	}
	return nil, s.errorf("unterminated string")
}

// str reads a JSON string. Without escapes the result is a substring of
// s.src when set (one allocation for a whole vocabulary).
func (s *scanner) str() (string, error) {
	b, err := s.strBytes()
	if err != nil {
		return "", err
	}
	if s.src != "" && s.aliased >= 0 {
		return s.src[s.aliased : s.aliased+len(b)], nil
	}
	return string(b), nil
}

// skip steps over one JSON value without decoding it.
func (s *scanner) skip() error {
	switch c := s.peek(); c {
	case '"':
		_, err := s.strBytes()
		return err
	case '{', '[':
		depth := 0
		for s.pos < len(s.b) {
			switch s.b[s.pos] {
			case '"':
				if _, err := s.strBytes(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.pos++
					return nil
				}
			}
			s.pos++
		}
		return s.errorf("unterminated %c", c)
	case 0:
		return s.errorf("expected a value, found end of input")
	default:
		start := s.pos
		for s.pos < len(s.b) {
			switch s.b[s.pos] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if s.pos == start {
					return s.errorf("expected a value")
				}
				return nil
			}
			s.pos++
		}
		return nil
	}
}

// members splits a JSON object into its members' raw values.
func members(b []byte) (map[string]json.RawMessage, error) {
	s := &scanner{b: b}
	if err := s.expect('{'); err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	if s.peek() == '}' {
		s.pos++
		return out, s.end()
	}
	for {
		k, err := s.str()
		if err != nil {
			return nil, err
		}
		if err := s.expect(':'); err != nil {
			return nil, err
		}
		s.ws()
		start := s.pos
		if err := s.skip(); err != nil {
			return nil, fmt.Errorf("member %q: %w", k, err)
		}
		out[k] = json.RawMessage(b[start:s.pos])
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return out, s.end()
		default:
			return nil, s.errorf("expected ',' or '}' after member %q", k)
		}
	}
}

func (s *scanner) hex4() (rune, error) {
	if s.pos+4 > len(s.b) {
		return 0, s.errorf("short \\u escape")
	}
	v, err := strconv.ParseUint(string(s.b[s.pos:s.pos+4]), 16, 32)
	if err != nil {
		return 0, s.errorf("bad \\u escape %q", s.b[s.pos:s.pos+4])
	}
	s.pos += 4
	return rune(v), nil
}

// uint32 reads a non-negative integer that fits in 31 bits (token ids are int32).
func (s *scanner) id() (int32, error) {
	s.ws()
	start := s.pos
	var v int64
	for s.pos < len(s.b) && s.b[s.pos] >= '0' && s.b[s.pos] <= '9' {
		v = v*10 + int64(s.b[s.pos]-'0')
		if v > 1<<31-1 {
			return 0, s.errorf("token id too large")
		}
		s.pos++
	}
	if s.pos == start {
		return 0, s.errorf("expected a token id (non-negative integer)")
	}
	if s.pos < len(s.b) && (s.b[s.pos] == '.' || s.b[s.pos] == 'e' || s.b[s.pos] == 'E') {
		return 0, s.errorf("token id is not an integer")
	}
	return int32(v), nil
}

// parseVocab reads {"token": id, ...}. Later duplicates replace earlier ones,
// as serde does when it builds a HashMap.
func parseVocab(b []byte) (map[string]int32, error) {
	s := &scanner{b: b, src: string(b)}
	if err := s.expect('{'); err != nil {
		return nil, err
	}
	m := make(map[string]int32, len(b)/16)
	if s.peek() == '}' {
		s.pos++
		return m, s.end()
	}
	for {
		k, err := s.str()
		if err != nil {
			return nil, err
		}
		if err := s.expect(':'); err != nil {
			return nil, err
		}
		v, err := s.id()
		if err != nil {
			return nil, fmt.Errorf("token %q: %w", k, err)
		}
		m[k] = v
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return m, s.end()
		default:
			return nil, s.errorf("expected ',' or '}' in vocab")
		}
	}
}

// mergeSink receives each merge as it is read; the byte slices alias the
// input when the strings have no escapes.
type mergeSink func(i int, a, b []byte) error

// parseMerges reads the merges list in either form; a "#version" line of
// the legacy form is skipped as Hugging Face does.
func parseMerges(b []byte, sink mergeSink) error {
	s := &scanner{b: b}
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.pos++
		return s.end()
	}
	n := 0
	for {
		switch s.peek() {
		case '"':
			line, err := s.strBytes()
			if err != nil {
				return err
			}
			if bytes.HasPrefix(line, []byte("#version")) {
				break
			}
			a, b, ok := splitMergeLine(line)
			if !ok {
				return fmt.Errorf("merge %d (%q) is not two tokens separated by one space", n+1, line)
			}
			if err := sink(n, a, b); err != nil {
				return err
			}
			n++
		case '[':
			s.pos++
			a, err := s.strBytes()
			if err != nil {
				return fmt.Errorf("merge %d: %w", n+1, err)
			}
			if err := s.expect(','); err != nil {
				return fmt.Errorf("merge %d: %w", n+1, err)
			}
			b, err := s.strBytes()
			if err != nil {
				return fmt.Errorf("merge %d: %w", n+1, err)
			}
			if err := s.expect(']'); err != nil {
				return fmt.Errorf("merge %d: a pair must have exactly two tokens: %w", n+1, err)
			}
			if err := sink(n, a, b); err != nil {
				return err
			}
			n++
		default:
			return s.errorf("merge %d: expected a string or a pair", n+1)
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return s.end()
		default:
			return s.errorf("expected ',' or ']' in merges")
		}
	}
}

// splitMergeLine splits "a b" into exactly two parts on the single space.
func splitMergeLine(line []byte) ([]byte, []byte, bool) {
	i := -1
	for j := 0; j < len(line); j++ {
		if line[j] == ' ' {
			if i >= 0 {
				return nil, nil, false
			}
			i = j
		}
	}
	if i < 0 {
		return nil, nil, false
	}
	return line[:i], line[i+1:], true
}

func (s *scanner) end() error {
	if s.peek() != 0 {
		return s.errorf("unexpected data after value")
	}
	return nil
}
