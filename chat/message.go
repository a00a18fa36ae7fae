package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/ardanlabs/jinja"
)

// Message is one turn of a conversation in the OpenAI / Hugging Face shape.
// Its JSON form is {"role", "content", ...}: content is a string, null, or a
// list of content parts; every field hone does not know goes to Extra and
// reaches the template unchanged.
type Message struct {
	// Role is "system", "user", "assistant", "tool" or whatever else the
	// template understands.
	Role string
	// Content is the text of the message when it was given as a string
	// (a JSON null reads as "").
	Content string
	// Parts holds the content when it was given as a list of parts; then
	// Content is empty.
	Parts []Part
	// Name is the optional author name ("name").
	Name string
	// ToolCallID ties a tool result to the call it answers ("tool_call_id").
	ToolCallID string
	// ToolCalls are the function calls an assistant message makes.
	ToolCalls []ToolCall
	// ReasoningContent is a reasoning trace kept apart from the answer, as
	// Qwen3 and DeepSeek templates expect ("reasoning_content").
	ReasoningContent string
	// Extra holds the other fields of the message, passed to the template
	// as they are.
	Extra map[string]json.RawMessage
}

// Part is one element of a list-valued content: {"type": "text", "text":
// ...}, or another type (an image, ...) kept as raw JSON.
type Part struct {
	// Type is the part type, "text" for text.
	Type string
	// Text is the text of a text part.
	Text string
	// Raw is the whole part as given, for parts that are not plain text;
	// nil for text parts.
	Raw json.RawMessage
}

// ToolCall is a function call made by an assistant message.
type ToolCall struct {
	// ID is the call id ("id"), optional.
	ID string `json:"id,omitempty"`
	// Type is "function" (the only type in use).
	Type string `json:"type,omitempty"`
	// Function names the function and holds its arguments.
	Function FunctionCall `json:"function"`
}

// FunctionCall is the function and arguments of a ToolCall.
type FunctionCall struct {
	// Name is the function name.
	Name string `json:"name"`
	// Arguments is a JSON object (Hugging Face style) or a JSON string that
	// holds an encoded object (OpenAI style); templates see it as given.
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

// Text returns the content of m as one string: Content, or the texts of its
// text parts joined without separator.
func (m *Message) Text() string {
	if m.Parts == nil {
		return m.Content
	}
	var b bytes.Buffer
	for _, p := range m.Parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// UnmarshalJSON reads a message; errors name the offending key.
func (m *Message) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if raw == nil {
		return errors.New("message is null")
	}
	*m = Message{}
	str := func(key string, dst *string, required bool) error {
		v, ok := raw[key]
		delete(raw, key)
		if !ok || string(v) == "null" {
			if required {
				return fmt.Errorf("key %q: missing", key)
			}
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("key %q: want a string: %w", key, err)
		}
		return nil
	}
	if err := str("role", &m.Role, true); err != nil {
		return err
	}
	if m.Role == "" {
		return errors.New(`key "role": empty`)
	}
	if v, ok := raw["content"]; ok {
		delete(raw, "content")
		switch t := bytes.TrimSpace(v); {
		case len(t) > 0 && t[0] == '[':
			var parts []json.RawMessage
			if err := json.Unmarshal(t, &parts); err != nil {
				return fmt.Errorf("key \"content\": %w", err)
			}
			m.Parts = make([]Part, 0, len(parts))
			for i, pr := range parts {
				var p struct {
					Type string  `json:"type"`
					Text *string `json:"text"`
				}
				if err := json.Unmarshal(pr, &p); err != nil {
					return fmt.Errorf("key \"content\": part %d: %w", i, err)
				}
				switch {
				case p.Type == "":
					return fmt.Errorf("key \"content\": part %d: key \"type\": missing", i)
				case p.Type == "text" && p.Text == nil:
					return fmt.Errorf("key \"content\": part %d: key \"text\": missing", i)
				case p.Type == "text":
					m.Parts = append(m.Parts, Part{Type: "text", Text: *p.Text})
				default:
					m.Parts = append(m.Parts, Part{Type: p.Type, Raw: append(json.RawMessage(nil), pr...)})
				}
			}
		case string(t) == "null":
		default:
			if err := json.Unmarshal(t, &m.Content); err != nil {
				return fmt.Errorf("key \"content\": want a string, null or a list of parts: %w", err)
			}
		}
	}
	if err := str("name", &m.Name, false); err != nil {
		return err
	}
	if err := str("tool_call_id", &m.ToolCallID, false); err != nil {
		return err
	}
	if err := str("reasoning_content", &m.ReasoningContent, false); err != nil {
		return err
	}
	if v, ok := raw["tool_calls"]; ok {
		delete(raw, "tool_calls")
		if string(v) != "null" {
			if err := json.Unmarshal(v, &m.ToolCalls); err != nil {
				return fmt.Errorf("key \"tool_calls\": %w", err)
			}
			for i, tc := range m.ToolCalls {
				if tc.Function.Name == "" {
					return fmt.Errorf("key \"tool_calls\": call %d: key \"function.name\": missing", i)
				}
				if a := bytes.TrimSpace(tc.Function.Arguments); len(a) > 0 && !json.Valid(a) {
					return fmt.Errorf("key \"tool_calls\": call %d: key \"function.arguments\": not valid JSON", i)
				}
			}
		}
	}
	if len(raw) > 0 {
		m.Extra = raw
	}
	return nil
}

// MarshalJSON writes m in the form UnmarshalJSON reads.
func (m Message) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	field := func(k string, v any) error {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("key %q: %w", k, err)
		}
		b.Write(vb)
		return nil
	}
	_ = field("role", m.Role)
	if m.Parts != nil {
		parts := make([]json.RawMessage, len(m.Parts))
		for i, p := range m.Parts {
			if p.Raw != nil {
				parts[i] = p.Raw
				continue
			}
			tb, _ := json.Marshal(map[string]string{"type": p.Type, "text": p.Text})
			parts[i] = tb
		}
		if err := field("content", parts); err != nil {
			return nil, err
		}
	} else {
		_ = field("content", m.Content)
	}
	if m.Name != "" {
		_ = field("name", m.Name)
	}
	if m.ToolCallID != "" {
		_ = field("tool_call_id", m.ToolCallID)
	}
	if m.ReasoningContent != "" {
		_ = field("reasoning_content", m.ReasoningContent)
	}
	if len(m.ToolCalls) > 0 {
		if err := field("tool_calls", m.ToolCalls); err != nil {
			return nil, err
		}
	}
	for _, k := range sortedKeys(m.Extra) {
		if err := field(k, m.Extra[k]); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// value converts m to the dict a template sees, in the key order of the
// OpenAI wire format: role, content, then the optional fields, then Extra
// sorted by key.
func (m *Message) value() (jinja.Value, error) {
	d := jinja.NewDict()
	dict := d.AsDict()
	dict.Set("role", jinja.NewString(m.Role))
	if m.Parts != nil {
		items := make([]jinja.Value, len(m.Parts))
		for i, p := range m.Parts {
			if p.Raw != nil {
				v, err := decodeOrdered(p.Raw)
				if err != nil {
					return jinja.Undefined(), fmt.Errorf("content part %d: %w", i, err)
				}
				items[i] = v
				continue
			}
			pd := jinja.NewDict()
			pd.AsDict().Set("type", jinja.NewString(p.Type))
			pd.AsDict().Set("text", jinja.NewString(p.Text))
			items[i] = pd
		}
		dict.Set("content", jinja.NewList(items))
	} else {
		dict.Set("content", jinja.NewString(m.Content))
	}
	if m.Name != "" {
		dict.Set("name", jinja.NewString(m.Name))
	}
	if m.ToolCallID != "" {
		dict.Set("tool_call_id", jinja.NewString(m.ToolCallID))
	}
	if m.ReasoningContent != "" {
		dict.Set("reasoning_content", jinja.NewString(m.ReasoningContent))
	}
	if len(m.ToolCalls) > 0 {
		calls := make([]jinja.Value, len(m.ToolCalls))
		for i, tc := range m.ToolCalls {
			c := jinja.NewDict()
			if tc.ID != "" {
				c.AsDict().Set("id", jinja.NewString(tc.ID))
			}
			typ := tc.Type
			if typ == "" {
				typ = "function"
			}
			c.AsDict().Set("type", jinja.NewString(typ))
			f := jinja.NewDict()
			f.AsDict().Set("name", jinja.NewString(tc.Function.Name))
			args := jinja.NewDict()
			if a := bytes.TrimSpace(tc.Function.Arguments); len(a) > 0 {
				v, err := decodeOrdered(a)
				if err != nil {
					return jinja.Undefined(), fmt.Errorf("tool call %d: arguments: %w", i, err)
				}
				args = v
			}
			f.AsDict().Set("arguments", args)
			c.AsDict().Set("function", f)
			calls[i] = c
		}
		dict.Set("tool_calls", jinja.NewList(calls))
	}
	for _, k := range sortedKeys(m.Extra) {
		v, err := decodeOrdered(m.Extra[k])
		if err != nil {
			return jinja.Undefined(), fmt.Errorf("key %q: %w", k, err)
		}
		dict.Set(k, v)
	}
	return d, nil
}

// Conversation is a messages file: the messages, and the tools offered to
// the model (JSON schemas, key order kept).
type Conversation struct {
	// Messages are the turns, in order.
	Messages []Message
	// Tools are the tool definitions, each a JSON object.
	Tools []json.RawMessage
}

// ParseConversation reads a conversation from JSON: either a list of
// messages, or an object {"messages": [...], "tools": [...]} (other keys
// of the object are errors). Errors carry the line and column.
func ParseConversation(data []byte) (*Conversation, error) {
	t := bytes.TrimSpace(data)
	if len(t) == 0 {
		return nil, errors.New("empty input: want a JSON list of messages or {\"messages\": [...]}")
	}
	var c Conversation
	var msgs []json.RawMessage
	if t[0] == '[' {
		if err := json.Unmarshal(data, &msgs); err != nil {
			return nil, jsonErr(data, err)
		}
	} else {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil {
			return nil, jsonErr(data, err)
		}
		for _, k := range sortedKeys(obj) {
			var err error
			switch k {
			case "messages":
				err = json.Unmarshal(obj[k], &msgs)
			case "tools":
				err = json.Unmarshal(obj[k], &c.Tools)
				for i, tool := range c.Tools {
					if b := bytes.TrimSpace(tool); err == nil && (len(b) == 0 || b[0] != '{') {
						err = fmt.Errorf("tool %d is not a JSON object", i)
					}
				}
			default:
				err = errors.New("unknown key")
			}
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
		}
		if msgs == nil {
			return nil, errors.New(`key "messages": missing`)
		}
	}
	c.Messages = make([]Message, len(msgs))
	for i, raw := range msgs {
		if err := json.Unmarshal(raw, &c.Messages[i]); err != nil {
			line, col := lineCol(data, bytes.Index(data, raw))
			return nil, fmt.Errorf("%d:%d: message %d: %w", line, col, i, err)
		}
	}
	return &c, nil
}

// jsonErr adds the line and column to a syntax or type error of
// encoding/json.
func jsonErr(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := lineCol(data, int(se.Offset))
		return fmt.Errorf("%d:%d: %w", line, col, err)
	case errors.As(err, &te):
		line, col := lineCol(data, int(te.Offset))
		return fmt.Errorf("%d:%d: %w", line, col, err)
	}
	return err
}

// lineCol converts a byte offset into a 1-based line and column.
func lineCol(data []byte, off int) (line, col int) {
	if off < 0 {
		return 0, 0
	}
	off = min(off, len(data))
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	col = off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}
