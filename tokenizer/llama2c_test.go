package tokenizer

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"hone/internal/shared"
)

// llama2cEncode is a direct port of llama2.c's encode() (run.c), the
// reference the imported tokenizer must agree with: a dummy-prefix space,
// code points (bytes + 3 when a code point is not a piece), then merge the
// adjacent pair whose concatenation has the highest score, leftmost first.
func llama2cEncode(pieces []Llama2CPiece, text string) []int32 {
	lookup := map[string]int32{}
	for i, p := range pieces {
		if _, ok := lookup[p.Piece]; !ok {
			lookup[p.Piece] = int32(i)
		}
	}
	var toks []int32
	if text != "" {
		toks = append(toks, lookup[" "])
	}
	for i := 0; i < len(text); {
		_, w := utf8.DecodeRuneInString(text[i:])
		if id, ok := lookup[text[i:i+w]]; ok {
			toks = append(toks, id)
		} else {
			for k := i; k < i+w; k++ {
				toks = append(toks, int32(text[k])+3)
			}
		}
		i += w
	}
	for {
		best, bestID, bestIdx := float32(-1e10), int32(-1), -1
		for i := 0; i+1 < len(toks); i++ {
			s := pieces[toks[i]].Piece + pieces[toks[i+1]].Piece
			if id, ok := lookup[s]; ok && pieces[id].Score > best {
				best, bestID, bestIdx = pieces[id].Score, id, i
			}
		}
		if bestIdx < 0 {
			return toks
		}
		toks[bestIdx] = bestID
		toks = append(toks[:bestIdx+1], toks[bestIdx+2:]...)
	}
}

func stories(t testing.TB) (tokBin, golden string) {
	dir := shared.Path(t, "models", "stories260K")
	return filepath.Join(dir, "tok512.bin"), filepath.Join(dir, "golden-greedy-t0-n200.txt")
}

// TestLlama2CImport checks the imported tok512.bin against llama2.c's own
// algorithm on the model's reference text and on random strings, the
// decode round trip, and that Save/Load keeps it identical.
func TestLlama2CImport(t *testing.T) {
	binPath, goldenPath := stories(t)
	pieces, err := ReadLlama2C(binPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(pieces) != 512 {
		t.Fatalf("ReadLlama2C(tok512.bin) = %d pieces, want 512", len(pieces))
	}
	tk, err := FromLlama2C(binPath)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	if tk.VocabSize() != 512 {
		t.Errorf("VocabSize() = %d, want 512", tk.VocabSize())
	}
	if id, ok := tk.BOS(); !ok || id != 1 {
		t.Errorf("BOS() = %d, %v, want 1, true", id, ok)
	}
	if id, ok := tk.EOS(); !ok || id != 2 {
		t.Errorf("EOS() = %d, %v, want 2, true", id, ok)
	}

	// The reference text, line by line and whole; llama2.c starts the
	// generation from "Once upon a time" after BOS.
	texts := append(strings.Split(string(golden), "\n"), string(golden), "Once upon a time")
	// Random strings over the characters that matter: letters, spaces,
	// punctuation, characters outside the vocabulary (byte fallback).
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("abcdehilnostuwy TLO.,'!?\n\"éß東🙂\t")
	for range 400 {
		n := rng.IntN(40)
		var sb strings.Builder
		for range n {
			sb.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		texts = append(texts, sb.String())
	}
	saved := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := tk.Save(saved); err != nil {
		t.Fatal(err)
	}
	reloaded, err := Load(saved)
	if err != nil {
		t.Fatalf("Load(saved) = %v", err)
	}
	for _, s := range texts {
		want := llama2cEncode(pieces, s)
		got := tk.Encode(s, false)
		if !slices.Equal(got, want) {
			t.Errorf("Encode(%q) = %v, want llama2.c's %v", s, got, want)
			continue
		}
		if got2 := reloaded.Encode(s, true); !slices.Equal(got2, append([]int32{1}, want...)) {
			t.Errorf("after Save/Load: Encode(%q, true) = %v, want [1 %v]", s, got2, want)
		}
		if dec := tk.Decode(got, false); dec != s {
			t.Errorf("Decode(Encode(%q)) = %q", s, dec)
		}
	}
	again, err := reloaded.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(saved)
	if string(again) != string(first) {
		t.Errorf("Save of a reloaded tokenizer differs from the first save")
	}
}

func TestReadLlama2CErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"zero max", []byte{0, 0, 0, 0}, "not positive"},
		{"truncated", []byte{8, 0, 0, 0, 0, 0, 0, 0, 5}, "truncated header"},
		{"long piece", []byte{2, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 'a'}, "length 9"},
		{"too few", []byte{2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 'a'}, "1 pieces"},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
		if err := os.WriteFile(p, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := FromLlama2C(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("FromLlama2C(%s) = %v, want an error naming the file and containing %q", c.name, err, c.want)
		}
	}
}
