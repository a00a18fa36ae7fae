package generate

import (
	"context"
	"math"
	"strings"
	"testing"

	"hone/compute/ref"
	"hone/model"
)

func TestArgmaxFirstOnTies(t *testing.T) {
	if got := Argmax([]float32{1, 3, 3, 2}); got != 1 {
		t.Errorf("Argmax = %d, want 1 (the first maximum)", got)
	}
}

func TestRepetitionPenalty(t *testing.T) {
	l := []float32{2, -2, 1}
	RepetitionPenalty{2}.Process([]int32{0, 1, 1}, l)
	want := []float32{1, -4, 1}
	for i := range l {
		if l[i] != want[i] {
			t.Fatalf("penalised logits = %v, want %v", l, want)
		}
	}
}

func TestSamplerTopKTopP(t *testing.T) {
	logits := []float32{5, 4, 3, -10, 2}
	// top-k 2: only tokens 0 and 1 are ever drawn
	s := NewSampler(1, 2, 0, 7)
	seen := map[int32]int{}
	for i := 0; i < 2000; i++ {
		seen[s.Sample(logits)]++
	}
	if len(seen) != 2 || seen[0] == 0 || seen[1] == 0 {
		t.Fatalf("top-k 2 drew %v", seen)
	}
	// the frequencies follow the softmax: p0/p1 = e
	if r := float64(seen[0]) / float64(seen[1]); math.Abs(r-math.E) > 0.35 {
		t.Errorf("top-k draws in ratio %.2f, want about e", r)
	}
	// top-p 0.5: token 0 alone has probability > 0.5, so it is always drawn
	s = NewSampler(1, 0, 0.5, 7)
	for i := 0; i < 200; i++ {
		if got := s.Sample(logits); got != 0 {
			t.Fatalf("top-p 0.5 drew %d, want only 0", got)
		}
	}
	// same seed, same draws
	a, b := NewSampler(1.3, 0, 0.95, 42), NewSampler(1.3, 0, 0.95, 42)
	for i := 0; i < 100; i++ {
		if a.Sample(logits) != b.Sample(logits) {
			t.Fatal("two samplers with one seed diverged")
		}
	}
	// temperature 0 is greedy
	if got := NewSampler(0, 0, 0, 1).Sample(logits); got != 0 {
		t.Errorf("greedy sample = %d, want 0", got)
	}
}

// letters decodes token i as the letter 'a'+i, and token 25 as an
// incomplete UTF-8 sequence that the next token completes.
type letters struct{}

func (letters) Decode(ids []int32, skip bool) string {
	var b []byte
	for _, id := range ids {
		switch id {
		case 25:
			b = append(b, 0xc3)
		case 24:
			b = append(b, 0xa9) // with 25 before it: é
		default:
			b = append(b, byte('a'+id%24))
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func TestStreamStopStringsAndUTF8(t *testing.T) {
	var out []string
	st := Stream{Stops: []string{"q", "xyz"}}
	for _, full := range []string{"ab", "abx", "abxy", "abxyz-q"} {
		d, done := st.Update(full)
		out = append(out, d)
		if done != (full == "abxyz-q") {
			t.Fatalf("Update(%q) done = %v", full, done)
		}
	}
	// the earliest stop string wins, whatever its place in the list
	if got := strings.Join(out, ""); got != "ab" || st.Text() != "ab" {
		t.Fatalf("streamed %q (text %q), want %q: nothing from the first stop string on", got, st.Text(), "ab")
	}
	st = Stream{}
	if d, _ := st.Update("a\uFFFD"); d != "a" {
		t.Fatalf("an incomplete character was streamed: %q", d)
	}
	d, _ := st.Update("aé")
	if d+st.Flush() != "é" {
		t.Fatalf("streamed %q, want %q", d, "é")
	}
}

func tiny() *model.Model {
	c := &model.Config{
		ModelType: "llama", Hidden: 16, Intermediate: 24, Layers: 1, Heads: 2, KVHeads: 1, HeadDim: 8,
		Vocab: 26, MaxPositions: 64, RMSEps: 1e-5, BOS: 1, EOS: []int{2}, Pad: -1,
		Rope: model.Rope{Theta: 10000, Type: "default", Factor: 1},
	}
	return model.New(c, model.Init(c, 0.5, 1))
}

// TestGenerateReproducibleAndStops: a seeded sampled generation repeats
// exactly; max tokens and stop tokens end it with the right reason.
func TestGenerateReproducibleAndStops(t *testing.T) {
	m := tiny()
	opt := Options{MaxTokens: 12, Temperature: 1, TopP: 0.9, Seed: 3}
	r1, err := Generate(context.Background(), ref.Engine{}, m, letters{}, []int32{1, 5}, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := Generate(context.Background(), ref.Engine{}, m, letters{}, []int32{1, 5}, opt, nil)
	if r1.Text != r2.Text || len(r1.Tokens) != 12 || r1.Reason != StopLength {
		t.Fatalf("runs differ or wrong length: %q (%d, %s) vs %q", r1.Text, len(r1.Tokens), r1.Reason, r2.Text)
	}
	// stop on the first token that greedy decoding would produce
	g, _ := Generate(context.Background(), ref.Engine{}, m, letters{}, []int32{1, 5}, Options{MaxTokens: 5}, nil)
	s, _ := Generate(context.Background(), ref.Engine{}, m, letters{}, []int32{1, 5}, Options{MaxTokens: 5, StopTokens: []int32{g.Tokens[1]}}, nil)
	if s.Reason != StopEOS || len(s.Tokens) != 1 {
		t.Fatalf("stop token: reason %s after %d tokens, want stop after 1", s.Reason, len(s.Tokens))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, ref.Engine{}, m, letters{}, []int32{1}, Options{MaxTokens: 5}, nil); err == nil {
		t.Fatal("a cancelled context did not stop generation")
	}
}
