package generate

import (
	"strings"
	"unicode/utf8"
)

// TokenSource is the part of a tokenizer that TokenBytes reads
// (*tokenizer.Tokenizer has it).
type TokenSource interface {
	VocabSize() int
	Token(id int32) string
	Decode(ids []int32, skipSpecial bool) string
	IsSpecial(id int32) bool
}

// byteLevelInv maps GPT-2's byte-level characters back to bytes.
var byteLevelInv = func() map[rune]byte {
	m := map[rune]byte{}
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			m[rune(b)] = byte(b)
		} else {
			m[rune(256+n)] = byte(b)
			n++
		}
	}
	return m
}()

// TokenBytes returns the bytes each token of t contributes to decoded text,
// nil for special tokens and tokens it cannot place. A token of a
// byte-level vocabulary (Llama 3, Qwen, GPT-2) maps character by character
// back to its bytes, partial UTF-8 sequences included; a byte-fallback
// token <0xNN> is its byte; any other token is what it adds when decoded
// after a plain token (so a SentencePiece "▁word" keeps its space).
func TokenBytes(t TokenSource) [][]byte {
	n := t.VocabSize()
	out := make([][]byte, n)
	ref := int32(-1) // a token decoding to one ASCII letter
	for id := int32(0); id < int32(n) && ref < 0; id++ {
		if d := t.Decode([]int32{id}, false); len(d) == 1 && d[0] >= 'a' && d[0] <= 'z' && !t.IsSpecial(id) {
			ref = id
		}
	}
	refText := ""
	if ref >= 0 {
		refText = t.Decode([]int32{ref}, false)
	}
	for id := int32(0); id < int32(n); id++ {
		s := t.Token(id)
		if s == "" || t.IsSpecial(id) {
			continue
		}
		d := t.Decode([]int32{id}, false)
		if b, ok := byteLevel(s); ok && strings.ToValidUTF8(string(b), "\uFFFD") == strings.ToValidUTF8(d, "\uFFFD") && (utf8.Valid(b) || strings.ContainsRune(d, utf8.RuneError)) {
			out[id] = b
			continue
		}
		if len(s) == 6 && strings.HasPrefix(s, "<0x") && s[5] == '>' {
			if hi, ok1 := hexVal(s[3]); ok1 {
				if lo, ok2 := hexVal(s[4]); ok2 {
					out[id] = []byte{byte(hi<<4 | lo)}
					continue
				}
			}
		}
		if ref >= 0 {
			d = strings.TrimPrefix(t.Decode([]int32{ref, id}, false), refText)
		}
		if d != "" && !strings.ContainsRune(d, utf8.RuneError) {
			out[id] = []byte(d)
		}
	}
	return out
}

func byteLevel(s string) ([]byte, bool) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		c, ok := byteLevelInv[r]
		if !ok {
			return nil, false
		}
		b = append(b, c)
	}
	return b, true
}
