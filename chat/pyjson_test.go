package chat

import (
	"strings"
	"testing"
	"time"
)

func TestPyFloatRepr(t *testing.T) {
	tenth := 0.1 // a variable, so that 0.1+0.2 is computed in float64
	// Expectations are Python 3's repr(float).
	cases := []struct {
		f    float64
		want string
	}{
		{1.0, "1.0"}, {0.5, "0.5"}, {1e16, "1e+16"}, {1.5e16, "1.5e+16"}, {1e-5, "1e-05"},
		{0.0001, "0.0001"}, {123456789.0, "123456789.0"}, {1234567.0, "1234567.0"},
		{2.5e-7, "2.5e-07"}, {1e22, "1e+22"}, {tenth + 2*tenth, "0.30000000000000004"},
		{9007199254740993.0, "9007199254740992.0"}, {1e15, "1000000000000000.0"},
		{123.456, "123.456"}, {-1e-4, "-0.0001"}, {0, "0.0"}, {-1e300, "-1e+300"},
	}
	for _, c := range cases {
		if got := pyFloatRepr(c.f); got != c.want {
			t.Errorf("pyFloatRepr(%v) = %q, want %q", c.f, got, c.want)
		}
	}
}

func TestToJSONFilter(t *testing.T) {
	const x = `{"b": [1, 2.0, {"z": null, "a": true}], "a": "é\"\\\n\u0001\u2028<&>", "e": [], "d": {}}`
	// Expectations are Python's json.dumps with the same arguments
	// (transformers' tojson passes ensure_ascii=False).
	cases := []struct {
		expr, want string
	}{
		{"x | tojson", "{\"b\": [1, 2.0, {\"z\": null, \"a\": true}], \"a\": \"é\\\"\\\\\\n\\u0001\u2028<&>\", \"e\": [], \"d\": {}}"},
		{"x|tojson(indent=2)", "{\n  \"b\": [\n    1,\n    2.0,\n    {\n      \"z\": null,\n      \"a\": true\n    }\n  ],\n  \"a\": \"é\\\"\\\\\\n\\u0001\u2028<&>\",\n  \"e\": [],\n  \"d\": {}\n}"},
		{"x | tojson(ensure_ascii=true, sort_keys=true)", "{\"a\": \"\\u00e9\\\"\\\\\\n\\u0001\\u2028<&>\", \"b\": [1, 2.0, {\"a\": true, \"z\": null}], \"d\": {}, \"e\": []}"},
		{"x | tojson(separators=[',', ':'])", "{\"b\":[1,2.0,{\"z\":null,\"a\":true}],\"a\":\"é\\\"\\\\\\n\\u0001\u2028<&>\",\"e\":[],\"d\":{}}"},
		{"'😀' | tojson(ensure_ascii=true)", `"\ud83d\ude00"`},
		{"'a|tojson' ~ (3 | tojson)", "a|tojson3"},
	}
	for _, c := range cases {
		tmpl, err := Parse("{{ "+c.expr+" }}", "t", Specials{})
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.expr, err)
		}
		got, err := tmpl.RenderText(nil, Options{Extra: map[string]any{"x": []byte(x)}})
		if err != nil {
			t.Errorf("{{ %s }}: %v", c.expr, err)
			continue
		}
		if got != c.want {
			t.Errorf("{{ %s }} = %q, want %q", c.expr, got, c.want)
		}
	}
}

func TestToolsKeyOrder(t *testing.T) {
	type param struct {
		Type string `json:"type"`
		Desc string `json:"description"`
	}
	type fn struct {
		Name   string           `json:"name"`
		Params map[string]param `json:"parameters"`
	}
	tmpl, err := Parse("{% for t in tools %}{{ t | tojson }}\n{% endfor %}", "t", Specials{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tmpl.RenderText(nil, Options{Tools: []any{
		[]byte(`{"z": 1, "a": {"y": 2, "b": 3}}`),
		fn{Name: "f", Params: map[string]param{"q": {"string", "query"}, "k": {"integer", "count"}}},
		map[string]any{"z": 1, "a": 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"z": 1, "a": {"y": 2, "b": 3}}` + "\n" +
		`{"name": "f", "parameters": {"k": {"type": "integer", "description": "count"}, "q": {"type": "string", "description": "query"}}}` + "\n" +
		`{"a": 2, "z": 1}` + "\n"
	if got != want {
		t.Errorf("tools rendered as\n%s\nwant\n%s", got, want)
	}
}

func TestStrftime(t *testing.T) {
	when := time.Date(2024, 7, 5, 9, 3, 7, 0, time.UTC)
	// Expectations are Python's time.strftime on glibc.
	cases := []struct{ format, want string }{
		{"%d %b %Y", "05 Jul 2024"},
		{"%Y-%m-%d", "2024-07-05"},
		{"%A %B %-d %I:%M %p", "Friday July 5 09:03 AM"},
		{"%j %y %e", "187 24  5"},
		{"%H:%M:%S %%", "09:03:07 %"},
		{"%Q", "%Q"},
		{"trailing %", "trailing %"},
	}
	for _, c := range cases {
		if got := strftime(c.format, when); got != c.want {
			t.Errorf("strftime(%q) = %q, want %q", c.format, got, c.want)
		}
	}
	tmpl, err := Parse(`{{ strftime_now("%d %b %Y") }}`, "t", Specials{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tmpl.RenderText(nil, Options{Now: func() time.Time { return when }})
	if err != nil || got != "05 Jul 2024" {
		t.Errorf("strftime_now with Options.Now = %q, %v; want %q", got, err, "05 Jul 2024")
	}
}

func TestRewriteSource(t *testing.T) {
	cases := []struct{ in, want string }{
		{"{{ x | tojson }}", "{{ x | hone_tojson }}"},
		{"{{ x|tojson(indent=2) }}", "{{ x|hone_tojson(indent=2) }}"},
		{"{%- set s = x | tojson -%}", "{%- set s = x | hone_tojson -%}"},
		{"{{ '| tojson' }} | tojson", "{{ '| tojson' }} | tojson"},
		{`{{ "}}|tojson" | tojson }}`, `{{ "}}|tojson" | hone_tojson }}`},
		{"{# x | tojson #}{{ a or b || c }}", "{# x | tojson #}" + tagSeparator + "{{ a or b || c }}"},
		{"{{ x | tojsonx }}", "{{ x | tojsonx }}"},
		{"{% raw %}{{ x | tojson }}{% endraw %}{{ y|tojson }}", "{% raw %}{{ x | tojson }}{% endraw %}" + tagSeparator + "{{ y|hone_tojson }}"},
		{"{%- generation -%}a{% endgeneration %}", "{%- if true -%}a{% endif %}"},
		{"{{ unterminated | tojson", "{{ unterminated | hone_tojson"},
		{"a { b } {", "a { b } {"},
	}
	for _, c := range cases {
		if got := rewriteSource(c.in); got != c.want {
			t.Errorf("rewriteSource(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestWhitespaceControl checks trim_blocks, lstrip_blocks and "-" markers
// next to adjacent tags; expectations are Python Jinja2 3.1 with
// trim_blocks=True, lstrip_blocks=True (transformers' environment).
func TestWhitespaceControl(t *testing.T) {
	cases := []struct{ src, want string }{
		{"{% for t in [1, 2] %}{{ t }}\n{% endfor %}", "1\n2\n"},
		{"{% if true %}{% if true %}\n\nX{% endif %}{% endif %}", "\nX"},
		{"Hello \n{{ 1 }}{%- if true %}Y{% endif %}", "Hello \n1Y"},
		{"A{# c #}\nB{{ 2 }}{# d #}\nC", "AB2C"},
		{"  {% if true %}{{ 3 }}  {% endif %}\n  x", "3    x"},
		{"{% for m in messages %}\n  {{- m.content }}\n{% endfor %}", "a\nb\n"},
	}
	for _, c := range cases {
		tmpl, err := Parse(c.src, "t", Specials{})
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.src, err)
		}
		got, err := tmpl.RenderText([]Message{msg("user", "a"), msg("user", "b")}, Options{})
		if err != nil || got != c.want {
			t.Errorf("render %q = %q, %v; want %q", c.src, got, err, c.want)
		}
	}
}

func TestGenerationTag(t *testing.T) {
	src := "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}<|im_end|>{% endgeneration %}{% else %}{{ m.content }}<|im_end|>{% endif %}\n{% endfor %}"
	tmpl, err := Parse(src, "gen", Specials{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := tmpl.Render([]Message{msg("user", "a"), msg("assistant", "b")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Text != "a<|im_end|>b<|im_end|>" { // trim_blocks eats the newline after endif
		t.Errorf("Render(generation tags) = %q", r.Text)
	}
	if tr := r.Spans[1].Trained; r.Text[tr.Start:tr.End] != "b<|im_end|>" {
		t.Errorf("trained = %q, want %q", r.Text[tr.Start:tr.End], "b<|im_end|>")
	}
	if !strings.Contains(tmpl.Source, "generation") {
		t.Error("Source should keep the template as written")
	}
}
