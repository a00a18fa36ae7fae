package generate

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
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

// TestPenalties: OpenAI's presence and frequency penalties count the
// generated tokens only, and chain after the repetition penalty.
func TestPenalties(t *testing.T) {
	// prompt 0 0 3, then generated 1 1 1 2
	tokens := []int32{0, 0, 3, 1, 1, 1, 2}
	l := []float32{1, 1, 1, 1}
	Penalties{Presence: 0.5, Frequency: 0.25, Prompt: 3}.Process(tokens, l)
	want := []float32{1, 1 - 0.5 - 0.75, 1 - 0.5 - 0.25, 1}
	if !slices.Equal(l, want) {
		t.Errorf("penalised logits = %v, want %v", l, want)
	}
	// negative values favour repetition; a prompt as long as the tokens
	// leaves the logits alone
	l = []float32{0, 0, 0, 0}
	Penalties{Presence: -1, Prompt: 3}.Process(tokens, l)
	if want := []float32{0, 1, 1, 0}; !slices.Equal(l, want) {
		t.Errorf("negative presence: %v, want %v", l, want)
	}
	l = []float32{1, 1, 1, 1}
	Penalties{Presence: 1, Frequency: 1, Prompt: len(tokens)}.Process(tokens, l)
	if want := []float32{1, 1, 1, 1}; !slices.Equal(l, want) {
		t.Errorf("no generated tokens: %v, want %v", l, want)
	}
	l = []float32{2, 2, 2, 2}
	Chain{RepetitionPenalty{2}, Penalties{Frequency: 1, Prompt: 3}}.Process(tokens, l)
	// repetition: every token present (0..3) halved to 1; then token 1 -3, token 2 -1
	if want := []float32{1, -2, 0, 1}; !slices.Equal(l, want) {
		t.Errorf("chained: %v, want %v", l, want)
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

// sampleDist is the distribution Sampler draws from, computed the plain
// way: every token sorted by logit (descending, lower id first on ties),
// the top k kept, softmax over them, the smallest prefix whose share
// reaches top-p kept and renormalised.
func sampleDist(logits []float32, temp float64, topK int, topP float64) []float64 {
	n := len(logits)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
	if topK > 0 && topK < n {
		idx = idx[:topK]
	}
	maxv := float64(logits[idx[0]]) / temp
	probs := make([]float64, len(idx))
	var sum float64
	for i, j := range idx {
		probs[i] = math.Exp(float64(logits[j])/temp - maxv)
		sum += probs[i]
	}
	if topP > 0 && topP < 1 {
		var cum float64
		for i := range probs {
			cum += probs[i] / sum
			if cum >= topP {
				idx, probs = idx[:i+1], probs[:i+1]
				break
			}
		}
		sum = 0
		for _, p := range probs {
			sum += p
		}
	}
	dist := make([]float64, n)
	for i, j := range idx {
		dist[j] = probs[i] / sum
	}
	return dist
}

// TestSamplerDistribution draws many tokens from random logits (with ties
// and forbidden tokens) under temperature, top-k and top-p, and checks
// the frequencies against sampleDist: no token outside its support, and
// each frequency within five standard deviations of its probability.
func TestSamplerDistribution(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	logits := make([]float32, 1000)
	for i := range logits {
		logits[i] = float32(math.Round(r.NormFloat64()*20) / 8) // ties
	}
	for i := 0; i < len(logits); i += 97 {
		logits[i] = float32(math.Inf(-1))
	}
	const draws = 20000
	for _, c := range []struct {
		temp float64
		k    int
		p    float64
	}{{1, 0, 0}, {0.5, 0, 0}, {1, 20, 0}, {0.7, 0, 0.9}, {1.3, 0, 0.5}, {1, 40, 0.8}, {2, 1000, 0.99}} {
		want := sampleDist(logits, c.temp, c.k, c.p)
		s := NewSampler(c.temp, c.k, c.p, 9)
		got := make([]int, len(logits))
		for range draws {
			got[s.Sample(logits)]++
		}
		for i, p := range want {
			f := float64(got[i]) / draws
			if p == 0 && got[i] > 0 {
				t.Fatalf("T %v k %d p %v: token %d (logit %v) drawn %d times, outside the support", c.temp, c.k, c.p, i, logits[i], got[i])
			}
			if sd := math.Sqrt(p * (1 - p) / draws); math.Abs(f-p) > 5*sd+1e-4 {
				t.Errorf("T %v k %d p %v: token %d drawn %.4f of the time, want %.4f", c.temp, c.k, c.p, i, f, p)
			}
		}
	}
}

// BenchmarkSample draws from random logits of SmolLM2's vocabulary (49152)
// under the usual settings.
func BenchmarkSample(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, 49152)
	for i := range logits {
		logits[i] = float32(r.NormFloat64() * 3)
	}
	for _, c := range []struct {
		name string
		temp float64
		k    int
		p    float64
	}{{"T0.7", 0.7, 0, 0}, {"T0.7-k40", 0.7, 40, 0}, {"T0.7-p0.9", 0.7, 0, 0.9}, {"T1-k50-p0.95", 1, 50, 0.95}} {
		b.Run(c.name, func(b *testing.B) {
			s := NewSampler(c.temp, c.k, c.p, 1)
			for b.Loop() {
				s.Sample(logits)
			}
		})
	}
}

// TestSamplerEdges: an empty row, a row of only -Inf, and one finite logit
// among forbidden ones, under every setting.
func TestSamplerEdges(t *testing.T) {
	ninf := float32(math.Inf(-1))
	for _, s := range []*Sampler{NewSampler(1, 0, 0, 1), NewSampler(1, 2, 0, 1), NewSampler(1, 0, 0.9, 1), NewSampler(0.5, 3, 0.5, 1)} {
		if got := s.Sample(nil); got != 0 {
			t.Errorf("empty row: %d, want 0", got)
		}
		if got := s.Sample([]float32{ninf, ninf}); got != 0 {
			t.Errorf("only -Inf: %d, want 0", got)
		}
		for range 20 {
			if got := s.Sample([]float32{ninf, ninf, 3, ninf, float32(math.NaN())}); got != 2 {
				t.Fatalf("one finite logit: drew %d, want 2", got)
			}
		}
	}
}
