package recipe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"hone/chat"
	"hone/compute"
	"hone/compute/cpu"
	"hone/eval"
	"hone/lora"
	"hone/model"
	"hone/tokenizer"
	"hone/train"
)

// evaluate compares the base model with the kept (best) weights on the
// held-out data and writes the report into the run folder.
func evaluate(ctx context.Context, r *Recipe, e compute.Engine, res *Result, ds *dataset, tok *tokenizer.Tokenizer, tmpl *chat.Template, ev Events) (*eval.Report, error) {
	prec, _ := model.ParsePrecision(r.Precision)
	ev.Note("loading the base model")
	base, closeBase, err := loadEvalBase(r, prec)
	if err != nil {
		return nil, err
	}
	defer closeBase()
	var tuned *model.Model
	switch {
	case res.Adapter != "":
		ev.Note("loading the tuned model: the base with the adapter " + res.Adapter)
		// the tuned model is the base with the kept adapter: a second view
		// of the same base weights
		w := *base.W
		w.Layers = append([]model.Layer(nil), base.W.Layers...)
		tuned = model.New(base.Config, &w)
		if r.Technique == "qlora" { // the adapter was trained over the NF4 base
			if _, err := w.Quantize(base.Config, "nf4", true, prec); err != nil {
				return nil, err
			}
			if _, err := w.QuantizeEmbedding(base.Config, "nf4", prec); err != nil {
				return nil, err
			}
		}
		if _, err := lora.Load(res.Adapter, tuned); err != nil {
			return nil, err
		}
	default:
		ev.Note("loading the tuned model " + res.Model)
		m, closeTuned, err := model.Load(res.Model, prec)
		if err != nil {
			return nil, err
		}
		defer closeTuned()
		tuned = m
	}
	d := eval.Data{
		HeldOut: batches(ds.Test, r.Train.BatchSize, ds.Pad),
		General: batches(ds.General, r.Train.BatchSize, ds.Pad),
		Tasks:   ds.Tasks,
		Skipped: ds.Skipped,
	}
	opt := eval.Options{
		MaxNewTokens: r.Eval.MaxNewTokens, Samples: r.Eval.Samples, ExpectJSON: r.Data.ExpectJSON || ds.Schema != nil,
		Schema: ds.Schema, StopTokens: ds.Stops,
		Phase: func(model, phase string) { ev.Note(fmt.Sprintf("%s model: %s", model, phase)) },
		Progress: func(model string, done, total int) {
			if done == total || done%10 == 0 {
				ev.Note(fmt.Sprintf("%s model: generated %d/%d", model, done, total))
			}
		},
	}
	rep, err := eval.Compare(ctx, e, base, tuned, tok, d, opt)
	if err != nil {
		return nil, err
	}
	if len(r.Eval.Metrics) > 0 {
		keep := map[string]bool{}
		for _, m := range r.Eval.Metrics {
			keep[m] = true
		}
		for _, side := range []*eval.Side{&rep.Base, &rep.Tuned} {
			for k := range side.Metrics {
				if !keep[k] {
					delete(side.Metrics, k)
				}
			}
		}
	}
	rep.Title = "hone: base vs tuned"
	rep.Model = r.Model
	rep.Adapter = res.Adapter
	rep.Data = r.Eval.Test
	if rep.Data == "" {
		rep.Data = "validation split"
	}
	if recs, err := train.ReadMetrics(filepath.Join(r.Output, "metrics.jsonl")); err == nil {
		c := &eval.Curves{BestStep: res.BestStep}
		for _, rec := range recs {
			if rec.Loss != nil {
				c.Train = append(c.Train, eval.Point{Step: rec.Step, Value: *rec.Loss})
			}
			if rec.EvalLoss != nil {
				c.Eval = append(c.Eval, eval.Point{Step: rec.Step, Value: *rec.EvalLoss})
			}
		}
		rep.Curves = c
	}
	rep.Judge(eval.DefaultThresholds)
	if err := rep.Write(r.Output); err != nil {
		return nil, err
	}
	return rep, nil
}

// loadEvalBase loads the untouched base model for the comparison (for a
// model pre-trained from random weights, the base is the random model).
func loadEvalBase(r *Recipe, prec model.Precision) (*model.Model, func() error, error) {
	dir, err := r.modelDir()
	if err != nil {
		return nil, nil, err
	}
	if r.Init == "random" {
		c, err := model.LoadConfig(dir)
		if err != nil {
			return nil, nil, err
		}
		return model.New(c, model.Init(c, 0.02, r.Train.Seed)), func() error { return nil }, nil
	}
	return model.Load(dir, prec)
}

// EvalConfig is what `hone eval` compares, as its flags give it.
type EvalConfig struct {
	Model, Adapter, Tuned string
	Data, General         string
	Template              string
	Expect, Schema        string
	Limit, MaxNewTokens   int
	Samples               int
	Precision             string
	Out                   string
}

// Validate checks the configuration before anything loads and reports
// every problem at once, each naming its flag (--data, --precision, ...).
func (c *EvalConfig) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	exists := func(flag, p string, dir bool) {
		if p == "" {
			return
		}
		st, err := os.Stat(p)
		switch {
		case err != nil:
			bad("%s %s: does not exist", flag, p)
		case dir && !st.IsDir():
			bad("%s %s: not a folder", flag, p)
		case !dir && st.IsDir():
			bad("%s %s: a folder, not a file", flag, p)
		}
	}
	if c.Model == "" {
		bad("--model: missing; name the base model folder or Hugging Face Hub id")
	}
	switch {
	case c.Adapter == "" && c.Tuned == "":
		bad("name the tuned model: --adapter DIR or --tuned DIR")
	case c.Adapter != "" && c.Tuned != "":
		bad("--adapter and --tuned: give one of them")
	}
	exists("--adapter", c.Adapter, true)
	exists("--tuned", c.Tuned, true)
	if c.Data == "" {
		bad("--data: missing; name a held-out data file")
	}
	exists("--data", c.Data, false)
	exists("--general", c.General, false)
	exists("--schema", c.Schema, false)
	if strings.HasSuffix(c.Template, ".jinja") {
		exists("--template", c.Template, false)
	}
	if c.Expect != "" && c.Expect != "json" {
		bad("--expect %q: only json is known", c.Expect)
	}
	if c.Precision != "fp32" && c.Precision != "bf16" {
		bad("--precision %q: want fp32 or bf16", c.Precision)
	}
	if c.Limit < 0 {
		bad("--limit %d: want 0 (every example) or more", c.Limit)
	}
	if c.Samples < 0 {
		bad("--samples %d: want 0 or more", c.Samples)
	}
	if c.MaxNewTokens < 0 {
		bad("--max-new-tokens %d: want 0 (the default, 128) or more", c.MaxNewTokens)
	}
	if c.Out == "" {
		bad("--out: missing; name the folder for the report")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// Evaluate compares a base model with its tuned version (an adapter over
// it, or a full model) on held-out data and writes the report into c.Out.
// Held-out examples whose prompt leaves no room in the model's context (or
// whose conversation does not fit it) are left out, noted and listed in the
// report; it is an error only when none is left.
func Evaluate(ctx context.Context, c *EvalConfig, ev Events) (*eval.Report, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	r := Default()
	r.Model, r.Precision, r.Output = c.Model, c.Precision, c.Out
	r.Data.Train = nil
	r.Data.Template, r.Data.ExpectJSON, r.Data.Schema = c.Template, c.Expect == "json", c.Schema
	r.Eval.Test, r.Eval.General, r.Eval.Limit = c.Data, c.General, c.Limit
	r.Eval.MaxNewTokens, r.Eval.Samples = c.MaxNewTokens, c.Samples
	ev.Stage("reading the held-out data")
	dir, err := r.modelDir()
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, err
	}
	mc, err := model.LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	tmpl, err := template(r, tok)
	if err != nil {
		return nil, err
	}
	ds := &dataset{Template: tmpl.Name, Pad: padID(tok, tmpl, mc)}
	// the held-out loss may use the model's whole context
	rd := &renderer{tok: tok, tmpl: tmpl, maxLen: mc.MaxPositions}
	if err := evalData(r, rd, heldOut{file: c.Data, name: "--data " + c.Data}, mc, ds, ev); err != nil {
		return nil, err
	}
	res := &Result{Adapter: c.Adapter, Model: c.Tuned}
	ev.Stage("evaluating base vs tuned")
	e := cpu.New(0)
	return evaluate(ctx, r, e, res, ds, tok, tmpl, ev)
}
