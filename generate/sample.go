package generate

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
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

// Penalties are OpenAI's presence and frequency penalties: the logit of
// every token generated so far (tokens from Prompt on; the prompt's tokens
// are not counted) is lowered by Presence once and by Frequency for each
// time it was generated, as in the OpenAI API and vLLM. Negative values
// favour repetition instead.
type Penalties struct {
	Presence, Frequency float32
	// Prompt is how many of the tokens given to Process are the prompt's.
	Prompt int
}

// Process applies the penalties.
func (p Penalties) Process(tokens []int32, logits []float32) {
	if (p.Presence == 0 && p.Frequency == 0) || p.Prompt >= len(tokens) {
		return
	}
	counts := make(map[int32]int, len(tokens)-p.Prompt)
	for _, t := range tokens[max(p.Prompt, 0):] {
		if t >= 0 && int(t) < len(logits) {
			counts[t]++
		}
	}
	for t, n := range counts {
		logits[t] -= p.Presence + p.Frequency*float32(n)
	}
}

// Chain applies its processors in order.
type Chain []Processor

// Process runs every processor of the chain.
func (c Chain) Process(tokens []int32, logits []float32) {
	for _, p := range c {
		p.Process(tokens, logits)
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
// torch.argmax does). A row of only -Inf or NaN returns 0. NaNs are
// skipped.
func Argmax(logits []float32) int32 { return argmax(logits) }

// argmaxGo is Argmax in plain Go: the reference for the vector kernels,
// and what runs where there are none.
func argmaxGo(logits []float32) int32 {
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
//
// Only the tokens that can be drawn are sorted: those whose scaled logit
// lies within a margin of the largest, the margin doubled until they hold
// the top k (then cut to them by a quickselect) or the top-p share of the
// probability (then narrowed by bisection); sorting every token of a 49k
// vocabulary took 16-19 ms a token, longer than decoding it. Without top-k
// or top-p every token is a candidate and the draw walks them in
// vocabulary order.
func (s *Sampler) Sample(logits []float32) int32 {
	if s.Temperature <= 0 {
		return Argmax(logits)
	}
	n := len(logits)
	if n == 0 {
		return 0
	}
	best := Argmax(logits)
	top := float64(logits[best])
	if math.IsInf(top, -1) || math.IsNaN(top) {
		return best
	}
	temp := s.Temperature
	maxv := top / temp
	if math.IsInf(maxv, 0) || math.IsNaN(maxv) {
		return best
	}
	k := n
	if s.TopK > 0 && s.TopK < n {
		k = s.TopK
	}
	topP := s.TopP > 0 && s.TopP < 1
	// weight returns a token's unnormalised probability; tokens more than
	// negligible below the largest (e^-60 of it) add nothing to a float64
	// sum that holds the largest's 1
	weight := func(l float32) float64 {
		v := float64(l)/temp - maxv
		if !(v >= -60) {
			return 0
		}
		return math.Exp(v)
	}
	if k == n && !topP {
		// plain temperature: every token, in vocabulary order
		if cap(s.probs) < n {
			s.probs = make([]float64, n)
		}
		ws := s.probs[:n]
		var sum float64
		for i, l := range logits {
			ws[i] = weight(l)
			sum += ws[i]
		}
		r := s.rng.Float64() * sum
		last := best
		for i, w := range ws {
			if w == 0 {
				continue
			}
			last = int32(i)
			r -= w
			if r < 0 {
				return int32(i)
			}
		}
		return last
	}
	// the share of the probability the candidates must hold: top-p of all
	// tokens' when there is no top-k (with a top-k, top-p applies within
	// the top k, which the count condition already covers)
	var need float64
	if topP && k == n {
		for _, l := range logits {
			need += weight(l)
		}
		need *= s.TopP
	}
	idx := s.idx[:0]
	margin := 4.0
	for ; ; margin *= 2 {
		idx = idx[:0]
		var mass float64
		finite := 0
		for i, l := range logits {
			v := float64(l) / temp
			if math.IsInf(v, -1) || math.IsNaN(v) {
				continue
			}
			finite++
			if v >= maxv-margin {
				idx = append(idx, i)
				if need > 0 {
					mass += weight(l)
				}
			}
		}
		// with a top-k the top k suffice (top-p then applies within
		// them); without, the top-p share of the probability does
		if len(idx) == finite || k < n && len(idx) >= k || k == n && mass >= need {
			break
		}
	}
	if need > 0 && len(idx) > 64 {
		// narrow the margin to about the fewest candidates that hold the
		// top-p share, so that few are sorted: bisection over the
		// candidates' weights
		if cap(s.probs) < len(idx) {
			s.probs = make([]float64, len(idx))
		}
		ws := s.probs[:len(idx)]
		for i, j := range idx {
			ws[i] = weight(logits[j])
		}
		lo, hi := 0.0, margin
		for range 12 {
			mid := (lo + hi) / 2
			var mass float64
			for i, j := range idx {
				if float64(logits[j])/temp >= maxv-mid {
					mass += ws[i]
				}
			}
			if mass >= need {
				hi = mid
			} else {
				lo = mid
			}
		}
		kept := idx[:0]
		for _, j := range idx {
			if float64(logits[j])/temp >= maxv-hi {
				kept = append(kept, j)
			}
		}
		idx = kept
	}
	s.idx = idx
	// order candidates by logit, descending, the lower id first on ties
	order := func(a, b int) int {
		switch la, lb := logits[a], logits[b]; {
		case la > lb:
			return -1
		case la < lb:
			return 1
		}
		return cmp.Compare(a, b)
	}
	if len(idx) > 2*k {
		selectFirst(idx, k, order)
		idx = idx[:k]
	}
	slices.SortFunc(idx, order)
	if len(idx) > k {
		idx = idx[:k]
	}
	if cap(s.probs) < len(idx) {
		s.probs = make([]float64, len(idx))
	}
	probs := s.probs[:len(idx)]
	var sum float64
	for i, j := range idx {
		p := math.Exp(float64(logits[j])/temp - maxv)
		probs[i] = p
		sum += p
	}
	if topP {
		// the share of each candidate: of the top k's probability with a
		// top-k, of every token's without
		den := sum
		if k == n {
			den = need / s.TopP
		}
		var cum float64
		for i := range probs {
			cum += probs[i] / den
			if cum >= s.TopP {
				idx, probs = idx[:i+1], probs[:i+1]
				break
			}
		}
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

// selectFirst reorders x so that its first k elements are the k first in
// the order cmp gives (in no particular order among themselves): a
// quickselect, linear on average.
func selectFirst(x []int, k int, cmp func(a, b int) int) {
	lo, hi := 0, len(x)-1
	for lo < hi {
		// median of three as the pivot
		mid := lo + (hi-lo)/2
		if cmp(x[mid], x[lo]) < 0 {
			x[mid], x[lo] = x[lo], x[mid]
		}
		if cmp(x[hi], x[lo]) < 0 {
			x[hi], x[lo] = x[lo], x[hi]
		}
		if cmp(x[hi], x[mid]) < 0 {
			x[hi], x[mid] = x[mid], x[hi]
		}
		pivot := x[mid]
		i, j := lo, hi
		for i <= j {
			for cmp(x[i], pivot) < 0 {
				i++
			}
			for cmp(pivot, x[j]) < 0 {
				j--
			}
			if i <= j {
				x[i], x[j] = x[j], x[i]
				i++
				j--
			}
		}
		// x[lo..j] <= pivot <= x[i..hi]
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}
