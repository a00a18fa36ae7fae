package generate

import (
	"context"
	"errors"
	"fmt"

	"hone/compute"
	"hone/model"
	"hone/tensor"
)

// Options controls one generation.
type Options struct {
	// MaxTokens bounds the number of generated tokens (default 256).
	MaxTokens int
	// Temperature 0 decodes greedily; otherwise the softmax temperature.
	Temperature float64
	// TopK keeps the K most likely tokens (0: all).
	TopK int
	// TopP keeps the smallest set of tokens whose probability reaches P
	// (0 or 1: all).
	TopP float64
	// RepetitionPenalty > 1 discourages tokens already present (1: off).
	RepetitionPenalty float64
	// Seed makes sampling reproducible.
	Seed uint64
	// StopTokens end generation when produced (EOS, end-of-turn); the stop
	// token itself is not part of the text.
	StopTokens []int32
	// StopStrings end generation when the text contains one; the text is cut
	// before it.
	StopStrings []string
	// Processors edit the logits after the repetition penalty and before
	// sampling (constrained decoding).
	Processors []Processor
}

// Decoder turns token ids back into text.
type Decoder interface {
	Decode(ids []int32, skipSpecial bool) string
}

// Reason says why generation stopped.
type Reason string

// The reasons generation stops; the names are OpenAI's finish_reason values.
const (
	StopEOS    Reason = "stop"   // a stop token
	StopString Reason = "stop"   // a stop string
	StopLength Reason = "length" // MaxTokens or the context
)

// Result is a finished generation.
type Result struct {
	Tokens []int32 // the generated tokens, without a final stop token
	Text   string  // their text, cut before a stop string
	Reason Reason
	// PromptTokens and CompletionTokens count the usage.
	PromptTokens, CompletionTokens int
}

// Generate continues prompt with the model, calling onText with each new
// piece of text as soon as it is certain (complete UTF-8, not possibly the
// start of a stop string). onText may be nil; an error from it stops
// generation and is returned. The context cancels generation between tokens.
func Generate(ctx context.Context, e compute.Engine, m *model.Model, dec Decoder, prompt []int32, opt Options, onText func(string) error) (*Result, error) {
	if len(prompt) == 0 {
		return nil, errors.New("generate: empty prompt")
	}
	if opt.MaxTokens <= 0 {
		opt.MaxTokens = 256
	}
	capacity := len(prompt) + opt.MaxTokens
	if mp := m.Config.MaxPositions; mp > 0 && capacity > mp {
		capacity = mp
	}
	if len(prompt) >= capacity {
		return nil, fmt.Errorf("generate: prompt of %d tokens leaves no room in the model's context of %d", len(prompt), m.Config.MaxPositions)
	}
	cache := m.NewCache(capacity)
	return Continue(ctx, e, m, cache, dec, prompt, opt, onText)
}

// Continue is Generate over a caller-owned cache, which may already hold a
// prefix of prompt (the cached positions are reused, the rest decoded).
func Continue(ctx context.Context, e compute.Engine, m *model.Model, cache *model.Cache, dec Decoder, prompt []int32, opt Options, onText func(string) error) (*Result, error) {
	if opt.MaxTokens <= 0 {
		opt.MaxTokens = 256
	}
	if cache.Len > len(prompt) {
		cache.Truncate(0)
	}
	sampler := NewSampler(opt.Temperature, opt.TopK, opt.TopP, opt.Seed)
	procs := opt.Processors
	if opt.RepetitionPenalty > 0 && opt.RepetitionPenalty != 1 {
		procs = append([]Processor{RepetitionPenalty{float32(opt.RepetitionPenalty)}}, procs...)
	}
	stop := map[int32]bool{}
	for _, t := range opt.StopTokens {
		stop[t] = true
	}
	logits := tensor.New(tensor.F32, 1, m.Config.Vocab)
	tokens := append([]int32(nil), prompt...)
	if err := m.Decode(e, cache, prompt[cache.Len:], logits); err != nil {
		return nil, err
	}
	res := &Result{PromptTokens: len(prompt), Reason: StopLength}
	st := Stream{Stops: opt.StopStrings}
	detok := Detokenizer{Dec: dec}
	emit := func(d string) error {
		if d == "" || onText == nil {
			return nil
		}
		return onText(d)
	}
	for len(res.Tokens) < opt.MaxTokens {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		lv := logits.F32()
		for _, p := range procs {
			p.Process(tokens, lv)
		}
		next := sampler.Sample(lv)
		if stop[next] {
			res.Reason = StopEOS
			break
		}
		res.Tokens = append(res.Tokens, next)
		tokens = append(tokens, next)
		if dec != nil {
			delta, done := st.Update(detok.Text(res.Tokens))
			if err := emit(delta); err != nil {
				return res, err
			}
			if done {
				res.Reason = StopString
				break
			}
		}
		if len(res.Tokens) == opt.MaxTokens || cache.Len == cache.Capacity() {
			break
		}
		if err := m.Decode(e, cache, []int32{next}, logits); err != nil {
			return res, err
		}
	}
	res.CompletionTokens = len(res.Tokens)
	if dec != nil {
		if err := emit(st.Flush()); err != nil {
			return res, err
		}
		res.Text = st.Text()
	}
	return res, nil
}
