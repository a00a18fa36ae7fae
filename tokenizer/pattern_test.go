package tokenizer

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// matches lists the match ranges of p in s.
func matches(p pattern, s string) [][2]int {
	var out [][2]int
	p.find(s, func(a, b int) { out = append(out, [2]int{a, b}) })
	return out
}

// pieces lists the matched substrings.
func pieces(p pattern, s string) []string {
	var out []string
	for _, m := range matches(p, s) {
		out = append(out, s[m[0]:m[1]])
	}
	return out
}

func TestHandWrittenPatterns(t *testing.T) {
	llama3 := cl100kPattern{maxDigits: 3}
	qwen := cl100kPattern{maxDigits: 1}
	gpt2 := gpt2Pattern{}
	for _, c := range []struct {
		name string
		p    pattern
		in   string
		want []string
	}{
		{"llama3", llama3, "Hello world", []string{"Hello", " world"}},
		{"llama3", llama3, "  leading spaces\tand\ttabs\n\nnew lines  ", []string{" ", " leading", " spaces", "\tand", "\ttabs", "\n\n", "new", " lines", "  "}},
		{"llama3", llama3, "I'm you're CAN'T 'Sup", []string{"I", "'m", " you", "'re", " CAN", "'T", " '", "Sup"}},
		{"llama3", llama3, "12345678", []string{"123", "456", "78"}},
		{"llama3", llama3, "x ** 2  # sq", []string{"x", " **", " ", "2", " ", " #", " sq"}},
		{"llama3", llama3, "a.\n\n  b", []string{"a", ".\n\n", " ", " b"}},
		{"llama3", llama3, "a \n b", []string{"a", " \n", " b"}},
		{"llama3", llama3, "$abc", []string{"$abc"}},
		{"llama3", llama3, "x'ſ", []string{"x", "'ſ"}},
		{"llama3", llama3, "\xff\xfeab", []string{"\xff\xfe", "ab"}},
		{"llama3", llama3, "\xffab", []string{"\xffab"}},
		{"qwen", qwen, "abc 123", []string{"abc", " ", "1", "2", "3"}},
		{"gpt2", gpt2, "Hello  world's 42!!\n", []string{"Hello", " ", " world", "'s", " 42", "!!", "\n"}},
		{"gpt2", gpt2, "'S ok", []string{"'", "S", " ok"}},
		{"gpt2", gpt2, "a  ", []string{"a", "  "}},
	} {
		if got := pieces(c.p, c.in); !slices.Equal(got, c.want) {
			t.Errorf("%s.find(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

// randomText draws strings that exercise every alternative of the known
// regexes: letters of several scripts, digits, spaces, newlines,
// apostrophes and contractions, punctuation, marks and invalid bytes.
func randomText(rng *rand.Rand, n int) string {
	parts := []string{"a", "Z", "é", "ß", "東", "я", "ـ", "1", "٣", "Ⅻ", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000",
		"'", "'s", "'S", "'re", "'LL", "'ve", "'d", "'m", "'t", "!", ".", "$", "🙂", "\u0301", "\u200b", "_", "-", "\xff", "\xe2\x82"}
	var sb strings.Builder
	for range n {
		sb.WriteString(parts[rng.IntN(len(parts))])
	}
	return sb.String()
}

// TestPatternsAgainstRegexp2 checks each hand-written matcher against the
// general regex engine on random text. The text leaves out U+017F (ſ),
// which Oniguruma's case folding (and so Hugging Face, and the matchers)
// treats as s under (?i) and regexp2 does not.
func TestPatternsAgainstRegexp2(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, src := range []string{llama3Regex, qwen2Regex, gpt2Regex} {
		fast, err := compileRegex(src)
		if err != nil {
			t.Fatal(err)
		}
		re, err := compileRegexp2(src)
		if err != nil {
			t.Fatal(err)
		}
		slow := &regexPattern{re: re, src: src}
		for range 3000 {
			s := randomText(rng, rng.IntN(24))
			if !utf8.ValidString(s) {
				continue // regexp2 sees U+FFFD (3 bytes) where the matchers see one byte
			}
			if got, want := matches(fast, s), matches(slow, s); !slices.Equal(got, want) {
				t.Fatalf("regex %.20q...: find(%q) = %v, regexp2 says %v", src, s, got, want)
			}
		}
	}
}

func FuzzPatterns(f *testing.F) {
	for _, s := range []string{"Hello world", "  a\n\n b", "I'm 12345 'S", "\xff\xfe", "🙂🙂 x"} {
		f.Add(s)
	}
	pats := []struct {
		src  string
		fast pattern
		slow pattern
	}{}
	for _, src := range []string{llama3Regex, qwen2Regex, gpt2Regex} {
		fast, err := compileRegex(src)
		if err != nil {
			f.Fatal(err)
		}
		if _, generic := fast.(*regexPattern); generic {
			f.Fatalf("compileRegex(%.16q) = the regexp2 pattern, want the fast matcher (else the fuzz compares regexp2 with itself)", src)
		}
		re, err := compileRegexp2(src)
		if err != nil {
			f.Fatal(err)
		}
		pats = append(pats, struct {
			src  string
			fast pattern
			slow pattern
		}{src, fast, &regexPattern{re: re, src: src}})
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range pats {
			got := matches(p.fast, s)
			// Matches tile the string.
			pos := 0
			for _, m := range got {
				if m[0] != pos || m[1] <= m[0] {
					t.Fatalf("find(%q) = %v: not a tiling", s, got)
				}
				pos = m[1]
			}
			if pos != len(s) {
				t.Fatalf("find(%q) = %v: ends at %d of %d", s, got, pos, len(s))
			}
			if utf8.ValidString(s) && !strings.ContainsRune(s, 'ſ') {
				if want := matches(p.slow, s); !slices.Equal(got, want) {
					t.Fatalf("%s: find(%q) = %v, regexp2 says %v", fmt.Sprintf("%.16q", p.src), s, got, want)
				}
			}
		}
	})
}
