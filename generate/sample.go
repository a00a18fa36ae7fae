package generate

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Processor edits the logits of the next token in place, given the tokens
// so far (prompt and generated). Setting a logit to -Inf forbids a token.
type Processor interface {
	Process(tokens []int32, logits []float32)
}

// RepetitionPenalty is transformers' RepetitionPenaltyLogitsProcessor: the
// logit of every token already present is divided by Penalty when positive
// and multiplied by it when negative.
type RepetitionPenalty struct{ Penalty float32 }

// Process applies the penalty.
func (r RepetitionPenalty) Process(tokens []int32, logits []float32) {
	if r.Penalty == 1 || r.Penalty == 0 {
		return
	}
	seen := make(map[int32]bool, len(tokens))
	for _, t := range tokens {
		if seen[t] || int(t) >= len(logits) || t < 0 {
			continue
		}
		seen[t] = true
		if logits[t] > 0 {
			logits[t] /= r.Penalty
		} else {
			logits[t] *= r.Penalty
		}
	}
}

// Sampler chooses the next token from logits.
type Sampler struct {
	Temperature float64 // 0 or less: greedy
	TopK        int     // 0: off
	TopP        float64 // 0 or >= 1: off
	rng         *rand.Rand
	probs       []float64
	idx         []int
}

// NewSampler returns a sampler whose random choices are determined by seed.
func NewSampler(temperature float64, topK int, topP float64, seed uint64) *Sampler {
	return &Sampler{Temperature: temperature, TopK: topK, TopP: topP,
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Argmax returns the index of the largest logit, the first one on ties (as
// torch.argmax does). A row of only -Inf or NaN returns 0.
func Argmax(logits []float32) int32 {
	best := 0
	bv := float32(math.Inf(-1))
	for i, v := range logits {
		if v > bv {
			best, bv = i, v
		}
	}
	return int32(best)
}

// Sample chooses a token: the argmax when greedy, otherwise a draw from the
// softmax of logits/Temperature restricted to the top-k tokens and then to
// the smallest set whose probability reaches top-p.
func (s *Sampler) Sample(logits []float32) int32 {
	if s.Temperature <= 0 {
		return Argmax(logits)
	}
	n := len(logits)
	if cap(s.idx) < n {
		s.idx = make([]int, n)
		s.probs = make([]float64, n)
	}
	idx := s.idx[:n]
	for i := range idx {
		idx[i] = i
	}
	k := n
	if s.TopK > 0 && s.TopK < n {
		k = s.TopK
	}
	// order candidates by logit, descending (stable on ties: lower id first)
	sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
	idx = idx[:k]
	maxv := float64(logits[idx[0]]) / s.Temperature
	if math.IsInf(maxv, -1) || math.IsNaN(maxv) {
		return int32(idx[0])
	}
	probs := s.probs[:k]
	var sum float64
	for i, j := range idx {
		p := math.Exp(float64(logits[j])/s.Temperature - maxv)
		probs[i] = p
		sum += p
	}
	if s.TopP > 0 && s.TopP < 1 {
		var cum float64
		for i := range probs {
			cum += probs[i] / sum
			if cum >= s.TopP {
				k = i + 1
				break
			}
		}
		idx, probs = idx[:k], probs[:k]
		sum = 0
		for _, p := range probs {
			sum += p
		}
	}
	r := s.rng.Float64() * sum
	for i, p := range probs {
		r -= p
		if r < 0 {
			return int32(idx[i])
		}
	}
	return int32(idx[len(idx)-1])
}
