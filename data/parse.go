package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"hone/chat"
)

// formatKeys are the keys that identify each format, in detection order.
var formatKeys = []struct {
	format Format
	keys   []string
}{
	{FormatChat, []string{"messages"}},
	{FormatShareGPT, []string{"conversations"}},
	{FormatAlpaca, []string{"instruction", "output"}},
	{FormatPromptCompletion, []string{"prompt", "completion"}},
	{FormatText, []string{"text"}},
}

// detect returns the format whose keys the row has (any one of them), or
// FormatAuto.
func detect(row map[string]json.RawMessage) Format {
	for _, fk := range formatKeys {
		for _, k := range fk.keys {
			if _, ok := row[k]; ok {
				return fk.format
			}
		}
	}
	return FormatAuto
}

// rowParser collects the problems of one row.
type rowParser struct {
	file  string
	line  int
	row   map[string]json.RawMessage
	probs []Problem
}

func (p *rowParser) add(kind Kind, format string, args ...any) {
	p.probs = append(p.probs, Problem{File: p.file, Line: p.line, Kind: kind, Message: fmt.Sprintf(format, args...)})
}

// str reads a string key. A missing key (or null) gives ok false without
// a problem unless required; a value of another type is a problem.
func (p *rowParser) str(key string, required, nonEmpty bool) (string, bool) {
	v, ok := p.row[key]
	if !ok || string(v) == "null" {
		if required {
			p.add(KindMissingField, "key %q is missing", key)
		}
		return "", false
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		p.add(KindBadField, "key %q: want a string, got %s", key, jsonKind(v))
		return "", false
	}
	if nonEmpty && strings.TrimSpace(s) == "" {
		p.add(KindEmptyField, "key %q is empty", key)
		return s, false
	}
	return s, true
}

// jsonKind names the JSON type of a value.
func jsonKind(v json.RawMessage) string {
	t := bytes.TrimSpace(v)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// parse turns a decoded row into an Example, detecting the file's format
// on the first row that has known keys.
func (r *Reader) parse(row map[string]json.RawMessage, line int) (*Example, []Problem) {
	p := &rowParser{file: r.name, line: line, row: row}
	f := r.format
	if detect(row) == FormatAuto && r.opts.Format == FormatAuto {
		p.add(KindUnknownFormat, "no known keys (have %s): want messages, conversations, instruction/output, prompt/completion or text", keyList(row))
		return nil, p.probs
	}
	if f == FormatAuto {
		f = detect(row)
		r.format, r.formatAt = f, line
	}
	ex := &Example{File: r.name, Line: line, Format: f}
	switch f {
	case FormatChat:
		p.chat(ex)
	case FormatShareGPT:
		p.shareGPT(ex)
	case FormatAlpaca:
		p.alpaca(ex)
	case FormatPromptCompletion:
		p.promptCompletion(ex)
	case FormatText:
		if t, ok := p.str("text", true, true); ok {
			ex.Text = t
		}
	}
	if len(p.probs) > 0 {
		if r.formatAt > 0 && r.formatAt != line && detect(row) != f && detect(row) != FormatAuto {
			for i := range p.probs {
				p.probs[i].Message += fmt.Sprintf(" (the row looks %s, but the file is %s since line %d)", detect(row), f, r.formatAt)
			}
		}
		return nil, p.probs
	}
	if !ex.IsText() {
		for i := range ex.Weights {
			if ex.Weights[i] && ex.Messages[i].Role == "assistant" {
				return ex, nil
			}
		}
		p.add(KindUntrained, "every assistant turn has weight 0: nothing to train on")
		return nil, p.probs
	}
	return ex, nil
}

func keyList(row map[string]json.RawMessage) string {
	if len(row) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(row))
	for k := range row {
		keys = append(keys, fmt.Sprintf("%q", k))
	}
	sort.Strings(keys)
	if len(keys) > 6 {
		keys = append(keys[:6], "...")
	}
	return strings.Join(keys, ", ")
}

// push appends a message that trains when it is the assistant's.
func (ex *Example) push(role, content string) {
	ex.Messages = append(ex.Messages, chat.Message{Role: role, Content: content})
	ex.Weights = append(ex.Weights, true)
}

func (p *rowParser) alpaca(ex *Example) {
	ins, _ := p.str("instruction", true, true)
	in, _ := p.str("input", false, false)
	out, _ := p.str("output", true, true)
	sys, _ := p.str("system", false, false)
	var hist [][]json.RawMessage
	if v, ok := p.row["history"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &hist); err != nil {
			p.add(KindBadField, `key "history": want a list of [instruction, response] pairs`)
		}
	}
	if sys != "" {
		ex.push("system", sys)
	}
	for i, h := range hist {
		var q, a string
		if len(h) != 2 || json.Unmarshal(h[0], &q) != nil || json.Unmarshal(h[1], &a) != nil {
			p.add(KindBadField, `key "history": entry %d: want a pair of strings`, i)
			continue
		}
		if strings.TrimSpace(q) == "" || strings.TrimSpace(a) == "" {
			p.add(KindEmptyField, `key "history": entry %d: empty turn`, i)
		}
		ex.push("user", q)
		ex.push("assistant", a)
	}
	ex.push("user", ins)
	if strings.TrimSpace(in) != "" {
		ex.push(RoleInput, in)
	}
	ex.push("assistant", out)
}

func (p *rowParser) promptCompletion(ex *Example) {
	pr, _ := p.str("prompt", true, true)
	c, _ := p.str("completion", true, true)
	if sys, _ := p.str("system", false, false); sys != "" {
		ex.push("system", sys)
	}
	ex.push("user", pr)
	ex.push("assistant", c)
}

// chatRoles are the roles of the chat format.
var chatRoles = map[string]bool{"system": true, "user": true, "assistant": true, "tool": true}

func (p *rowParser) chat(ex *Example) {
	v, ok := p.row["messages"]
	if !ok {
		p.add(KindMissingField, `key "messages" is missing`)
		return
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(v, &raws); err != nil {
		p.add(KindBadField, `key "messages": want a list of messages, got %s`, jsonKind(v))
		return
	}
	if len(raws) == 0 {
		p.add(KindEmptyField, `key "messages" is an empty list`)
		return
	}
	for i, raw := range raws {
		var m chat.Message
		if err := json.Unmarshal(raw, &m); err != nil {
			kind := KindBadField
			if strings.Contains(err.Error(), "missing") {
				kind = KindMissingField
			}
			p.add(kind, "messages[%d]: %v", i, err)
			continue
		}
		w := true
		if wv, ok := m.Extra["weight"]; ok {
			switch strings.TrimSpace(string(wv)) {
			case "0", "0.0":
				w = false
			case "1", "1.0", "null":
			default:
				p.add(KindBadField, `messages[%d]: key "weight": want 0 or 1, got %s`, i, wv)
			}
			delete(m.Extra, "weight")
			if len(m.Extra) == 0 {
				m.Extra = nil
			}
			if m.Role != "assistant" && !w {
				// A weight on another role changes nothing; it is allowed.
				w = true
			}
		}
		if !chatRoles[m.Role] {
			p.add(KindUnknownRole, "messages[%d]: unknown role %q (want system, user, assistant or tool)", i, m.Role)
			continue
		}
		empty := strings.TrimSpace(m.Text()) == ""
		switch {
		case m.Role == "assistant" && empty && len(m.ToolCalls) == 0:
			p.add(KindEmptyField, "messages[%d]: the assistant message has neither content nor tool calls", i)
		case m.Role == "user" && empty:
			p.add(KindEmptyField, "messages[%d]: the user message is empty", i)
		}
		ex.Messages = append(ex.Messages, m)
		ex.Weights = append(ex.Weights, w)
	}
	p.tools(ex)
	p.endsWithAssistant(ex, "messages")
}

func (p *rowParser) endsWithAssistant(ex *Example, key string) {
	if n := len(ex.Messages); n > 0 && ex.Messages[n-1].Role != "assistant" && len(p.probs) == 0 {
		p.add(KindNoAssistantEnd, "key %q: the conversation ends with a %s turn, not an assistant turn: nothing to learn after it", key, ex.Messages[n-1].Role)
	}
}

// tools reads the "tools" key: a list of tool definitions, or (ShareGPT
// as LLaMA-Factory writes it) a string that holds such a list.
func (p *rowParser) tools(ex *Example) {
	v, ok := p.row["tools"]
	if !ok || string(v) == "null" {
		return
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if strings.TrimSpace(s) == "" {
			return
		}
		v = json.RawMessage(s)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(v, &list); err != nil {
		p.add(KindBadField, `key "tools": want a list of tool definitions`)
		return
	}
	for i, t := range list {
		if jsonKind(t) != "an object" {
			p.add(KindBadField, `key "tools": entry %d: want an object`, i)
			return
		}
	}
	ex.Tools = list
}

// shareGPTRoles maps ShareGPT's "from" values to roles.
var shareGPTRoles = map[string]string{
	"human": "user", "user": "user",
	"gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant", "bing": "assistant", "bard": "assistant",
	"system":        "system",
	"function_call": "assistant",
	"observation":   "tool", "tool": "tool", "function": "tool",
}

func (p *rowParser) shareGPT(ex *Example) {
	v, ok := p.row["conversations"]
	if !ok {
		p.add(KindMissingField, `key "conversations" is missing`)
		return
	}
	var turns []map[string]json.RawMessage
	if err := json.Unmarshal(v, &turns); err != nil {
		p.add(KindBadField, `key "conversations": want a list of {"from", "value"} turns, got %s`, jsonKind(v))
		return
	}
	if len(turns) == 0 {
		p.add(KindEmptyField, `key "conversations" is an empty list`)
		return
	}
	if sys, _ := p.str("system", false, false); sys != "" {
		ex.push("system", sys)
	}
	for i, t := range turns {
		var from, value string
		if json.Unmarshal(t["from"], &from) != nil {
			p.add(KindMissingField, `conversations[%d]: key "from" is missing or not a string`, i)
			continue
		}
		if json.Unmarshal(t["value"], &value) != nil {
			p.add(KindMissingField, `conversations[%d]: key "value" is missing or not a string`, i)
			continue
		}
		role, ok := shareGPTRoles[from]
		if !ok {
			p.add(KindUnknownRole, "conversations[%d]: unknown role %q (want human, gpt, system, function_call or observation)", i, from)
			continue
		}
		if strings.TrimSpace(value) == "" && role != "tool" {
			p.add(KindEmptyField, "conversations[%d]: the %s turn is empty", i, from)
		}
		if from == "function_call" {
			var call struct {
				Name      string          `json:"name"`
				Arguments json.RawMessage `json:"arguments"`
			}
			if err := json.Unmarshal([]byte(value), &call); err != nil || call.Name == "" {
				p.add(KindBadField, `conversations[%d]: a function_call value must be a JSON object {"name", "arguments"}`, i)
				continue
			}
			ex.Messages = append(ex.Messages, chat.Message{Role: "assistant", ToolCalls: []chat.ToolCall{{Type: "function", Function: chat.FunctionCall{Name: call.Name, Arguments: call.Arguments}}}})
			ex.Weights = append(ex.Weights, true)
			continue
		}
		ex.push(role, value)
	}
	p.tools(ex)
	p.endsWithAssistant(ex, "conversations")
}
