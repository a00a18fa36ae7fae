package chat

import (
	"errors"
	"strings"
	"testing"
)

func TestRaiseException(t *testing.T) {
	src := "{%- for m in messages %}{%- if m.role == 'system' %}{{ raise_exception('System role not supported') }}{%- endif %}{{ m.content }}{%- endfor %}"
	tmpl, err := Parse(src, "gemma.jinja", Specials{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := []Message{msg("system", "x"), msg("user", "y")}
	for _, f := range []struct {
		name   string
		render func() error
	}{
		{"Render", func() error { _, err := tmpl.Render(msgs, Options{}); return err }},
		{"RenderText", func() error { _, err := tmpl.RenderText(msgs, Options{}); return err }},
	} {
		err := f.render()
		var re *RaiseError
		if !errors.As(err, &re) {
			t.Fatalf("%s(system message) error = %v, want a *RaiseError", f.name, err)
		}
		if re.Template != "gemma.jinja" || re.Message != "System role not supported" {
			t.Errorf("%s(system message) = %+v, want template gemma.jinja and message %q", f.name, re, "System role not supported")
		}
		if !strings.Contains(err.Error(), "gemma.jinja") || !strings.Contains(err.Error(), "System role not supported") {
			t.Errorf("%s error text %q names neither the file nor the message", f.name, err)
		}
	}
}

func TestSpanErrors(t *testing.T) {
	loop := func(body string) string {
		return "{%- for m in messages %}" + body + "{%- endfor %}"
	}
	cases := []struct {
		name string
		src  string
		msgs []Message
		msg  int    // want SpanError.Message
		want string // substring of the reason
	}{
		{"drops system", loop("{%- if m.role != 'system' %}<s>{{ m.content }}</s>{%- endif %}"),
			[]Message{msg("system", "a"), msg("user", "b")}, 0, "leaves out"},
		{"duplicates", loop("<s>{{ m.content }}|{{ m.content }}</s>"),
			[]Message{msg("user", "b")}, 0, "2 times"},
		{"reorders", "{{ messages[1].content }}</s>{{ messages[0].content }}</s>",
			[]Message{msg("user", "a"), msg("assistant", "b")}, 1, "out of order"},
		{"transforms", loop("<s>{{ m.content | upper }}</s>"),
			[]Message{msg("user", "abc")}, 0, "not the template text"},
		{"branches on content", loop("<s>{% if m.content.startswith('<x>') %}X{% endif %}{{ m.content }}</s>"),
			[]Message{msg("user", "hi"), msg("user", "<x>hi")}, 1, "not the template text"},
		{"no end of turn", loop("[{{ m.role }}] {{ m.content }}\n"),
			[]Message{msg("user", "a"), msg("assistant", "b")}, 1, "no known end-of-turn"},
		{"no end marker after assistant", loop("{%- if m.role == 'user' %}{{ m.content }}</s>{%- else %}{{ m.content }}{%- endif %}"),
			[]Message{msg("user", "a"), msg("assistant", "b")}, 1, "no end-of-turn marker"},
	}
	for _, c := range cases {
		tmpl, err := Parse(c.src, c.name, Specials{})
		if err != nil {
			t.Fatalf("%s: Parse: %v", c.name, err)
		}
		if _, err := tmpl.RenderText(c.msgs, Options{}); err != nil {
			t.Fatalf("%s: RenderText: %v", c.name, err)
		}
		_, err = tmpl.Render(c.msgs, Options{})
		var se *SpanError
		if !errors.As(err, &se) {
			t.Errorf("Render(%s) error = %v, want a *SpanError", c.name, err)
			continue
		}
		if se.Message != c.msg || !strings.Contains(se.Reason, c.want) || se.Template != c.name {
			t.Errorf("Render(%s) = %v (message %d), want message %d and %q", c.name, se, se.Message, c.msg, c.want)
		}
	}
}

func TestQwen3ThinkInContentIsRefused(t *testing.T) {
	tmpl := loadShared(t, "qwen3")
	msgs := []Message{msg("user", "2+2?"), msg("assistant", "<think>\nadd\n</think>\n\n4")}
	text, err := tmpl.RenderText(msgs, Options{})
	if err != nil || !strings.HasSuffix(text, "<think>\nadd\n</think>\n\n4<|im_end|>\n") {
		t.Fatalf("RenderText = %q, %v", text, err)
	}
	_, err = tmpl.Render(msgs, Options{})
	var se *SpanError
	if !errors.As(err, &se) || se.Message != 1 {
		t.Fatalf("Render(<think> in content) error = %v, want a *SpanError on message 1", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{"{% for x in %}", "{{ unclosed", "{% if a %}no end"} {
		if _, err := Parse(src, "bad.jinja", Specials{}); err == nil || !strings.Contains(err.Error(), "bad.jinja") {
			t.Errorf("Parse(%q) error = %v, want one naming bad.jinja", src, err)
		}
	}
}
