package generate

import (
	"math/rand/v2"
	"testing"

	"hone/internal/shared"
	"hone/tokenizer"
)

// detokText mixes what byte fallback, byte-level BPE and SentencePiece's
// spaces must all get right: accents, CJK, emoji (4-byte and joined),
// newlines, repeated spaces, code and a leading space.
const detokText = " Once upon a time, a café in Zürich served 東京の寿司 and 🍣🍣 to 👩‍👩‍👧 families.\n\n" +
	"  def f(x):\n\treturn x**2  # squares\n{\"name\": \"Ωmega\", \"n\": 42}\nThe end. Fin — ¿qué? ¡Sí!"

// TestDetokenizer feeds the tokens of a text, and random tokens, one at a
// time to a Detokenizer for every tokenizer in ../shared/tokenizers, and
// checks each text against decoding the whole list.
func TestDetokenizer(t *testing.T) {
	for _, name := range []string{"llama2", "llama3", "qwen3", "trained-bytelevel", "trained-spm"} {
		t.Run(name, func(t *testing.T) {
			tok, err := tokenizer.Load(shared.Path(t, "tokenizers/"+name))
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			random := make([]int32, 300)
			for i := range random {
				random[i] = int32(r.IntN(tok.VocabSize()))
			}
			for _, ids := range [][]int32{tok.Encode(detokText, false), random} {
				d := Detokenizer{Dec: tok}
				for n := 1; n <= len(ids); n++ {
					got, want := d.Text(ids[:n]), tok.Decode(ids[:n], true)
					if got != want {
						t.Fatalf("after %d tokens: %q, want %q", n, got, want)
					}
				}
			}
		})
	}
}

// BenchmarkDetokenizer is the cost a token of following a 2048-token
// generation with Llama 3's tokenizer: incrementally, and by decoding the
// whole list each time as generation did before.
func BenchmarkDetokenizer(b *testing.B) {
	tok, err := tokenizer.Load(shared.Path(b, "tokenizers/llama3"))
	if err != nil {
		b.Fatal(err)
	}
	var ids []int32
	for len(ids) < 2048 {
		ids = append(ids, tok.Encode(detokText, false)...)
	}
	ids = ids[:2048]
	b.Run("incremental", func(b *testing.B) {
		for b.Loop() {
			d := Detokenizer{Dec: tok}
			for n := 1; n <= len(ids); n++ {
				d.Text(ids[:n])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/2048/1000, "µs/token")
	})
	b.Run("whole", func(b *testing.B) {
		for b.Loop() {
			for n := 1; n <= len(ids); n++ {
				tok.Decode(ids[:n], true)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/2048/1000, "µs/token")
	})
}
