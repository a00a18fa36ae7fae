package chat

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/ardanlabs/jinja"
)

// Range is the half-open byte range [Start, End) of a rendered text.
type Range struct {
	Start, End int
}

// Len returns the length of r in bytes.
func (r Range) Len() int { return r.End - r.Start }

// Span locates one message in the rendered text.
type Span struct {
	// Role is the message's role.
	Role string
	// Message covers the whole message: its header, content and end
	// marker, plus whitespace that follows the end marker. The spans of
	// consecutive messages are contiguous; the first starts at 0 and
	// includes anything the template writes before it (BOS, a tools
	// preamble). Text after the last span is the generation prompt, if any.
	Message Range
	// Content covers the message content as it appears in the text (a
	// template may trim surrounding whitespace). For content given as
	// parts it runs from the first text part to the last. Empty content
	// gives an empty range where the content would be.
	Content Range
	// Trained, for assistant messages, covers what the model generates for
	// this turn after the generation prompt: the content, whatever the
	// template writes around it (tool calls, a <think> block), and the
	// end-of-turn marker. It is the range a loss mask should keep. Zero
	// for other roles.
	Trained Range
}

// Rendered is a rendered conversation with the location of each message.
type Rendered struct {
	// Text is the rendered conversation.
	Text string
	// Spans has one entry per message, in order.
	Spans []Span
}

// Trained returns the trained ranges of all assistant messages, in order.
func (r *Rendered) Trained() []Range {
	var out []Range
	for _, s := range r.Spans {
		if s.Role == "assistant" {
			out = append(out, s.Trained)
		}
	}
	return out
}

// SpanError is the error of a template whose rendering cannot be split into
// messages without guessing.
type SpanError struct {
	// Template is the template's Name.
	Template string
	// Message is the index of the message concerned, -1 when none.
	Message int
	// Reason says what went wrong.
	Reason string
}

// Error returns the reason with the template's name and, when one is
// concerned, the message's index.
func (e *SpanError) Error() string {
	if e.Message < 0 {
		return fmt.Sprintf("chat template %s: cannot locate message spans: %s", e.Template, e.Reason)
	}
	return fmt.Sprintf("chat template %s: cannot locate message %d: %s", e.Template, e.Message, e.Reason)
}

// Render renders the conversation and locates every message in the text.
//
// Spans are found without trusting the template's structure:
//
//  1. The conversation is rendered again with each non-empty content (each
//     text part) replaced by a unique placeholder. Every placeholder must
//     appear exactly once and in message order; the text between them is
//     the template's own text.
//  2. The real text must then be exactly that template text with each
//     placeholder replaced by its content, allowing only for the
//     whitespace trimming templates do (trim, strip, lstrip('\n')), and in
//     exactly one way. This fixes the content ranges.
//  3. A message ends after the first end-of-turn marker (EndOfTurn) that
//     follows its content, plus the whitespace after it. A message without
//     such a marker ends where rendering the conversation up to it ends,
//     when that rendering is a prefix of the text, and otherwise after its
//     content and the whitespace that follows.
//  4. An assistant turn's trained range starts where the generation prompt
//     ends: the conversation before it, rendered with
//     add_generation_prompt, when that is a prefix of the text; otherwise
//     at its content. It ends with its end-of-turn marker.
//
// When any check fails, Render returns a *SpanError instead of guessing:
// for example a template that drops or duplicates a message, rewrites its
// content (Qwen3 moving "<think>" out of the content: pass the trace as
// ReasoningContent instead), or writes no end-of-turn marker after an
// assistant turn.
func (t *Template) Render(msgs []Message, opt Options) (*Rendered, error) {
	vals, err := messageValues(msgs)
	if err != nil {
		return nil, err
	}
	shared, err := t.data(opt)
	if err != nil {
		return nil, err
	}
	text, err := t.render(vals, opt.AddGenerationPrompt, shared)
	if err != nil {
		return nil, err
	}
	spans, err := t.locate(msgs, vals, text, opt.AddGenerationPrompt, shared)
	if err != nil {
		return nil, err
	}
	return &Rendered{Text: text, Spans: spans}, nil
}

// piece is one placeholder: a content (or text part) of message msg.
type piece struct {
	msg      int
	text     string // the original content
	sentinel string
	at       Range // where it landed in the real text
}

func (t *Template) locate(msgs []Message, vals []jinja.Value, text string, agp bool, shared map[string]jinja.Value) ([]Span, error) {
	fail := func(msg int, format string, args ...any) error {
		return &SpanError{Template: t.Name, Message: msg, Reason: fmt.Sprintf(format, args...)}
	}

	// 1. Placeholders that occur nowhere in the text or the contents.
	prefix := ""
	for n := 0; ; n++ {
		prefix = "HONESPAN" + strconv.Itoa(n) + "X"
		clash := strings.Contains(text, prefix)
		for i := range msgs {
			clash = clash || strings.Contains(msgs[i].Text(), prefix)
		}
		if !clash {
			break
		}
	}
	var pieces []piece
	sent := make([]Message, len(msgs))
	for i, m := range msgs {
		sent[i] = m
		add := func(s string) string {
			p := piece{msg: i, text: s, sentinel: prefix + strconv.Itoa(len(pieces)) + "X"}
			pieces = append(pieces, p)
			return p.sentinel
		}
		if m.Parts == nil {
			if m.Content != "" {
				sent[i].Content = add(m.Content)
			}
			continue
		}
		sent[i].Parts = append([]Part(nil), m.Parts...)
		for j, p := range sent[i].Parts {
			if p.Type == "text" && p.Text != "" {
				sent[i].Parts[j].Text = add(p.Text)
			}
		}
	}
	svals, err := messageValues(sent)
	if err != nil {
		return nil, err
	}
	stext, err := t.render(svals, agp, shared)
	if err != nil {
		return nil, fail(-1, "rendering with placeholder contents: %v", err)
	}
	glue := make([]string, 0, len(pieces)+1)
	last := 0
	for _, p := range pieces {
		n := strings.Count(stext, p.sentinel)
		if n != 1 {
			if n == 0 {
				return nil, fail(p.msg, "the template leaves out its content (role %q)", msgs[p.msg].Role)
			}
			return nil, fail(p.msg, "the template writes its content %d times (role %q)", n, msgs[p.msg].Role)
		}
		at := strings.Index(stext, p.sentinel)
		if at < last {
			return nil, fail(p.msg, "the template writes message contents out of order")
		}
		glue = append(glue, stext[last:at])
		last = at + len(p.sentinel)
	}
	glue = append(glue, stext[last:])

	// 2. Match the real text against the template text.
	if err := matchPieces(text, glue, pieces); err != nil {
		if me, ok := err.(*matchError); ok {
			if me.ambiguous {
				return nil, fail(-1, "the contents can be placed in the text in more than one way")
			}
			m := 0
			if me.piece < len(pieces) {
				m = pieces[me.piece].msg
			} else if len(pieces) > 0 {
				m = pieces[len(pieces)-1].msg
			}
			return nil, fail(m, "the rendered text is not the template text with the contents filled in "+
				"(the template changes this content, or renders differently depending on it; role %q)", msgs[m].Role)
		}
		return nil, err
	}

	// 3, 4. Message boundaries and trained ranges.
	content := make([]Range, len(msgs))
	has := make([]bool, len(msgs))
	for _, p := range pieces {
		if !has[p.msg] {
			content[p.msg] = p.at
			has[p.msg] = true
		}
		content[p.msg].End = p.at.End
	}
	eot := t.EndOfTurn()
	spans := make([]Span, len(msgs))
	pos := 0
	for k := range msgs {
		sp := Span{Role: msgs[k].Role, Message: Range{Start: pos}}
		limit := len(text)
		for j := k + 1; j < len(msgs); j++ {
			if has[j] {
				limit = content[j].Start
				break
			}
		}
		from := pos
		if has[k] {
			sp.Content = content[k]
			from = content[k].End
		}
		if sp.Role == "assistant" {
			start := -1
			if g, err := t.render(vals[:k], true, shared); err == nil && strings.HasPrefix(text, g) &&
				len(g) >= pos && (!has[k] && len(g) <= limit || has[k] && len(g) <= content[k].Start) {
				start = len(g)
			}
			switch {
			case start >= 0:
			case has[k]:
				start = content[k].Start
			default:
				return nil, fail(k, "the assistant message has no content, and the conversation before it rendered with add_generation_prompt is not a prefix of the text")
			}
			sp.Trained.Start = start
			if !has[k] {
				sp.Content = Range{start, start}
				from = start
			}
		}
		at, marker := firstMarker(text[from:limit], eot)
		switch {
		case at >= 0:
			at += from
			sp.Message.End = at + len(marker)
			for sp.Message.End < limit && isSpaceByte(text[sp.Message.End]) {
				sp.Message.End++
			}
			if sp.Role == "assistant" {
				sp.Trained.End = at + len(marker)
			}
			if !has[k] && sp.Role != "assistant" {
				sp.Content = Range{at, at}
			}
		case sp.Role == "assistant":
			if len(eot) == 0 {
				return nil, fail(k, "the template has no known end-of-turn marker, so the end of an assistant turn cannot be trained")
			}
			return nil, fail(k, "no end-of-turn marker (%s) follows the assistant content", strings.Join(eot, " "))
		default:
			end := -1
			if b, err := t.render(vals[:k+1], false, shared); err == nil && strings.HasPrefix(text, b) && len(b) >= from && len(b) <= limit {
				end = len(b)
			}
			switch {
			case end >= 0:
			case has[k]:
				end = content[k].End
				for end < limit && isSpaceByte(text[end]) {
					end++
				}
			default:
				return nil, fail(k, "the message has no content and no end-of-turn marker to place it by")
			}
			sp.Message.End = end
			if !has[k] {
				sp.Content = Range{end, end}
			}
		}
		if sp.Message.End < sp.Content.End || sp.Content.Start < sp.Message.Start {
			return nil, fail(k, "inconsistent spans (message %v, content %v)", sp.Message, sp.Content)
		}
		spans[k] = sp
		pos = sp.Message.End
	}
	return spans, nil
}

// firstMarker returns the earliest occurrence in s of any marker (the
// longest on a tie), or -1.
func firstMarker(s string, markers []string) (int, string) {
	best, bm := -1, ""
	for _, m := range markers {
		i := strings.Index(s, m)
		if i >= 0 && (best < 0 || i < best || i == best && len(m) > len(bm)) {
			best, bm = i, m
		}
	}
	return best, bm
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\n' || c == '\t' || c == '\r'
}

type matchError struct {
	piece     int // the piece to blame
	ambiguous bool
}

func (e *matchError) Error() string { return "content match failed" }

// matchPieces finds the unique way to write text as glue[0] x0 glue[1] x1
// ... glue[n] where each xi is pieces[i].text with some leading and trailing
// whitespace removed, and stores the ranges in pieces[i].at.
func matchPieces(text string, glue []string, pieces []piece) error {
	if !strings.HasPrefix(text, glue[0]) {
		return &matchError{piece: 0}
	}
	type key struct{ j, pos int }
	memo := map[key]int{}
	furthest, glueFailed := 0, false
	var count func(j, pos int) int
	count = func(j, pos int) int {
		if j == len(pieces) {
			if pos == len(text) {
				return 1
			}
			return 0
		}
		k := key{j, pos}
		if n, ok := memo[k]; ok {
			return n
		}
		if j > furthest {
			furthest, glueFailed = j, false
		}
		n := 0
		for _, x := range candidates(pieces[j].text) {
			rest := text[pos:]
			if !strings.HasPrefix(rest, x) {
				continue
			}
			if !strings.HasPrefix(rest[len(x):], glue[j+1]) {
				if j == furthest {
					glueFailed = true
				}
				continue
			}
			n += count(j+1, pos+len(x)+len(glue[j+1]))
			if n >= 2 {
				n = 2
				break
			}
		}
		memo[k] = n
		return n
	}
	switch count(0, len(glue[0])) {
	case 0:
		// The content of piece furthest did not fit, or it did and the
		// template text after it differs: then the difference is in the
		// header of the next message (or in the trailing text).
		if glueFailed && furthest+1 < len(pieces) {
			furthest++
		}
		return &matchError{piece: furthest}
	case 2:
		return &matchError{ambiguous: true}
	}
	// Walk the unique path.
	pos := len(glue[0])
	for j := range pieces {
		for _, x := range candidates(pieces[j].text) {
			rest := text[pos:]
			if strings.HasPrefix(rest, x) && strings.HasPrefix(rest[len(x):], glue[j+1]) &&
				count(j+1, pos+len(x)+len(glue[j+1])) == 1 {
				pieces[j].at = Range{pos, pos + len(x)}
				pos += len(x) + len(glue[j+1])
				break
			}
		}
	}
	return nil
}

// candidates returns the distinct forms a content may take in the text:
// as is, or with leading / trailing newlines or whitespace stripped (the
// trim filter, str.strip, lstrip('\n'), ...). Whitespace is Python's
// str.isspace set.
func candidates(s string) []string {
	lead := []int{0, len(s) - len(strings.TrimLeft(s, "\n")), len(s) - len(strings.TrimLeftFunc(s, unicode.IsSpace))}
	trail := []int{len(s), len(strings.TrimRight(s, "\n")), len(strings.TrimRightFunc(s, unicode.IsSpace))}
	var out []string
	seen := map[string]bool{}
	for _, a := range lead {
		for _, b := range trail {
			if a > b || seen[s[a:b]] {
				continue
			}
			seen[s[a:b]] = true
			out = append(out, s[a:b])
		}
	}
	return out
}
