package chat

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hone/internal/shared"
)

// wantSpan is a hand-written expectation: the text each range must cover.
type wantSpan struct {
	message, content, trained string
}

type spanCase struct {
	name string
	msgs []Message
	opt  Options
	want []wantSpan
	tail string // text after the last message
}

func msg(role, content string) Message { return Message{Role: role, Content: content} }

func runSpanCases(t *testing.T, tmpl *Template, cases []spanCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := tmpl.Render(c.msgs, c.opt)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			checkSpans(t, r, c.msgs)
			var whole strings.Builder
			for k, w := range c.want {
				s := r.Spans[k]
				got := wantSpan{
					message: r.Text[s.Message.Start:s.Message.End],
					content: r.Text[s.Content.Start:s.Content.End],
					trained: r.Text[s.Trained.Start:s.Trained.End],
				}
				if got != w {
					t.Errorf("Render(%s).Spans[%d] covers\n  message %q\n  content %q\n  trained %q\nwant\n  message %q\n  content %q\n  trained %q",
						c.name, k, got.message, got.content, got.trained, w.message, w.content, w.trained)
				}
				whole.WriteString(w.message)
			}
			whole.WriteString(c.tail)
			if r.Text != whole.String() {
				t.Errorf("Render(%s).Text = %q, want %q", c.name, r.Text, whole.String())
			}
		})
	}
}

const (
	l3h = "<|start_header_id|>"
	l3e = "<|end_header_id|>\n\n"
	eot = "<|eot_id|>"
)

// llama3Cases hold for the Llama-3 template of ../shared/tokenizers/llama3
// (which always appends the assistant header) with tailAlways, and for the
// built-in llama3 template (which appends it only with the generation
// prompt) with an empty tail.
func llama3Cases(tail string) []spanCase {
	return []spanCase{
		{
			name: "multi-turn",
			msgs: []Message{
				msg("system", "You are terse."),
				msg("user", "  Hi there \n"),
				msg("assistant", "Hello."),
				msg("user", "2+2?"),
				msg("assistant", "4"),
			},
			want: []wantSpan{
				{"<|begin_of_text|>" + l3h + "system" + l3e + "You are terse." + eot, "You are terse.", ""},
				{l3h + "user" + l3e + "Hi there" + eot, "Hi there", ""},
				{l3h + "assistant" + l3e + "Hello." + eot, "Hello.", "Hello." + eot},
				{l3h + "user" + l3e + "2+2?" + eot, "2+2?", ""},
				{l3h + "assistant" + l3e + "4" + eot, "4", "4" + eot},
			},
			tail: tail,
		},
		{
			name: "generation-prompt",
			msgs: []Message{msg("user", "Hi"), msg("assistant", "\nHello\n"), msg("user", "Bye")},
			opt:  Options{AddGenerationPrompt: true},
			want: []wantSpan{
				{"<|begin_of_text|>" + l3h + "user" + l3e + "Hi" + eot, "Hi", ""},
				{l3h + "assistant" + l3e + "Hello" + eot, "Hello", "Hello" + eot},
				{l3h + "user" + l3e + "Bye" + eot, "Bye", ""},
			},
			tail: l3h + "assistant" + l3e,
		},
	}
}

func TestSpansLlama3Builtin(t *testing.T) {
	tmpl, err := Named("llama3")
	if err != nil {
		t.Fatal(err)
	}
	runSpanCases(t, tmpl, llama3Cases(""))
}

func TestSpansLlama3Shared(t *testing.T) {
	runSpanCases(t, loadShared(t, "llama3"), llama3Cases(l3h+"assistant"+l3e))
}

const (
	ims = "<|im_start|>"
	ime = "<|im_end|>"
)

// loadShared loads the chat template of the shared reference tokenizer
// name. The test is skipped only when the shared folder (or that tokenizer
// in it) is absent; a template that is there but fails to load fails the
// test.
func loadShared(t *testing.T, name string) *Template {
	t.Helper()
	dir := filepath.Join(shared.Env(t, "HONE_TOKENIZER_DIR", "tokenizers"), name)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s not present in the shared tokenizers; skipping", dir)
	}
	tmpl, err := Load(dir)
	if err != nil {
		t.Fatalf("%s template: %v", name, err)
	}
	return tmpl
}

func TestSpansQwen3(t *testing.T) {
	tmpl := loadShared(t, "qwen3")
	weather := json.RawMessage(`{"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & later", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "maximum": 7.0}}, "required": ["city"]}}}`)
	call := Message{Role: "assistant", ToolCalls: []ToolCall{{Type: "function", Function: FunctionCall{Name: "get_weather", Arguments: json.RawMessage(`{"city": "Paris", "days": 2}`)}}}}
	runSpanCases(t, tmpl, []spanCase{
		{
			name: "multi-turn",
			msgs: []Message{msg("system", "Be brief."), msg("user", "Hi"), msg("assistant", "Hello."), msg("user", "2+2?"), msg("assistant", "4")},
			want: []wantSpan{
				{ims + "system\nBe brief." + ime + "\n", "Be brief.", ""},
				{ims + "user\nHi" + ime + "\n", "Hi", ""},
				// A turn before the last query is rendered without <think>.
				{ims + "assistant\nHello." + ime + "\n", "Hello.", "Hello." + ime},
				{ims + "user\n2+2?" + ime + "\n", "2+2?", ""},
				// The last turn gets an empty think block, which the model
				// must generate after the prompt "<|im_start|>assistant\n".
				{ims + "assistant\n<think>\n\n</think>\n\n4" + ime + "\n", "4", "<think>\n\n</think>\n\n4" + ime},
			},
		},
		{
			name: "reasoning-content",
			msgs: []Message{msg("user", "2+2?"), {Role: "assistant", Content: "\n4", ReasoningContent: "\nadd\n"}},
			want: []wantSpan{
				{ims + "user\n2+2?" + ime + "\n", "2+2?", ""},
				{ims + "assistant\n<think>\nadd\n</think>\n\n4" + ime + "\n", "4", "<think>\nadd\n</think>\n\n4" + ime},
			},
		},
		{
			name: "generation-prompt-no-thinking",
			msgs: []Message{msg("user", "Hi")},
			opt:  Options{AddGenerationPrompt: true, Extra: map[string]any{"enable_thinking": false}},
			want: []wantSpan{{ims + "user\nHi" + ime + "\n", "Hi", ""}},
			tail: ims + "assistant\n<think>\n\n</think>\n\n",
		},
		{
			name: "tools",
			msgs: []Message{msg("user", "Weather in Paris?"), call, {Role: "tool", Content: `{"temp": 21}`}, msg("assistant", "21 °C.")},
			opt:  Options{Tools: []any{weather}},
			want: []wantSpan{
				{ims + "system\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n" +
					"You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n" +
					// Python's json.dumps: key order kept, ", " and ": ", no HTML escaping, 7.0 stays a float.
					`{"type": "function", "function": {"name": "get_weather", "description": "Weather <now> & later", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "maximum": 7.0}}, "required": ["city"]}}}` +
					"\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n" +
					"<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>" + ime + "\n" +
					ims + "user\nWeather in Paris?" + ime + "\n", "Weather in Paris?", ""},
				{ims + "assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>" + ime + "\n",
					"", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>" + ime},
				{ims + "user\n<tool_response>\n{\"temp\": 21}\n</tool_response>" + ime + "\n", `{"temp": 21}`, ""},
				{ims + "assistant\n<think>\n\n</think>\n\n21 °C." + ime + "\n", "21 °C.", "<think>\n\n</think>\n\n21 °C." + ime},
			},
		},
	})
}

// TestSpansOffsets pins the numeric ranges of one ChatML conversation.
func TestSpansOffsets(t *testing.T) {
	tmpl, err := Named("chatml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := tmpl.Render([]Message{msg("user", "Hi"), msg("assistant", "Yo")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// "<|im_start|>user\nHi<|im_end|>\n" is 12+5+2+10+1 = 30 bytes;
	// "<|im_start|>assistant\n" is 22 more.
	want := []Span{
		{Role: "user", Message: Range{0, 30}, Content: Range{17, 19}},
		{Role: "assistant", Message: Range{30, 65}, Content: Range{52, 54}, Trained: Range{52, 64}},
	}
	for k, w := range want {
		if r.Spans[k] != w {
			t.Errorf("Render(chatml).Spans[%d] = %+v, want %+v", k, r.Spans[k], w)
		}
	}
	if got := r.Trained(); len(got) != 1 || got[0] != (Range{52, 64}) {
		t.Errorf("Trained() = %v, want [{52 64}]", got)
	}
}

// BenchmarkRender measures Render (text and spans) and RenderText on a
// ten-turn ChatML conversation.
func BenchmarkRender(b *testing.B) {
	tmpl, err := Named("chatml")
	if err != nil {
		b.Fatal(err)
	}
	var msgs []Message
	msgs = append(msgs, msg("system", "You are a helpful assistant."))
	for i := range 5 {
		msgs = append(msgs, msg("user", strings.Repeat("question words ", 20+i)), msg("assistant", strings.Repeat("answer words ", 40+i)))
	}
	b.Run("Render", func(b *testing.B) {
		for b.Loop() {
			if _, err := tmpl.Render(msgs, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RenderText", func(b *testing.B) {
		for b.Loop() {
			if _, err := tmpl.RenderText(msgs, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestSpansContentParts(t *testing.T) {
	src := "{%- for m in messages %}[{{ m.role }}]{% if m.content is string %}{{ m.content }}{% else %}" +
		"{% for p in m.content %}{% if p.type == 'text' %}{{ p.text }}{% else %}<{{ p.type }}>{% endif %}{% endfor %}{% endif %}</s>\n{%- endfor %}"
	tmpl, err := Parse(src, "parts", Specials{EOS: "</s>"})
	if err != nil {
		t.Fatal(err)
	}
	runSpanCases(t, tmpl, []spanCase{{
		name: "parts",
		msgs: []Message{
			{Role: "user", Parts: []Part{{Type: "text", Text: "look "}, {Type: "image", Raw: json.RawMessage(`{"type": "image"}`)}, {Type: "text", Text: " here"}}},
			{Role: "assistant", Parts: []Part{{Type: "text", Text: "a cat"}}},
		},
		want: []wantSpan{
			{"[user]look <image> here</s>", "look <image> here", ""},
			// This template has no generation prompt, so at inference the
			// model writes the "[assistant]" header itself: it is trained.
			{"[assistant]a cat</s>", "a cat", "[assistant]a cat</s>"},
		},
	}})
}
