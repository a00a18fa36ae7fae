package eval

import (
	"context"
	"fmt"
	"time"

	"hone/compute"
	"hone/generate"
	"hone/model"
	"hone/train"
)

// Task is one held-out example for generation: the rendered prompt (ids and
// text) and the reference answer.
type Task struct {
	PromptIDs  []int32
	PromptText string
	Reference  string
}

// Options controls a comparison.
type Options struct {
	// MaxNewTokens bounds each generation (default 128).
	MaxNewTokens int
	// Samples is how many side-by-side generations the report keeps.
	Samples int
	// ExpectJSON scores JSON validity and per-field accuracy; Schema, when
	// set, also schema conformance.
	ExpectJSON bool
	Schema     *Schema
	// StopTokens end a generation (EOS and end-of-turn ids).
	StopTokens []int32
	// Progress, when set, is called after each generation.
	Progress func(done, total int)
}

// Data is what a comparison runs on: batches for held-out loss, batches of
// general text for the forgetting probe (may be empty), and generation tasks.
type Data struct {
	HeldOut []*model.Batch
	General []*model.Batch
	Tasks   []Task
}

// Generate produces greedy answers of m for every task.
func Generate(ctx context.Context, e compute.Engine, m *model.Model, dec generate.Decoder, tasks []Task, opt Options) ([]string, error) {
	if opt.MaxNewTokens <= 0 {
		opt.MaxNewTokens = 128
	}
	out := make([]string, len(tasks))
	for i, t := range tasks {
		res, err := generate.Generate(ctx, e, m, dec, t.PromptIDs, generate.Options{MaxTokens: opt.MaxNewTokens, StopTokens: opt.StopTokens}, nil)
		if err != nil {
			return nil, fmt.Errorf("task %d: %w", i+1, err)
		}
		out[i] = res.Text
		if opt.Progress != nil {
			opt.Progress(i+1, len(tasks))
		}
	}
	return out, nil
}

// Side measures one model: held-out loss and perplexity, general
// perplexity, and task metrics on its generations (returned too).
func MeasureSide(ctx context.Context, e compute.Engine, m *model.Model, dec generate.Decoder, d Data, opt Options) (Side, []string, error) {
	var s Side
	if len(d.HeldOut) > 0 {
		loss, err := train.MeanLoss(e, m, d.HeldOut)
		if err != nil {
			return s, nil, fmt.Errorf("held-out loss: %w", err)
		}
		s.Loss, s.PPL = loss, PPL(loss)
	}
	if len(d.General) > 0 {
		loss, err := train.MeanLoss(e, m, d.General)
		if err != nil {
			return s, nil, fmt.Errorf("forgetting probe: %w", err)
		}
		s.GeneralPPL = PPL(loss)
	}
	var gens []string
	if len(d.Tasks) > 0 {
		var err error
		gens, err = Generate(ctx, e, m, dec, d.Tasks, opt)
		if err != nil {
			return s, nil, err
		}
		sc := Scores{ExpectJSON: opt.ExpectJSON}
		for i, g := range gens {
			sc.Add(g, d.Tasks[i].Reference, opt.Schema)
		}
		s.Metrics = sc.Rates()
	}
	return s, gens, nil
}

// Compare measures base and tuned on the same data and returns the report
// with its verdicts (the caller fills in titles, paths and curves).
func Compare(ctx context.Context, e compute.Engine, base, tuned *model.Model, dec generate.Decoder, d Data, opt Options) (*Report, error) {
	r := &Report{Created: time.Now().UTC(), Examples: len(d.Tasks)}
	var bg, tg []string
	var err error
	if r.Base, bg, err = MeasureSide(ctx, e, base, dec, d, opt); err != nil {
		return nil, fmt.Errorf("base model: %w", err)
	}
	if r.Tuned, tg, err = MeasureSide(ctx, e, tuned, dec, d, opt); err != nil {
		return nil, fmt.Errorf("tuned model: %w", err)
	}
	for i := 0; i < min(opt.Samples, len(d.Tasks)); i++ {
		r.Samples = append(r.Samples, Sample{Prompt: d.Tasks[i].PromptText, Reference: d.Tasks[i].Reference, Base: bg[i], Tuned: tg[i]})
	}
	r.Judge(DefaultThresholds)
	return r, nil
}
