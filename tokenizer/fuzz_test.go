package tokenizer

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// lossless reports whether decode(encode(s)) == s must hold for the
// reference tokenizer named dir on the valid UTF-8 string s.
func lossless(dir, s string) bool {
	switch filepath.Base(dir) {
	case "llama3", "trained-bytelevel":
		return true // byte-level, no normalizer
	case "qwen3":
		return norm.NFC.IsNormalString(s) && !strings.Contains(s, "<")
	case "llama2", "trained-spm":
		// "▁" decodes to a space; added tokens get the ▁ prefix after them.
		return !strings.ContainsRune(s, '▁') && !strings.Contains(s, "<")
	}
	return false
}

// FuzzTokenizers encodes arbitrary bytes with every reference tokenizer:
// no panic, offsets inside the text, the fast and general paths agree, and
// decode(encode(s)) == s where the tokenizer is lossless.
func FuzzTokenizers(f *testing.F) {
	dirs := tokenizerDirs(f)
	for _, dir := range dirs {
		for _, rows := range readRows(f, dir) {
			for _, r := range rows {
				f.Add(r.Text)
			}
		}
	}
	f.Add("\xff\xfe\xc3 invalid \xe2\x82")
	f.Add(strings.Repeat("a", 300) + " " + strings.Repeat("🙂", 100))
	var once sync.Once
	var tks []*Tokenizer
	f.Fuzz(func(t *testing.T, s string) {
		once.Do(func() {
			for _, dir := range dirs {
				tks = append(tks, loadShared(t, dir))
			}
		})
		for i, tk := range tks {
			ids := tk.Encode(s, true)
			ids2, offs := tk.EncodeOffsets(s, true)
			if !slices.Equal(ids, ids2) || len(offs) != len(ids) {
				t.Fatalf("%s: EncodeOffsets(%q) = %v, Encode = %v", dirs[i], s, ids2, ids)
			}
			for _, o := range offs {
				if o[0] < 0 || o[1] < o[0] || o[1] > len(s) {
					t.Fatalf("%s: EncodeOffsets(%q): offset %v outside the text", dirs[i], s, o)
				}
			}
			if tk.fast != nil {
				if slow := tk.withoutFastPath().Encode(s, true); !slices.Equal(slow, ids) {
					t.Fatalf("%s: Encode(%q): fast path %v, general path %v", dirs[i], s, ids, slow)
				}
			}
			plain := tk.Encode(s, false)
			dec := tk.Decode(plain, false)
			if utf8.ValidString(s) && lossless(dirs[i], s) && dec != s {
				t.Fatalf("%s: Decode(Encode(%q)) = %q", dirs[i], s, dec)
			}
			_ = tk.Decode(ids, true)
		}
	})
}

// TestHugeInputs encodes long inputs without separators (one enormous
// word) and with many separators, in every reference tokenizer.
func TestHugeInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	inputs := []string{
		strings.Repeat("x", 1<<18),
		strings.Repeat(" ", 1<<18),
		strings.Repeat("\xff", 1<<16),
		strings.Repeat("ab 12 ", 1<<15),
	}
	for _, dir := range tokenizerDirs(t) {
		tk := loadShared(t, dir)
		for _, s := range inputs {
			ids := tk.Encode(s, false)
			if len(ids) == 0 {
				t.Errorf("%s: Encode(%d bytes of %q...) returned no ids", filepath.Base(dir), len(s), s[:4])
			}
			if utf8.ValidString(s) && lossless(dir, s) {
				if got := tk.Decode(ids, false); got != s {
					t.Errorf("%s: Decode(Encode(%d bytes of %q...)) differs", filepath.Base(dir), len(s), s[:4])
				}
			}
		}
	}
}

// TestConcurrentEncode checks that concurrent use gives the sequential
// results (run with -race to check the word cache).
func TestConcurrentEncode(t *testing.T) {
	dirs := tokenizerDirs(t)
	tk := loadShared(t, dirs[0])
	var texts []string
	for _, rows := range readRows(t, dirs[0]) {
		for _, r := range rows {
			texts = append(texts, r.Text)
		}
	}
	texts = append(texts, prose(t, 1<<14))
	want := make([][]int32, len(texts))
	for i, s := range texts {
		want[i] = tk.Encode(s, true)
	}
	for range 3 {
		tk.model.cache = newWordCache()
		got := tk.EncodeBatch(slices.Concat(texts, texts, texts, texts), true)
		for i, g := range got {
			if !slices.Equal(g, want[i%len(texts)]) {
				t.Fatalf("EncodeBatch: text %d = %v, want %v", i, g, want[i%len(texts)])
			}
		}
	}
}
