package data

import (
	"math"
	"slices"
)

// HistogramBounds are the upper bounds (exclusive) of the token-length
// histogram buckets; a last bucket holds everything longer.
var HistogramBounds = []int{32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768}

// Histogram summarises a distribution of token counts.
type Histogram struct {
	// Counts[i] counts values below HistogramBounds[i] (and at or above
	// the bound before); the last entry counts the rest.
	Counts []int   `json:"counts"`
	Bounds []int   `json:"bounds"`
	N      int     `json:"n"`
	Min    int     `json:"min"`
	Max    int     `json:"max"`
	Mean   float64 `json:"mean"`
	P50    int     `json:"p50"`
	P95    int     `json:"p95"`
	P99    int     `json:"p99"`
}

// lengths collects values for a Histogram.
type lengths []int32

func (l lengths) histogram() Histogram {
	h := Histogram{Bounds: HistogramBounds, Counts: make([]int, len(HistogramBounds)+1), N: len(l)}
	if len(l) == 0 {
		return h
	}
	s := slices.Clone(l)
	slices.Sort(s)
	var sum float64
	for _, v := range s {
		sum += float64(v)
		i, _ := slices.BinarySearch(HistogramBounds, int(v)+1)
		h.Counts[i]++
	}
	q := func(p float64) int { return int(s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)]) }
	h.Min, h.Max, h.Mean = int(s[0]), int(s[len(s)-1]), sum/float64(len(s))
	h.P50, h.P95, h.P99 = q(0.50), q(0.95), q(0.99)
	return h
}

// Stats are the token statistics of the examples that render cleanly.
type Stats struct {
	// Tokenized is false when no tokenizer was given: then only Examples
	// is filled in.
	Tokenized bool `json:"tokenized"`
	// Examples counts the examples that read, render and fit (duplicates
	// included: they train too).
	Examples int `json:"examples"`
	// Tokens and TrainedTokens count all tokens and the trained ones;
	// TrainedShare is their ratio.
	Tokens        int64   `json:"tokens"`
	TrainedTokens int64   `json:"trained_tokens"`
	TrainedShare  float64 `json:"trained_share"`
	// TokensPerEpoch is the number of tokens one pass over the usable
	// examples feeds the model (before padding or packing).
	TokensPerEpoch int64 `json:"tokens_per_epoch"`
	// Prompt and Completion are the histograms of untrained and trained
	// tokens per example; Total of all tokens per example. Nil when not
	// tokenized.
	Prompt     *Histogram `json:"prompt_tokens,omitempty"`
	Completion *Histogram `json:"completion_tokens,omitempty"`
	Total      *Histogram `json:"total_tokens,omitempty"`
}

// statsAcc accumulates Stats.
type statsAcc struct {
	tokenized                 bool
	examples                  int
	tokens, trained           int64
	prompt, completion, total lengths
}

func (a *statsAcc) add(n, trained int) {
	a.examples++
	if n < 0 {
		return
	}
	a.tokens += int64(n)
	a.trained += int64(trained)
	a.prompt = append(a.prompt, int32(n-trained))
	a.completion = append(a.completion, int32(trained))
	a.total = append(a.total, int32(n))
}

func (a *statsAcc) stats() Stats {
	s := Stats{Tokenized: a.tokenized, Examples: a.examples}
	if !a.tokenized {
		return s
	}
	s.Tokens, s.TrainedTokens, s.TokensPerEpoch = a.tokens, a.trained, a.tokens
	if a.tokens > 0 {
		s.TrainedShare = float64(a.trained) / float64(a.tokens)
	}
	p, c, t := a.prompt.histogram(), a.completion.histogram(), a.total.histogram()
	s.Prompt, s.Completion, s.Total = &p, &c, &t
	return s
}
