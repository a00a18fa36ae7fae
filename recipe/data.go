package recipe

import (
	"errors"
	"fmt"

	"hone/chat"
	"hone/data"
	"hone/eval"
	"hone/model"
	"hone/tokenizer"
	"hone/train"
)

// dataset is a run's data, tokenized: training and validation sequences,
// the held-out test (for loss and generation tasks) and the general text
// of the forgetting probe.
type dataset struct {
	Train, Val []train.Sequence
	Test       []train.Sequence
	Tasks      []eval.Task
	General    []train.Sequence
	Pad        int32
	Files      []string
	Template   string
	Schema     *eval.Schema
	Stops      []int32
}

// readExamples reads every usable example of a file with the data package
// (chat, Alpaca, prompt-completion, ShareGPT or text; JSONL, JSON or CSV).
// Rows with problems are left out and reported: `hone data check` lists
// them with their line numbers.
func readExamples(r *Recipe, path string, ev Events) ([]*data.Example, error) {
	format, err := data.ParseFormat(r.Data.Format)
	if err != nil {
		return nil, fmt.Errorf("data.format: %w", err)
	}
	exs, skipped, err := data.ReadAll(path, data.ReadOptions{Format: format})
	if err != nil {
		return nil, err
	}
	if skipped > 0 && ev != nil {
		ev.Note(fmt.Sprintf("%s: left out %d rows with problems (hone data check %s lists them)", path, skipped, path))
	}
	return exs, nil
}

// renderer turns examples into token ids and loss labels.
type renderer struct {
	tok    *tokenizer.Tokenizer
	tmpl   *chat.Template
	opts   data.RenderOptions
	maxLen int
}

// renderAll renders examples through data.Render: a conversation trains on
// its assistant turns (content and end-of-turn token) unless
// train_on_prompt, a text is BOS + text + EOS cut into pieces of maxLen.
// Conversations longer than maxLen are left out and counted; any other
// problem is an error naming the file and line.
func (r *renderer) renderAll(exs []*data.Example, ev Events) ([]train.Sequence, error) {
	var out []train.Sequence
	skipped := 0
	for _, ex := range exs {
		ids, labels, err := data.Render(ex, r.tmpl, r.tok, r.opts)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", ex.File, ex.Line, err)
		}
		s := data.Sequence{IDs: ids, Labels: labels}
		if ex.IsText() {
			for _, piece := range data.Chunk(s, r.maxLen) {
				out = append(out, train.Sequence(piece))
			}
			continue
		}
		if s.Len() > r.maxLen {
			skipped++
			continue
		}
		out = append(out, train.Sequence(s))
	}
	if skipped > 0 && ev != nil {
		ev.Note(fmt.Sprintf("left out %d conversations longer than data.max_seq_len %d (hone data check lists them)", skipped, r.maxLen))
	}
	return out, nil
}

// pack packs sequences into rows of maxLen with data.Pack.
func pack(seqs []train.Sequence, maxLen int) ([]train.Sequence, error) {
	in := make([]data.Sequence, len(seqs))
	for i, s := range seqs {
		in[i] = data.Sequence(s)
	}
	rows, err := data.Pack(in, maxLen)
	if err != nil {
		return nil, err
	}
	out := make([]train.Sequence, len(rows))
	for i, s := range rows {
		out[i] = train.Sequence(s)
	}
	return out, nil
}

// template returns the chat template that renders the data: the recipe's
// named or .jinja one, or the model's own, falling back to the format's
// usual template (alpaca for Alpaca rows, ChatML otherwise).
func template(r *Recipe, tok *tokenizer.Tokenizer) (*chat.Template, error) {
	dir, err := r.modelDir()
	if err != nil {
		return nil, err
	}
	fallback := "chatml"
	if len(r.Data.Train) > 0 {
		format, err := data.ParseFormat(r.Data.Format)
		if err != nil {
			return nil, fmt.Errorf("data.format: %w", err)
		}
		if format == data.FormatAuto {
			format, _ = data.DetectFormat(r.Path(r.Data.Train[0]), data.ReadOptions{})
		}
		fallback = data.DefaultTemplate(format)
	}
	spec := r.Data.Template
	if spec != "" && spec != "auto" && len(spec) > 6 && spec[len(spec)-6:] == ".jinja" {
		spec = r.Path(spec)
	}
	return data.LoadTemplate(spec, dir, fallback, tok)
}

// prepareData reads, renders, splits, mixes and packs the recipe's data.
func prepareData(r *Recipe, tok *tokenizer.Tokenizer, tmpl *chat.Template, c *model.Config, ev Events) (*dataset, error) {
	ds := &dataset{Template: tmpl.Name}
	rd := &renderer{tok: tok, tmpl: tmpl, opts: data.RenderOptions{TrainOnPrompt: r.Data.TrainOnPrompt}, maxLen: min(r.Data.MaxSeqLen, c.MaxPositions)}
	var all []*data.Example
	for _, f := range r.Data.Train {
		exs, err := readExamples(r, r.Path(f), ev)
		if err != nil {
			return nil, err
		}
		all = append(all, exs...)
		ds.Files = append(ds.Files, r.Path(f))
	}
	var trEx, valEx []*data.Example
	if r.Data.Validation != "" {
		var err error
		if valEx, err = readExamples(r, r.Path(r.Data.Validation), ev); err != nil {
			return nil, err
		}
		trEx = all
		ds.Files = append(ds.Files, r.Path(r.Data.Validation))
	} else {
		// duplicates, near duplicates and shared prompts stay on one side
		trEx, valEx = data.Split(all, r.Data.ValFraction, r.Train.Seed)
	}
	var err error
	if ds.Train, err = rd.renderAll(trEx, ev); err != nil {
		return nil, err
	}
	if ds.Val, err = rd.renderAll(valEx, ev); err != nil {
		return nil, err
	}
	if len(ds.Train) == 0 {
		return nil, errors.New("data.train: no usable training example")
	}
	if r.Data.Mix.File != "" && r.Data.Mix.Ratio > 0 {
		gen, err := readExamples(r, r.Path(r.Data.Mix.File), ev)
		if err != nil {
			return nil, err
		}
		ds.Files = append(ds.Files, r.Path(r.Data.Mix.File))
		gs, err := rd.renderAll(gen, ev)
		if err != nil {
			return nil, err
		}
		n := len(ds.Train)
		ds.Train = data.Mix(ds.Train, gs, r.Data.Mix.Ratio, r.Train.Seed)
		if ev != nil {
			ev.Note(fmt.Sprintf("mixed %d general sequences into %d task sequences (ratio %.2f)", len(ds.Train)-n, n, r.Data.Mix.Ratio))
		}
	}
	if r.Data.Pack {
		n := len(ds.Train)
		if ds.Train, err = pack(ds.Train, rd.maxLen); err != nil {
			return nil, err
		}
		if ev != nil {
			ev.Note(fmt.Sprintf("packed %d sequences into %d rows of at most %d tokens", n, len(ds.Train), rd.maxLen))
		}
	}
	pad := ""
	if c.Pad >= 0 && c.Pad < tok.VocabSize() {
		pad = tok.Token(int32(c.Pad))
	}
	ds.Pad = data.PadID(tok, pad, tmpl.EndOfTurn())
	// evaluation data
	testEx := valEx
	if r.Eval.Test != "" {
		if testEx, err = readExamples(r, r.Path(r.Eval.Test), ev); err != nil {
			return nil, err
		}
		ds.Files = append(ds.Files, r.Path(r.Eval.Test))
	}
	if r.Eval.Limit > 0 && len(testEx) > r.Eval.Limit {
		testEx = testEx[:r.Eval.Limit]
	}
	if ds.Test, err = rd.renderAll(testEx, nil); err != nil {
		return nil, err
	}
	for _, ex := range testEx {
		if ex.IsText() {
			continue
		}
		last := len(ex.Messages) - 1
		if ex.Messages[last].Role != "assistant" {
			continue
		}
		text, err := tmpl.RenderText(ex.Messages[:last], chat.Options{AddGenerationPrompt: true})
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", ex.File, ex.Line, err)
		}
		ds.Tasks = append(ds.Tasks, eval.Task{PromptIDs: tok.Encode(text, false), PromptText: text, Reference: ex.Messages[last].Text()})
	}
	if r.Eval.General != "" {
		gen, err := readExamples(r, r.Path(r.Eval.General), ev)
		if err != nil {
			return nil, err
		}
		ds.Files = append(ds.Files, r.Path(r.Eval.General))
		if ds.General, err = rd.renderAll(gen, nil); err != nil {
			return nil, err
		}
	}
	if r.Data.Schema != "" {
		if ds.Schema, err = eval.LoadSchema(r.Path(r.Data.Schema)); err != nil {
			return nil, err
		}
		ds.Files = append(ds.Files, r.Path(r.Data.Schema))
	}
	ds.Stops = stopTokens(tok, tmpl, c)
	return ds, nil
}

// stopTokens are the ids that end a generation: the config's EOS ids and
// the template's end-of-turn tokens.
func stopTokens(tok *tokenizer.Tokenizer, tmpl *chat.Template, c *model.Config) []int32 {
	seen := map[int32]bool{}
	var out []int32
	add := func(id int32) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, id := range c.EOS {
		add(int32(id))
	}
	if eos, ok := tok.EOS(); ok {
		add(eos)
	}
	for _, s := range tmpl.EndOfTurn() {
		if id, ok := tok.TokenID(s); ok {
			add(id)
		}
	}
	return out
}

// batches cuts sequences into evaluation batches.
func batches(seqs []train.Sequence, size int, pad int32) []*model.Batch {
	var out []*model.Batch
	for i := 0; i < len(seqs); i += size {
		out = append(out, train.Collate(seqs[i:min(i+size, len(seqs))], pad))
	}
	return out
}
