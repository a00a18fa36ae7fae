package tokenizer

import (
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
	pos int
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

// str reads a JSON string, decoding escapes.
func (s *scanner) str() (string, error) {
	if err := s.expect('"'); err != nil {
		return "", err
	}
	start := s.pos
	// Fast path: no escapes.
	for s.pos < len(s.b) {
		c := s.b[s.pos]
		if c == '"' {
			v := string(s.b[start:s.pos])
			s.pos++
			return v, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		s.pos++
	}
	buf := append([]byte(nil), s.b[start:s.pos]...)
	for s.pos < len(s.b) {
		c := s.b[s.pos]
		switch {
		case c == '"':
			s.pos++
			return string(buf), nil
		case c < 0x20:
			return "", s.errorf("control character in string")
		case c != '\\':
			buf = append(buf, c)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.b) {
			return "", s.errorf("unterminated escape")
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
				return "", err
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if s.pos+1 < len(s.b) && s.b[s.pos] == '\\' && s.b[s.pos+1] == 'u' {
					save := s.pos
					s.pos += 2
					if r2, err = s.hex4(); err != nil {
						return "", err
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
			return "", s.errorf("invalid escape \\%c", e)
		}
	}
	return "", s.errorf("unterminated string")
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
	s := &scanner{b: b}
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

// parseMerges reads the merges list in either form; a "#version" line of
// the legacy form is skipped as Hugging Face does.
func parseMerges(b []byte) ([][2]string, error) {
	s := &scanner{b: b}
	if err := s.expect('['); err != nil {
		return nil, err
	}
	var out [][2]string
	if s.peek() == ']' {
		s.pos++
		return out, s.end()
	}
	for {
		switch s.peek() {
		case '"':
			line, err := s.str()
			if err != nil {
				return nil, err
			}
			if len(line) >= 8 && line[:8] == "#version" {
				break
			}
			a, b, ok := splitMergeLine(line)
			if !ok {
				return nil, fmt.Errorf("merge %d (%q) is not two tokens separated by one space", len(out)+1, line)
			}
			out = append(out, [2]string{a, b})
		case '[':
			s.pos++
			a, err := s.str()
			if err != nil {
				return nil, fmt.Errorf("merge %d: %w", len(out)+1, err)
			}
			if err := s.expect(','); err != nil {
				return nil, fmt.Errorf("merge %d: %w", len(out)+1, err)
			}
			b, err := s.str()
			if err != nil {
				return nil, fmt.Errorf("merge %d: %w", len(out)+1, err)
			}
			if err := s.expect(']'); err != nil {
				return nil, fmt.Errorf("merge %d: a pair must have exactly two tokens: %w", len(out)+1, err)
			}
			out = append(out, [2]string{a, b})
		default:
			return nil, s.errorf("merge %d: expected a string or a pair", len(out)+1)
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return out, s.end()
		default:
			return nil, s.errorf("expected ',' or ']' in merges")
		}
	}
}

// splitMergeLine splits "a b" into exactly two parts on the single space.
func splitMergeLine(line string) (string, string, bool) {
	i := -1
	for j := 0; j < len(line); j++ {
		if line[j] == ' ' {
			if i >= 0 {
				return "", "", false
			}
			i = j
		}
	}
	if i < 0 {
		return "", "", false
	}
	return line[:i], line[i+1:], true
}

func (s *scanner) end() error {
	if s.peek() != 0 {
		return s.errorf("unexpected data after value")
	}
	return nil
}
