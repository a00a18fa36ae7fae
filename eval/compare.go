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
// text) and the reference answer; Source ("file:line") names the example
// in messages.
type Task struct {
	PromptIDs  []int32
	PromptText string
	Reference  string
	Source     string
}

// Fits reports whether the task's prompt leaves room for at least one
// generated token in a context of maxPositions tokens (0: no limit).
func (t Task) Fits(maxPositions int) bool {
	return maxPositions <= 0 || len(t.PromptIDs) < maxPositions
}

// NoRoom is the reason a task that does not fit is left out.
func (t Task) NoRoom(maxPositions int) string {
	src := t.Source
	if src == "" {
		src = "an example"
	}
	return fmt.Sprintf("%s: prompt of %d tokens leaves no room in the model's context of %d", src, len(t.PromptIDs), maxPositions)
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
	// Phase, when set, is called as each phase of measuring a model
	// begins: model is "base" or "tuned" in Compare ("" from MeasureSide),
	// phase says what is measured and on how much ("held-out loss on 3
	// batches", "generating 40 answers").
	Phase func(model, phase string)
	// Progress, when set, is called after each generation, with the model
	// generating as in Phase.
	Progress func(model string, done, total int)

	model string // the side being measured, for Phase and Progress
}

// Data is what a comparison runs on: batches for held-out loss, batches of
// general text for the forgetting probe (may be empty), and generation
// tasks. Skipped lists the held-out examples the caller left out
// ("file:line: reason"), for the report.
type Data struct {
	HeldOut []*model.Batch
	General []*model.Batch
	Tasks   []Task
	Skipped []string
}

// Generate produces greedy answers of m for every task.
func Generate(ctx context.Context, e compute.Engine, m *model.Model, dec generate.Decoder, tasks []Task, opt Options) ([]string, error) {
	if opt.MaxNewTokens <= 0 {
		opt.MaxNewTokens = 128
	}
	out := make([]string, len(tasks))
	if opt.Phase != nil && len(tasks) > 0 {
		opt.Phase(opt.model, fmt.Sprintf("generating %d answers", len(tasks)))
	}
	for i, t := range tasks {
		res, err := generate.Generate(ctx, e, m, dec, t.PromptIDs, generate.Options{MaxTokens: opt.MaxNewTokens, StopTokens: opt.StopTokens}, nil)
		if err != nil {
			if t.Source != "" {
				return nil, fmt.Errorf("%s: %w", t.Source, err)
			}
			return nil, fmt.Errorf("task %d: %w", i+1, err)
		}
		out[i] = res.Text
		if opt.Progress != nil {
			opt.Progress(opt.model, i+1, len(tasks))
		}
	}
	return out, nil
}

// Side measures one model: held-out loss and perplexity, general
// perplexity, and task metrics on its generations (returned too).
func MeasureSide(ctx context.Context, e compute.Engine, m *model.Model, dec generate.Decoder, d Data, opt Options) (Side, []string, error) {
	var s Side
	phase := func(what string) {
		if opt.Phase != nil {
			opt.Phase(opt.model, what)
		}
	}
	if len(d.HeldOut) > 0 {
		phase(fmt.Sprintf("held-out loss on %d batches", len(d.HeldOut)))
		loss, err := train.MeanLoss(e, m, d.HeldOut)
		if err != nil {
			return s, nil, fmt.Errorf("held-out loss: %w", err)
		}
		s.Loss, s.PPL = loss, PPL(loss)
	}
	if len(d.General) > 0 {
		phase(fmt.Sprintf("forgetting probe: loss on %d batches of general text", len(d.General)))
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
// with its verdicts (the caller fills in titles, paths and curves). Tasks
// whose prompt leaves no room in the model's context are left out and
// listed in the report's Skipped, after those the caller left out.
func Compare(ctx context.Context, e compute.Engine, base, tuned *model.Model, dec generate.Decoder, d Data, opt Options) (*Report, error) {
	skipped := append([]string(nil), d.Skipped...)
	tasks := make([]Task, 0, len(d.Tasks))
	for _, t := range d.Tasks {
		if mp := base.Config.MaxPositions; !t.Fits(mp) {
			skipped = append(skipped, t.NoRoom(mp))
			continue
		}
		tasks = append(tasks, t)
	}
	d.Tasks = tasks
	r := &Report{Created: time.Now().UTC(), Examples: len(d.Tasks), Skipped: skipped}
	var bg, tg []string
	var err error
	opt.model = "base"
	if r.Base, bg, err = MeasureSide(ctx, e, base, dec, d, opt); err != nil {
		return nil, fmt.Errorf("base model: %w", err)
	}
	opt.model = "tuned"
	if r.Tuned, tg, err = MeasureSide(ctx, e, tuned, dec, d, opt); err != nil {
		return nil, fmt.Errorf("tuned model: %w", err)
	}
	for i := 0; i < min(opt.Samples, len(d.Tasks)); i++ {
		r.Samples = append(r.Samples, Sample{Prompt: d.Tasks[i].PromptText, Reference: d.Tasks[i].Reference, Base: bg[i], Tuned: tg[i]})
	}
	r.Judge(DefaultThresholds)
	return r, nil
}
