package chat

import (
	"encoding/json"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
)

func TestParseConversation(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		want  []Message
		tools int
	}{
		{"list", `[{"role": "user", "content": "hi"}]`, []Message{{Role: "user", Content: "hi"}}, 0},
		{"object with tools", `{"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]}`, []Message{{Role: "user", Content: "hi"}}, 1},
		{"null content and tool calls", `[{"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}]}]`,
			[]Message{{Role: "assistant", ToolCalls: []ToolCall{{ID: "c1", Type: "function", Function: FunctionCall{Name: "f", Arguments: json.RawMessage(`"{\"a\": 1}"`)}}}}}, 0},
		{"parts and extras", `[{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image", "url": "x.png"}], "name": "bo", "weight": 0.5}]`,
			[]Message{{Role: "user", Name: "bo", Parts: []Part{{Type: "text", Text: "a"}, {Type: "image", Raw: json.RawMessage(`{"type": "image", "url": "x.png"}`)}},
				Extra: map[string]json.RawMessage{"weight": json.RawMessage(`0.5`)}}}, 0},
		{"tool result", `[{"role": "tool", "tool_call_id": "c1", "content": "42"}, {"role": "assistant", "content": "ok", "reasoning_content": "r"}]`,
			[]Message{{Role: "tool", ToolCallID: "c1", Content: "42"}, {Role: "assistant", Content: "ok", ReasoningContent: "r"}}, 0},
	}
	for _, c := range cases {
		got, err := ParseConversation([]byte(c.in))
		if err != nil {
			t.Errorf("%s: ParseConversation: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got.Messages, c.want) {
			t.Errorf("%s: ParseConversation = %+v, want %+v", c.name, got.Messages, c.want)
		}
		if len(got.Tools) != c.tools {
			t.Errorf("%s: %d tools, want %d", c.name, len(got.Tools), c.tools)
		}
		// MarshalJSON round trip.
		data, err := json.Marshal(got.Messages)
		if err != nil {
			t.Fatalf("%s: Marshal: %v", c.name, err)
		}
		again, err := ParseConversation(data)
		if err != nil || !reflect.DeepEqual(normalize(again.Messages), normalize(got.Messages)) {
			t.Errorf("%s: round trip %s = %+v, %v", c.name, data, again, err)
		}
	}
}

// normalize compacts raw JSON so that round trips compare equal.
func normalize(msgs []Message) []Message {
	out := append([]Message(nil), msgs...)
	compact := func(r json.RawMessage) json.RawMessage {
		if r == nil {
			return nil
		}
		var b strings.Builder
		v, _ := decodeOrdered(r)
		p := pyDumps{itemSep: ",", keySep: ":"}
		_ = p.encode(&b, v, 0)
		return json.RawMessage(b.String())
	}
	for i := range out {
		out[i].Parts = append([]Part(nil), out[i].Parts...)
		for j := range out[i].Parts {
			out[i].Parts[j].Raw = compact(out[i].Parts[j].Raw)
		}
		for k, v := range out[i].Extra {
			out[i].Extra[k] = compact(v)
		}
	}
	return out
}

func TestParseConversationErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{``, "empty input"},
		{`[{"role": "user", "content": "a"},`, "1:"},
		{"[\n{\"content\": \"a\"}]", `2:1: message 0: key "role": missing`},
		{`[{"role": 3}]`, `key "role": want a string`},
		{`[{"role": ""}]`, `key "role": empty`},
		{`[{"role": "user", "content": 5}]`, `key "content": want a string`},
		{`[{"role": "user", "content": [{"text": "a"}]}]`, `part 0: key "type": missing`},
		{`[{"role": "user", "content": [{"type": "text"}]}]`, `part 0: key "text": missing`},
		{`[{"role": "assistant", "tool_calls": [{"function": {}}]}]`, `call 0: key "function.name": missing`},
		{`{"messages": [], "extra": 1}`, `key "extra": unknown key`},
		{`{"tools": []}`, `key "messages": missing`},
		{`{"messages": [], "tools": [1]}`, `tool 0 is not a JSON object`},
		{`[null]`, "message is null"},
		{`"text"`, "cannot unmarshal"},
	}
	for _, c := range cases {
		_, err := ParseConversation([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseConversation(%q) error = %v, want %q", c.in, err, c.want)
		}
	}
}

func FuzzParseConversation(f *testing.F) {
	for _, s := range []string{
		`[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]`,
		`{"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}], "tools": [{"a": 1}]}`,
		`[{"role": "assistant", "content": null, "tool_calls": [{"function": {"name": "f", "arguments": {"x": [1.5, null]}}}]}]`,
		`[{"role": "system", "content": "  "}, {"role": "user", "content": "\u0000"}]`,
	} {
		f.Add(s)
	}
	tmpl, err := Named("chatml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConversation([]byte(s))
		if err != nil {
			return
		}
		tools := make([]any, len(c.Tools))
		for i, tl := range c.Tools {
			tools[i] = tl
		}
		// Rendering must not panic; when it succeeds the spans must hold.
		r, err := tmpl.Render(c.Messages, Options{Tools: tools})
		if err == nil {
			checkSpans(t, r, c.Messages)
		}
		if _, err := json.Marshal(c.Messages); err != nil {
			t.Fatalf("Marshal of parsed messages: %v", err)
		}
	})
}

func FuzzDecodeOrdered(f *testing.F) {
	for _, s := range []string{`{"b": 1, "a": [1.0, 2e30, "x\u2028"]}`, `[]`, `null`, `"\ud800"`, `1e400`, `{"a":`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := decodeOrdered([]byte(s))
		if err != nil {
			return
		}
		// What decodes must encode, and re-decode to the same encoding.
		var b strings.Builder
		p := pyDumps{itemSep: ", ", keySep: ": "}
		if err := p.encode(&b, v, 0); err != nil {
			return // NaN/Inf are not produced by valid JSON; deep nesting is refused
		}
		if strings.Contains(b.String(), "Infinity") {
			return // 1e400 reads as inf and prints as Infinity, as in Python
		}
		v2, err := decodeOrdered([]byte(b.String()))
		if err != nil {
			t.Fatalf("decodeOrdered(%q) -> %q does not decode: %v", s, b.String(), err)
		}
		var b2 strings.Builder
		_ = p.encode(&b2, v2, 0)
		if b.String() != b2.String() {
			t.Fatalf("re-encoding differs: %q vs %q", b.String(), b2.String())
		}
	})
}

// FuzzTemplate parses and renders arbitrary template sources: no panic and
// no crash of the process (recursion, loops and output stay within the
// guards of guard.go), every error names the template, and the spans of a
// successful Render are consistent.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"{% for m in messages %}{{ m.role }}: {{ m.content | trim }}</s>\n{% endfor %}",
		"{{ messages | tojson(indent=2) }}{% raw %}{{{% endraw %}",
		"{%- generation -%}{{ x }}{% endgeneration %}{# c #}",
		"{{ raise_exception('no') }}",
		"{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
		"{% for i in range(4000000000) %}{{ i }}{% endfor %}",
		"{% set ns = namespace(a=1) %}{% set ns.a = ns %}{{ ns }}",
		"{%- macro f(x, y=2) -%}\n  [{{ x ~ y }}]\n{%- endmacro %}{% for m in messages if m.role != 'system' %}{{ f(m.content) }}</s>{% else %}-{% endfor %}",
		"{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}{{ messages | tojson }}{% endcall %}{% filter upper %}x{% endfilter %}",
	} {
		f.Add(s)
	}
	for _, name := range Names() {
		tmpl, err := Named(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tmpl.Source)
	}
	msgs := []Message{msg("user", "a"), msg("assistant", "b")}
	f.Fuzz(func(t *testing.T, src string) {
		old := debug.SetMaxStack(64 << 20) // a runaway recursion fails fast
		defer debug.SetMaxStack(old)
		oldSteps := maxSteps
		maxSteps = 1 << 14 // keep each input fast; the limit itself is what is tested
		defer func() { maxSteps = oldSteps }()
		tmpl, err := Parse(src, "fuzz.jinja", Specials{EOS: "</s>"})
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.jinja") {
				t.Fatalf("Parse error %q does not name the template", err)
			}
			return
		}
		if _, err := tmpl.RenderText(msgs, Options{}); err != nil && !strings.Contains(err.Error(), "fuzz.jinja") {
			t.Fatalf("RenderText error %q does not name the template", err)
		}
		r, err := tmpl.Render(msgs, Options{AddGenerationPrompt: true})
		if err != nil && !strings.Contains(err.Error(), "fuzz.jinja") {
			t.Fatalf("Render error %q does not name the template", err)
		}
		if err == nil {
			checkSpans(t, r, msgs)
		}
	})
}
