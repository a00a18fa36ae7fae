package recipe

import (
	"context"
	"fmt"
	"path/filepath"

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
	base, closeBase, err := loadEvalBase(r, prec)
	if err != nil {
		return nil, err
	}
	defer closeBase()
	var tuned *model.Model
	switch {
	case res.Adapter != "":
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
	}
	opt := eval.Options{
		MaxNewTokens: r.Eval.MaxNewTokens, Samples: r.Eval.Samples, ExpectJSON: r.Data.ExpectJSON || ds.Schema != nil,
		Schema: ds.Schema, StopTokens: ds.Stops,
		Progress: func(done, total int) {
			if done == total || done%10 == 0 {
				ev.Note(fmt.Sprintf("generated %d/%d", done, total))
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

// EvalConfig is what `hone eval` compares.
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

// Evaluate compares a base model with its tuned version (an adapter over
// it, or a full model) on held-out data and writes the report into c.Out.
func Evaluate(ctx context.Context, c *EvalConfig, ev Events) (*eval.Report, error) {
	if c.Adapter == "" && c.Tuned == "" {
		return nil, fmt.Errorf("name the tuned model: --adapter DIR or --tuned DIR")
	}
	if c.Expect != "" && c.Expect != "json" {
		return nil, fmt.Errorf("--expect %q: only json is known", c.Expect)
	}
	r := Default()
	r.Model, r.Precision, r.Output = c.Model, c.Precision, c.Out
	r.Data.Template, r.Data.ExpectJSON, r.Data.Schema = c.Template, c.Expect == "json", c.Schema
	r.Data.Train = []string{c.Data}
	r.Eval.Test, r.Eval.General, r.Eval.Limit = c.Data, c.General, c.Limit
	r.Eval.MaxNewTokens, r.Eval.Samples = c.MaxNewTokens, c.Samples
	if err := r.Validate(); err != nil {
		return nil, err
	}
	prec, _ := model.ParsePrecision(r.Precision)
	ev.Stage("loading model")
	m, tok, closeModel, err := loadBase(r, prec)
	if err != nil {
		return nil, err
	}
	closeModel()
	tmpl, err := template(r, tok)
	if err != nil {
		return nil, err
	}
	ds, err := prepareData(r, tok, tmpl, m.Config, nil)
	if err != nil {
		return nil, err
	}
	res := &Result{Adapter: c.Adapter, Model: c.Tuned}
	ev.Stage("evaluating base vs tuned")
	e := cpu.New(0)
	return evaluate(ctx, r, e, res, ds, tok, tmpl, ev)
}
