package recipe

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"strings"

	"hone/chat"
	"hone/compute"
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

// example is one row of a data file as a conversation, or plain text.
type example struct {
	File string
	Line int
	Msgs []chat.Message
	// Weights says, per message, whether an assistant turn trains.
	Weights []bool
	Text    string // continued pre-training text (Msgs empty)
}

// key is the normalised content that groups duplicates on one side of the
// validation split.
func (ex *example) key() string {
	if ex.Text != "" {
		return strings.Join(strings.Fields(strings.ToLower(ex.Text)), " ")
	}
	var b strings.Builder
	for _, m := range ex.Msgs {
		b.WriteString(m.Role)
		b.WriteByte(0)
		b.WriteString(strings.Join(strings.Fields(strings.ToLower(m.Text())), " "))
		b.WriteByte(0)
	}
	return b.String()
}

// readExamples reads a JSONL file (or a JSON array) of chat, Alpaca,
// prompt-completion, ShareGPT or text rows. Errors name the file and line.
func readExamples(path string) ([]example, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows []json.RawMessage
	var lines []int
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &rows); err != nil {
			return nil, fmt.Errorf("%s: not a valid JSON array: %w", path, err)
		}
		for i := range rows {
			lines = append(lines, i+1)
		}
	} else if strings.HasSuffix(path, ".txt") {
		return []example{{File: path, Line: 1, Text: string(data)}}, nil
	} else {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for n := 1; sc.Scan(); n++ {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			rows = append(rows, append(json.RawMessage(nil), sc.Bytes()...))
			lines = append(lines, n)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	var out []example
	for i, raw := range rows {
		ex, err := parseRow(raw)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, lines[i], err)
		}
		ex.File, ex.Line = path, lines[i]
		out = append(out, ex)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no examples", path)
	}
	return out, nil
}

func parseRow(raw json.RawMessage) (example, error) {
	var row map[string]json.RawMessage
	if err := json.Unmarshal(raw, &row); err != nil {
		return example{}, fmt.Errorf("not a JSON object: %w", err)
	}
	str := func(k string) (string, bool) {
		var s string
		v, ok := row[k]
		if !ok || json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	}
	var ex example
	switch {
	case row["messages"] != nil:
		var msgs []struct {
			chat.Message
			Weight *int `json:"weight"`
		}
		if err := json.Unmarshal(row["messages"], &msgs); err != nil {
			return ex, fmt.Errorf("messages: %w", err)
		}
		var ms []chat.Message
		if err := json.Unmarshal(row["messages"], &ms); err != nil {
			return ex, fmt.Errorf("messages: %w", err)
		}
		for i := range ms {
			ex.Msgs = append(ex.Msgs, ms[i])
			ex.Weights = append(ex.Weights, msgs[i].Weight == nil || *msgs[i].Weight != 0)
		}
	case row["conversations"] != nil:
		var conv []struct{ From, Value string }
		if err := json.Unmarshal(row["conversations"], &conv); err != nil {
			return ex, fmt.Errorf("conversations: %w", err)
		}
		roles := map[string]string{"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system", "tool": "tool", "function_call": "assistant", "observation": "tool"}
		for i, c := range conv {
			role, ok := roles[c.From]
			if !ok {
				return ex, fmt.Errorf("conversations[%d]: unknown from %q", i, c.From)
			}
			ex.Msgs = append(ex.Msgs, chat.Message{Role: role, Content: c.Value})
			ex.Weights = append(ex.Weights, true)
		}
	case row["instruction"] != nil:
		ins, _ := str("instruction")
		in, _ := str("input")
		outp, ok := str("output")
		if !ok {
			return ex, fmt.Errorf(`key "output" is missing`)
		}
		if sys, ok := str("system"); ok && sys != "" {
			ex.Msgs = append(ex.Msgs, chat.Message{Role: "system", Content: sys})
		}
		user := ins
		if in != "" {
			user += "\n\n" + in
		}
		ex.Msgs = append(ex.Msgs, chat.Message{Role: "user", Content: user}, chat.Message{Role: "assistant", Content: outp})
	case row["prompt"] != nil:
		p, _ := str("prompt")
		c, ok := str("completion")
		if !ok {
			return ex, fmt.Errorf(`key "completion" is missing`)
		}
		ex.Msgs = []chat.Message{{Role: "user", Content: p}, {Role: "assistant", Content: c}}
	case row["text"] != nil:
		t, ok := str("text")
		if !ok || t == "" {
			return ex, fmt.Errorf(`key "text" is empty or not a string`)
		}
		ex.Text = t
		return ex, nil
	default:
		return ex, fmt.Errorf("no known format: want messages, conversations, instruction/output, prompt/completion or text")
	}
	for len(ex.Weights) < len(ex.Msgs) {
		ex.Weights = append(ex.Weights, true)
	}
	if len(ex.Msgs) == 0 || ex.Msgs[len(ex.Msgs)-1].Role != "assistant" {
		return ex, fmt.Errorf("the conversation does not end with an assistant turn")
	}
	return ex, nil
}

// renderer turns examples into token ids and loss labels.
type renderer struct {
	tok           *tokenizer.Tokenizer
	tmpl          *chat.Template
	trainOnPrompt bool
	maxLen        int
}

// render tokenizes one example. Text is wrapped in BOS/EOS and cut into
// pieces of at most maxLen tokens, every token trained. A conversation is
// rendered through the template; only the assistant turns (content and
// end-of-turn marker) train, unless trainOnPrompt.
func (r *renderer) render(ex example) ([]train.Sequence, error) {
	if ex.Text != "" {
		ids := r.tok.Encode(ex.Text, false)
		if bos, ok := r.tok.BOS(); ok {
			ids = append([]int32{bos}, ids...)
		}
		if eos, ok := r.tok.EOS(); ok {
			ids = append(ids, eos)
		}
		var out []train.Sequence
		for lo := 0; lo < len(ids)-1; lo += r.maxLen {
			piece := ids[lo:min(lo+r.maxLen, len(ids))]
			out = append(out, train.Sequence{IDs: piece, Labels: append([]int32(nil), piece...)})
		}
		return out, nil
	}
	rd, err := r.tmpl.Render(ex.Msgs, chat.Options{})
	if err != nil {
		return nil, err
	}
	ids, offs := r.tok.EncodeOffsets(rd.Text, false)
	labels := make([]int32, len(ids))
	trained := 0
	for i := range ids {
		labels[i] = compute.IgnoreIndex
		keep := r.trainOnPrompt
		for j, sp := range rd.Spans {
			if sp.Role == "assistant" && ex.Weights[j] && offs[i][0] < sp.Trained.End && offs[i][1] > sp.Trained.Start {
				keep = true
			}
		}
		if keep {
			labels[i] = ids[i]
			trained++
		}
	}
	if trained == 0 {
		return nil, fmt.Errorf("no token is trained (every assistant turn has weight 0 or is empty)")
	}
	if len(ids) > r.maxLen {
		return nil, errTooLong{len(ids), r.maxLen}
	}
	return []train.Sequence{{IDs: ids, Labels: labels}}, nil
}

type errTooLong struct{ n, max int }

func (e errTooLong) Error() string {
	return fmt.Sprintf("%d tokens exceed data.max_seq_len %d", e.n, e.max)
}

// renderAll renders examples, skipping (and counting) those over the length
// limit; any other problem is an error naming the file and line.
func (r *renderer) renderAll(exs []example, ev Events) ([]train.Sequence, error) {
	var out []train.Sequence
	skipped := 0
	for _, ex := range exs {
		seqs, err := r.render(ex)
		if _, long := err.(errTooLong); long {
			skipped++
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", ex.File, ex.Line, err)
		}
		out = append(out, seqs...)
	}
	if skipped > 0 && ev != nil {
		ev.Note(fmt.Sprintf("skipped %d examples longer than data.max_seq_len %d (hone data check lists them)", skipped, r.maxLen))
	}
	return out, nil
}

// splitVal deterministically moves about frac of the examples to the
// validation side, by a hash of their normalised content, so duplicates
// always land together.
func splitVal(exs []example, frac float64, seed uint64) (tr, val []example) {
	for _, ex := range exs {
		h := fnv.New64a()
		fmt.Fprintf(h, "%d\x00%s", seed, ex.key())
		if float64(h.Sum64()%1_000_000)/1e6 < frac {
			val = append(val, ex)
		} else {
			tr = append(tr, ex)
		}
	}
	return tr, val
}

// pack puts sequences into rows of at most maxLen tokens, first fit in a
// seeded order, each example keeping its own positions and segment.
func pack(seqs []train.Sequence, maxLen int, seed uint64) []train.Sequence {
	order := rand.New(rand.NewPCG(seed, 0x7061636b)).Perm(len(seqs))
	var rows []train.Sequence
	for _, i := range order {
		s := seqs[i]
		placed := false
		for r := range rows {
			if len(rows[r].IDs)+len(s.IDs) <= maxLen {
				appendSeg(&rows[r], s)
				placed = true
				break
			}
		}
		if !placed {
			row := train.Sequence{}
			appendSeg(&row, s)
			rows = append(rows, row)
		}
	}
	return rows
}

func appendSeg(row *train.Sequence, s train.Sequence) {
	seg := int32(0)
	if n := len(row.Seg); n > 0 {
		seg = row.Seg[n-1] + 1
	}
	row.IDs = append(row.IDs, s.IDs...)
	row.Labels = append(row.Labels, s.Labels...)
	for t := range s.IDs {
		row.Pos = append(row.Pos, int32(t))
		row.Seg = append(row.Seg, seg)
	}
}

// prepareData reads, renders, splits, mixes and packs the recipe's data.
func prepareData(r *Recipe, tok *tokenizer.Tokenizer, tmpl *chat.Template, c *model.Config, ev Events) (*dataset, error) {
	ds := &dataset{Template: tmpl.Name}
	rd := &renderer{tok: tok, tmpl: tmpl, trainOnPrompt: r.Data.TrainOnPrompt, maxLen: min(r.Data.MaxSeqLen, c.MaxPositions)}
	var all []example
	for _, f := range r.Data.Train {
		exs, err := readExamples(r.Path(f))
		if err != nil {
			return nil, err
		}
		all = append(all, exs...)
		ds.Files = append(ds.Files, r.Path(f))
	}
	var trEx, valEx []example
	if r.Data.Validation != "" {
		var err error
		if valEx, err = readExamples(r.Path(r.Data.Validation)); err != nil {
			return nil, err
		}
		trEx = all
		ds.Files = append(ds.Files, r.Path(r.Data.Validation))
	} else {
		trEx, valEx = splitVal(all, r.Data.ValFraction, r.Train.Seed)
	}
	var err error
	if ds.Train, err = rd.renderAll(trEx, ev); err != nil {
		return nil, err
	}
	if ds.Val, err = rd.renderAll(valEx, ev); err != nil {
		return nil, err
	}
	if len(ds.Train) == 0 {
		return nil, fmt.Errorf("data.train: no usable training example")
	}
	if r.Data.Mix.File != "" && r.Data.Mix.Ratio > 0 {
		gen, err := readExamples(r.Path(r.Data.Mix.File))
		if err != nil {
			return nil, err
		}
		ds.Files = append(ds.Files, r.Path(r.Data.Mix.File))
		gs, err := rd.renderAll(gen, ev)
		if err != nil {
			return nil, err
		}
		want := int(float64(len(ds.Train)) * r.Data.Mix.Ratio / (1 - r.Data.Mix.Ratio))
		rng := rand.New(rand.NewPCG(r.Train.Seed, 0x6d6978))
		for i := 0; i < want && len(gs) > 0; i++ {
			ds.Train = append(ds.Train, gs[rng.IntN(len(gs))])
		}
		if ev != nil {
			ev.Note(fmt.Sprintf("mixed %d general sequences into %d task sequences (ratio %.2f)", want, len(ds.Train)-want, r.Data.Mix.Ratio))
		}
	}
	if r.Data.Pack {
		n := len(ds.Train)
		ds.Train = pack(ds.Train, rd.maxLen, r.Train.Seed)
		if ev != nil {
			ev.Note(fmt.Sprintf("packed %d sequences into %d rows of at most %d tokens", n, len(ds.Train), rd.maxLen))
		}
	}
	ds.Pad = padID(tok, c)
	// evaluation data
	testEx := valEx
	if r.Eval.Test != "" {
		if testEx, err = readExamples(r.Path(r.Eval.Test)); err != nil {
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
		if len(ex.Msgs) == 0 {
			continue
		}
		last := len(ex.Msgs) - 1
		text, err := tmpl.RenderText(ex.Msgs[:last], chat.Options{AddGenerationPrompt: true})
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", ex.File, ex.Line, err)
		}
		ds.Tasks = append(ds.Tasks, eval.Task{PromptIDs: tok.Encode(text, false), PromptText: text, Reference: ex.Msgs[last].Text()})
	}
	if r.Eval.General != "" {
		gen, err := readExamples(r.Path(r.Eval.General))
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

// padID picks the padding id: the config's pad, else EOS (padding is never
// trained, so it cannot be confused with a trained EOS).
func padID(tok *tokenizer.Tokenizer, c *model.Config) int32 {
	if c.Pad >= 0 {
		return int32(c.Pad)
	}
	if eos, ok := tok.EOS(); ok {
		return eos
	}
	return 0
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
