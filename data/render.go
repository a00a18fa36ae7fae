package data

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"hone/chat"
	"hone/tokenizer"
)

// IgnoreIndex is the label of a token that is not trained, as in
// transformers and compute.IgnoreIndex.
const IgnoreIndex = -100

// RenderOptions control Render.
type RenderOptions struct {
	// TrainOnPrompt trains on every token of a conversation (system and
	// user turns, template text) instead of the assistant turns only.
	// Assistant turns with weight 0 stay untrained either way.
	TrainOnPrompt bool
}

// ErrUntrained is the error (wrapped) of an example in which no token is
// trained: its mask is all zeros, so it would contribute nothing but
// compute. It is an error, never a silent skip.
var ErrUntrained = errors.New("no token is trained (the loss mask is all zeros)")

// Rendering is an example as the model sees it: the rendered text, its
// tokens with their byte ranges in the text, and their labels.
type Rendering struct {
	Text    string
	IDs     []int32
	Offsets [][2]int
	// Labels are IDs where the token is trained and IgnoreIndex elsewhere,
	// aligned with IDs (unshifted: the trainer scores position t's logits
	// against Labels[t+1]).
	Labels []int32
}

// Trained returns how many tokens are trained.
func (r *Rendering) Trained() int {
	n := 0
	for _, l := range r.Labels {
		if l != IgnoreIndex {
			n++
		}
	}
	return n
}

// Render turns an example into token ids and labels: a conversation goes
// through the chat template, and the tokens whose bytes fall in a trained
// span (an assistant turn with weight 1: its content and its end-of-turn
// marker) keep their id as label; a text example is BOS + text + EOS, all
// trained. The end-of-turn marker of every trained turn must be one
// special token of the tokenizer (the model has to learn to emit it), and
// an example with nothing trained returns ErrUntrained.
func Render(ex *Example, tmpl *chat.Template, tok *tokenizer.Tokenizer, opts RenderOptions) (ids, labels []int32, err error) {
	r, err := RenderFull(ex, tmpl, tok, opts)
	if err != nil {
		return nil, nil, err
	}
	return r.IDs, r.Labels, nil
}

// RenderFull is Render that also returns the text and token offsets, for
// previews.
func RenderFull(ex *Example, tmpl *chat.Template, tok *tokenizer.Tokenizer, opts RenderOptions) (*Rendering, error) {
	if ex.IsText() {
		return renderText(ex.Text, tok)
	}
	msgs, weights := conversation(ex, tmpl)
	var copts chat.Options
	for _, t := range ex.Tools {
		copts.Tools = append(copts.Tools, t)
	}
	rd, err := tmpl.Render(msgs, copts)
	if err != nil {
		return nil, err
	}
	ids, offs := tok.EncodeOffsets(rd.Text, false)
	labels := make([]int32, len(ids))
	for i := range labels {
		labels[i] = IgnoreIndex
	}
	overlaps := func(i int, sp chat.Range) bool {
		o := offs[i]
		return o[0] < sp.End && o[1] > sp.Start
	}
	for j, sp := range rd.Spans {
		if sp.Role != "assistant" || !weights[j] {
			continue
		}
		last := -1
		for i := range ids {
			if overlaps(i, sp.Trained) {
				labels[i] = ids[i]
				last = i
			}
		}
		if last < 0 {
			continue
		}
		// The turn must end with a single special token, trained.
		if o := offs[last]; o[1] != sp.Trained.End || !tok.IsSpecial(ids[last]) {
			marker := rd.Text[sp.Trained.Start:sp.Trained.End]
			if eot := lastMarker(marker, tmpl.EndOfTurn()); eot != "" {
				marker = eot
			}
			return nil, fmt.Errorf("template %s: the end of an assistant turn (%q) is not one special token of the tokenizer: the model could not learn to stop", tmpl.Name, tail(marker, 24))
		}
	}
	if opts.TrainOnPrompt {
		for i := range ids {
			off := false
			for j, sp := range rd.Spans {
				if sp.Role == "assistant" && !weights[j] && overlaps(i, sp.Trained) {
					off = true
				}
			}
			if !off {
				labels[i] = ids[i]
			}
		}
	}
	out := &Rendering{Text: rd.Text, IDs: ids, Offsets: offs, Labels: labels}
	if out.Trained() == 0 {
		return nil, ErrUntrained
	}
	return out, nil
}

// renderText wraps a document in BOS and EOS, every token trained.
func renderText(text string, tok *tokenizer.Tokenizer) (*Rendering, error) {
	ids, offs := tok.EncodeOffsets(text, false)
	if bos, ok := tok.BOS(); ok {
		ids = append([]int32{bos}, ids...)
		offs = append([][2]int{{0, 0}}, offs...)
	}
	eos, ok := tok.EOS()
	if !ok {
		return nil, errors.New("the tokenizer has no EOS token: a text example needs one to end")
	}
	ids = append(ids, eos)
	offs = append(offs, [2]int{len(text), len(text)})
	return &Rendering{Text: text, IDs: ids, Offsets: offs, Labels: append([]int32(nil), ids...)}, nil
}

func lastMarker(s string, markers []string) string {
	best, at := "", -1
	for _, m := range markers {
		if i := strings.LastIndex(s, m); i > at {
			best, at = m, i
		}
	}
	return best
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// conversation returns the messages to render and their weights: an
// Alpaca input (RoleInput) stays a message of its own for a template that
// knows it, and is otherwise appended to the user message before it.
func conversation(ex *Example, tmpl *chat.Template) ([]chat.Message, []bool) {
	hasInput := false
	for _, m := range ex.Messages {
		hasInput = hasInput || m.Role == RoleInput
	}
	if !hasInput || KnowsInputRole(tmpl) {
		return ex.Messages, ex.Weights
	}
	msgs := make([]chat.Message, 0, len(ex.Messages))
	ws := make([]bool, 0, len(ex.Messages))
	for i, m := range ex.Messages {
		if m.Role == RoleInput && len(msgs) > 0 && msgs[len(msgs)-1].Role == "user" {
			prev := &msgs[len(msgs)-1]
			prev.Content = prev.Text() + "\n\n" + m.Text()
			prev.Parts = nil
			continue
		}
		if m.Role == RoleInput {
			m.Role = "user"
		}
		msgs = append(msgs, m)
		ws = append(ws, ex.Weights[i])
	}
	return msgs, ws
}

// KnowsInputRole reports whether a template compares a message's role
// with "input" (as the built-in alpaca template does), so that an Alpaca
// input keeps its own section.
func KnowsInputRole(t *chat.Template) bool {
	return strings.Contains(t.Source, "'input'") || strings.Contains(t.Source, `"input"`)
}

// LoadTemplate resolves a template name for a model folder: "auto" (or "")
// is the model's own chat template, or fallback when it has none; a name
// ending in .jinja is a template file; anything else names a built-in
// template (chat.Names). Built-in and file templates are given the
// tokenizer's BOS and EOS tokens, so that eos_token is one of its tokens.
func LoadTemplate(spec, modelDir, fallback string, tok *tokenizer.Tokenizer) (*chat.Template, error) {
	var sp chat.Specials
	if tok != nil {
		if id, ok := tok.BOS(); ok {
			sp.BOS = tok.Token(id)
		}
		if id, ok := tok.EOS(); ok {
			sp.EOS = tok.Token(id)
		}
	}
	withSpecials := func(t *chat.Template) *chat.Template {
		s := t.Specials
		if sp.BOS != "" {
			s.BOS = sp.BOS
		}
		if sp.EOS != "" {
			s.EOS = sp.EOS
		}
		return t.WithSpecials(s)
	}
	switch {
	case spec == "" || spec == "auto":
		if modelDir != "" {
			t, err := chat.Load(modelDir)
			if err == nil || !errors.Is(err, chat.ErrNoTemplate) {
				return t, err
			}
		}
		if fallback == "" {
			fallback = "chatml"
		}
		t, err := chat.Named(fallback)
		if err != nil {
			return nil, err
		}
		return withSpecials(t), nil
	case strings.HasSuffix(spec, ".jinja"):
		src, err := os.ReadFile(spec)
		if err != nil {
			return nil, err
		}
		t, err := chat.Parse(string(src), spec, sp)
		if err != nil {
			return nil, err
		}
		return t, nil
	default:
		t, err := chat.Named(spec)
		if err != nil {
			return nil, err
		}
		return withSpecials(t), nil
	}
}

// DefaultTemplate is the built-in template for a format when the model has
// none: alpaca for Alpaca data, ChatML otherwise.
func DefaultTemplate(f Format) string {
	if f == FormatAlpaca {
		return "alpaca"
	}
	return "chatml"
}

// PadID chooses the id that pads batches: the tokenizer's pad token (pad)
// when it is not an end-of-turn marker, else a usual pad or unknown token,
// else a reserved special token, else EOS. Padding is masked by position (its labels are
// IgnoreIndex), never by id, so a pad that equals EOS still cannot hide a
// trained EOS; choosing a distinct id keeps the two apart in the data as
// well.
func PadID(tok *tokenizer.Tokenizer, pad string, endOfTurn []string) int32 {
	eot := map[string]bool{}
	for _, s := range endOfTurn {
		eot[s] = true
	}
	eos, hasEOS := tok.EOS()
	if hasEOS {
		eot[tok.Token(eos)] = true
	}
	if pad != "" && !eot[pad] {
		if id, ok := tok.TokenID(pad); ok {
			return id
		}
	}
	for _, name := range []string{"<pad>", "<|pad|>", "[PAD]", "<|finetune_right_pad_id|>", "<|endoftext|>", "<unk>"} {
		if eot[name] {
			continue
		}
		if id, ok := tok.TokenID(name); ok {
			return id
		}
	}
	// A special token reserved for later use (Llama 3's
	// <|reserved_special_token_N|>), never seen in text.
	for _, a := range tok.AddedTokens() {
		if a.Special && strings.Contains(a.Content, "reserved") && !eot[a.Content] {
			return a.ID
		}
	}
	if hasEOS {
		return eos
	}
	return 0
}
