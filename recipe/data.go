package recipe

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
	// Skipped lists the held-out examples left out of the evaluation
	// ("file:line: reason").
	Skipped  []string
	General  []train.Sequence
	Pad      int32
	Files    []string
	Template string
	Schema   *eval.Schema
	Stops    []int32
}

// maxListed is how many examples left out for one reason a note names.
const maxListed = 3

// note reports msg through ev, which may be nil.
func note(ev Events, msg string) {
	if ev != nil {
		ev.Note(msg)
	}
}

// noteSkipped notes how many examples were left out and why, naming the
// first few ("file:line: reason" each).
func noteSkipped(ev Events, what string, list []string) {
	if len(list) == 0 {
		return
	}
	note(ev, fmt.Sprintf("left out %d %s:", len(list), what))
	for _, s := range list[:min(len(list), maxListed)] {
		note(ev, "  "+s)
	}
	if len(list) > maxListed {
		note(ev, fmt.Sprintf("  ... and %d more", len(list)-maxListed))
	}
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
	if skipped > 0 {
		note(ev, fmt.Sprintf("%s: left out %d rows with problems (hone data check %s lists them)", path, skipped, path))
	}
	return exs, nil
}

// readGeneral reads the forgetting probe's general text: a dataset file
// (.jsonl, .json, .csv, .tsv: text or conversation rows) with
// readExamples, any other file as plain text, one document per paragraph
// (data.ReadPlainText).
func readGeneral(r *Recipe, path string, ev Events) ([]*data.Example, error) {
	if data.IsDatasetFile(path) {
		return readExamples(r, path, ev)
	}
	return data.ReadPlainText(path, 0)
}

// renderer turns examples into token ids and loss labels.
type renderer struct {
	tok    *tokenizer.Tokenizer
	tmpl   *chat.Template
	opts   data.RenderOptions
	maxLen int
}

// leftOut is an example left out, and why.
type leftOut struct {
	Source string // file:line
	Reason string
}

func (l leftOut) String() string { return l.Source + ": " + l.Reason }

func strs(list []leftOut) []string {
	out := make([]string, len(list))
	for i, l := range list {
		out[i] = l.String()
	}
	return out
}

// renderAll renders examples through data.Render: a conversation trains on
// its assistant turns (content and end-of-turn token) unless
// train_on_prompt, a text is BOS + text + EOS cut into pieces of maxLen.
// Conversations longer than maxLen are left out and returned; any other
// problem is an error naming the file and line.
func (r *renderer) renderAll(exs []*data.Example) ([]train.Sequence, []leftOut, error) {
	var out []train.Sequence
	var skipped []leftOut
	for _, ex := range exs {
		ids, labels, err := data.Render(ex, r.tmpl, r.tok, r.opts)
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", ex.File, ex.Line, err)
		}
		s := data.Sequence{IDs: ids, Labels: labels}
		if ex.IsText() {
			for _, piece := range data.Chunk(s, r.maxLen) {
				out = append(out, train.Sequence(piece))
			}
			continue
		}
		if s.Len() > r.maxLen {
			skipped = append(skipped, leftOut{fmt.Sprintf("%s:%d", ex.File, ex.Line), fmt.Sprintf("%d tokens, more than the sequence length %d", s.Len(), r.maxLen)})
			continue
		}
		out = append(out, train.Sequence(s))
	}
	return out, skipped, nil
}

// renderTraining is renderAll for training data: the conversations left
// out are noted.
func (r *renderer) renderTraining(exs []*data.Example, ev Events) ([]train.Sequence, error) {
	seqs, skipped, err := r.renderAll(exs)
	if err != nil {
		return nil, err
	}
	noteSkipped(ev, fmt.Sprintf("conversations longer than data.max_seq_len %d (hone data check lists them)", r.maxLen), strs(skipped))
	return seqs, nil
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
// usual template (alpaca for Alpaca rows, ChatML otherwise) or, for a
// prepared folder, to the built-in template it was prepared with.
func template(r *Recipe, tok *tokenizer.Tokenizer) (*chat.Template, error) {
	dir, err := r.modelDir()
	if err != nil {
		return nil, err
	}
	fallback := "chatml"
	first := r.Eval.Test
	if len(r.Data.Train) > 0 {
		first = r.Data.Train[0]
	}
	if first != "" {
		format, err := data.ParseFormat(r.Data.Format)
		if err != nil {
			return nil, fmt.Errorf("data.format: %w", err)
		}
		if p := r.Path(first); data.IsPrepared(p) {
			if m, err := data.ReadManifest(p); err == nil {
				if _, err := chat.Named(m.Template.Name); err == nil {
					fallback = m.Template.Name
				}
			}
		} else {
			if format == data.FormatAuto {
				format, _ = data.DetectFormat(p, data.ReadOptions{})
			}
			fallback = data.DefaultTemplate(format)
		}
	}
	spec := r.Data.Template
	if spec != "" && spec != "auto" && strings.HasSuffix(spec, ".jinja") {
		spec = r.Path(spec)
	}
	return data.LoadTemplate(spec, dir, fallback, tok)
}

// prepareData reads, renders, splits, mixes and packs the recipe's data,
// or loads a folder written by hone data prepare; then the evaluation
// data.
func prepareData(r *Recipe, tok *tokenizer.Tokenizer, tmpl *chat.Template, c *model.Config, ev Events) (*dataset, error) {
	ds := &dataset{Template: tmpl.Name}
	rd := &renderer{tok: tok, tmpl: tmpl, opts: data.RenderOptions{TrainOnPrompt: r.Data.TrainOnPrompt}, maxLen: min(r.Data.MaxSeqLen, c.MaxPositions)}
	var valEx []*data.Example
	if len(r.Data.Train) == 1 && data.IsPrepared(r.Path(r.Data.Train[0])) {
		if err := loadPrepared(r, r.Path(r.Data.Train[0]), tok, tmpl, c, ds, ev); err != nil {
			return nil, err
		}
	} else {
		var err error
		if valEx, err = readTraining(r, rd, ds, ev); err != nil {
			return nil, err
		}
	}
	ds.Pad = padID(tok, tmpl, c)
	held := heldOut{examples: valEx, name: "the validation split of data.train"}
	if r.Data.Validation != "" {
		held.name = "data.validation " + r.Data.Validation
	}
	if r.Eval.Test != "" {
		held = heldOut{file: r.Path(r.Eval.Test), name: "eval.test " + r.Eval.Test}
	} else if len(valEx) == 0 && len(ds.Val) > 0 {
		held.seqs = ds.Val // a prepared folder's validation shard
	}
	if err := evalData(r, rd, held, c, ds, ev); err != nil {
		return nil, err
	}
	return ds, nil
}

// padID is the id that pads batches (data.PadID with the config's pad
// token).
func padID(tok *tokenizer.Tokenizer, tmpl *chat.Template, c *model.Config) int32 {
	pad := ""
	if c.Pad >= 0 && c.Pad < tok.VocabSize() {
		pad = tok.Token(int32(c.Pad))
	}
	return data.PadID(tok, pad, tmpl.EndOfTurn())
}

// readTraining reads and renders the training files, splits off or reads
// the validation data, mixes and packs. It returns the validation
// examples, the held-out data of the evaluation when there is no test
// file.
func readTraining(r *Recipe, rd *renderer, ds *dataset, ev Events) ([]*data.Example, error) {
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
	if ds.Train, err = rd.renderTraining(trEx, ev); err != nil {
		return nil, err
	}
	if ds.Val, err = rd.renderTraining(valEx, ev); err != nil {
		return nil, err
	}
	if len(ds.Train) == 0 {
		return nil, fmt.Errorf("data.train: no usable training example in %s", strings.Join(r.Data.Train, ", "))
	}
	if r.Data.Mix.File != "" && r.Data.Mix.Ratio > 0 {
		gen, err := readExamples(r, r.Path(r.Data.Mix.File), ev)
		if err != nil {
			return nil, err
		}
		ds.Files = append(ds.Files, r.Path(r.Data.Mix.File))
		gs, err := rd.renderTraining(gen, ev)
		if err != nil {
			return nil, err
		}
		n := len(ds.Train)
		ds.Train = data.Mix(ds.Train, gs, r.Data.Mix.Ratio, r.Train.Seed)
		note(ev, fmt.Sprintf("mixed %d general sequences into %d task sequences (ratio %.2f)", len(ds.Train)-n, n, r.Data.Mix.Ratio))
	}
	if r.Data.Pack {
		n := len(ds.Train)
		if ds.Train, err = pack(ds.Train, rd.maxLen); err != nil {
			return nil, err
		}
		note(ev, fmt.Sprintf("packed %d sequences into %d rows of at most %d tokens", n, len(ds.Train), rd.maxLen))
	}
	return valEx, nil
}

// loadPrepared loads a folder written by hone data prepare as the training
// and validation data, after checking that it was made for this model: the
// same tokenizer (by hash) and chat template (by the hash of its source),
// and rows that fit the model's context.
func loadPrepared(r *Recipe, dir string, tok *tokenizer.Tokenizer, tmpl *chat.Template, c *model.Config, ds *dataset, ev Events) error {
	key := "data.train[0] " + r.Data.Train[0]
	m, err := data.ReadManifest(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	modelDir, err := r.modelDir()
	if err != nil {
		return err
	}
	again := fmt.Sprintf("prepare it again with hone data prepare --model %s", r.Model)
	if m.Tokenizer.SHA256 != "" {
		tokFile := ""
		for _, name := range []string{"tokenizer.json", "tokenizer.json.gz"} {
			if p := filepath.Join(modelDir, name); fileExists(p) {
				tokFile = p
				break
			}
		}
		h, err := data.HashFile(tokFile, "")
		if err != nil {
			return err
		}
		if h.SHA256 != m.Tokenizer.SHA256 {
			return fmt.Errorf("%s: prepared with the tokenizer %s, not the model's (%s differs): the token ids would be wrong; %s", key, m.Tokenizer.Path, tokFile, again)
		}
	} else if m.Vocab != tok.VocabSize() {
		return fmt.Errorf("%s: prepared with a vocabulary of %d tokens, the model's tokenizer has %d; %s", key, m.Vocab, tok.VocabSize(), again)
	}
	if want := data.TemplateRefOf(tmpl); m.Template.SHA256 != want.SHA256 {
		return fmt.Errorf("%s: prepared with the chat template %q, but this run renders with %q (a different template source): %s, or set data.template to the one it was prepared with",
			key, m.Template.Name, want.Name, again)
	}
	if c.MaxPositions > 0 && m.Settings.MaxLen > c.MaxPositions {
		return fmt.Errorf("%s: prepared with rows of up to %d tokens, more than the model's context of %d; prepare it again with --max-len %d",
			key, m.Settings.MaxLen, c.MaxPositions, c.MaxPositions)
	}
	_, tr, val, err := data.LoadPrepared(dir)
	if err != nil {
		return err
	}
	for _, s := range tr {
		ds.Train = append(ds.Train, train.Sequence(s))
	}
	for _, s := range val {
		ds.Val = append(ds.Val, train.Sequence(s))
	}
	ds.Files = append(ds.Files, filepath.Join(dir, data.ManifestFile))
	for _, sh := range m.Shards {
		ds.Files = append(ds.Files, filepath.Join(dir, filepath.Base(sh.File)))
	}
	packed := ""
	if m.Settings.Pack {
		packed = ", packed"
	}
	note(ev, fmt.Sprintf("training data: the prepared folder %s (%d training rows, %d validation rows, at most %d tokens%s); its settings replace the recipe's data.* rendering settings",
		dir, len(ds.Train), len(ds.Val), m.Settings.MaxLen, packed))
	return nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// heldOut is where the evaluation's held-out data comes from: a file, the
// validation examples, or (for a prepared folder) validation sequences;
// name says which in messages ("eval.test FILE", "--data FILE").
type heldOut struct {
	file     string
	examples []*data.Example
	seqs     []train.Sequence
	name     string
}

// evalData reads and renders the held-out data (for the loss and the
// generation tasks) and the general text of the forgetting probe. An
// example whose conversation is longer than the sequence length, or whose
// prompt leaves no room for an answer in the model's context, is left out,
// noted and listed in ds.Skipped; it is an error, naming the data, only
// when no example is left.
func evalData(r *Recipe, rd *renderer, h heldOut, c *model.Config, ds *dataset, ev Events) error {
	testEx := h.examples
	if h.file != "" {
		var err error
		if testEx, err = readExamples(r, h.file, ev); err != nil {
			return err
		}
		ds.Files = append(ds.Files, h.file)
	}
	if r.Eval.Limit > 0 && len(testEx) > r.Eval.Limit {
		testEx = testEx[:r.Eval.Limit]
	}
	var err error
	var tooLong []leftOut
	if ds.Test, tooLong, err = rd.renderAll(testEx); err != nil {
		return err
	}
	if len(testEx) == 0 {
		ds.Test = h.seqs
	}
	inTasks := map[string]bool{} // examples that made a task, fitting or not
	for _, ex := range testEx {
		if ex.IsText() {
			continue
		}
		last := len(ex.Messages) - 1
		if ex.Messages[last].Role != "assistant" {
			continue
		}
		text, err := rd.tmpl.RenderText(ex.Messages[:last], chat.Options{AddGenerationPrompt: true})
		if err != nil {
			return fmt.Errorf("%s:%d: %w", ex.File, ex.Line, err)
		}
		t := eval.Task{PromptIDs: rd.tok.Encode(text, false), PromptText: text, Reference: ex.Messages[last].Text(),
			Source: fmt.Sprintf("%s:%d", ex.File, ex.Line)}
		inTasks[t.Source] = true
		if !t.Fits(c.MaxPositions) {
			ds.Skipped = append(ds.Skipped, t.NoRoom(c.MaxPositions))
			continue
		}
		ds.Tasks = append(ds.Tasks, t)
	}
	// A conversation too long for the loss still counts for generation
	// when its prompt fits: list it as left out only when it makes no task
	// (its prompt, listed already when it does not fit, made one).
	for _, l := range tooLong {
		if !inTasks[l.Source] {
			ds.Skipped = append(ds.Skipped, l.String())
		}
	}
	noteSkipped(ev, "held-out examples from "+h.name+" (listed in the report)", ds.Skipped)
	if len(testEx) > 0 && len(ds.Test) == 0 && len(ds.Tasks) == 0 {
		return fmt.Errorf("%s: no usable held-out example: all %d were left out (the first: %s)", h.name, len(testEx), ds.Skipped[0])
	}
	if r.Eval.General != "" {
		gen, err := readGeneral(r, r.Path(r.Eval.General), ev)
		if err != nil {
			return err
		}
		ds.Files = append(ds.Files, r.Path(r.Eval.General))
		if ds.General, _, err = rd.renderAll(gen); err != nil {
			return err
		}
		if len(ds.General) == 0 {
			return fmt.Errorf("%s: no general text fits the sequence length %d", r.Eval.General, rd.maxLen)
		}
	}
	if r.Data.Schema != "" {
		if ds.Schema, err = eval.LoadSchema(r.Path(r.Data.Schema)); err != nil {
			return err
		}
		ds.Files = append(ds.Files, r.Path(r.Data.Schema))
	}
	ds.Stops = stopTokens(rd.tok, rd.tmpl, c)
	return nil
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
