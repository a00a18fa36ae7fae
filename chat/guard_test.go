package chat

import (
	"errors"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/ardanlabs/jinja"
)

// smallStack lowers the goroutine stack limit for the test, so that a
// runaway recursion (which no recover can catch) fails fast instead of
// growing to the default 1 GB first.
func smallStack(t *testing.T) {
	t.Helper()
	old := debug.SetMaxStack(64 << 20)
	t.Cleanup(func() { debug.SetMaxStack(old) })
}

// renderBoth renders src with RenderText and Render and returns both errors.
func renderBoth(t *testing.T, src, name string, opt Options) []error {
	t.Helper()
	tmpl, err := Parse(src, name, Specials{EOS: "</s>"})
	if err != nil {
		t.Fatalf("Parse(%s) = %v", name, err)
	}
	msgs := []Message{msg("user", "hi"), msg("assistant", "ok")}
	_, err1 := tmpl.RenderText(msgs, opt)
	_, err2 := tmpl.Render(msgs, opt)
	return []error{err1, err2}
}

// TestHostileTemplatesStopped renders templates that used to crash the
// process (fatal stack overflow, out of memory) or to print without end:
// each must return an error naming the template and wrapping ErrLimit.
func TestHostileTemplatesStopped(t *testing.T) {
	smallStack(t)
	big := strings.Repeat("x", 1<<20)
	cases := []struct {
		name, src string
		opt       Options
		want      string
	}{
		// The two templates of the audit.
		{"recursive-macro.jinja", "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", Options{}, "nested more than 256 deep"},
		{"huge-range.jinja", "{% for i in range(4000000000) %}{{ i }}{% endfor %}", Options{}, "range(0, 4000000000, 1) has 4000000000 items"},

		{"macro-as-filter.jinja", "{% macro f(x) %}{{ x | f }}{% endmacro %}{{ 1 | f }}", Options{}, "nested more than 256 deep"},
		{"mutual.jinja", "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}", Options{}, "nested more than 256 deep"},
		{"call-block.jinja", "{% macro f() %}{% call f() %}x{% endcall %}{% endmacro %}{{ f() }}", Options{}, "nested more than 256 deep"},
		{"stored-caller.jinja", "{% set ns = namespace(c=none) %}{% macro f() %}{% set ns.c = caller %}{% endmacro %}{% call f() %}{{ ns.c() }}{% endcall %}{{ ns.c() }}", Options{}, "nested more than 256 deep"},
		{"exponential.jinja", "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}", Options{}, "nested more than 256 deep"},
		{"negative-range.jinja", "{% for i in range(0, -9000000000000000000, -3) %}{% endfor %}", Options{}, "items, more than"},
		{"loud-loop.jinja", "{% for i in range(100000) %}{{ big }}{% endfor %}", Options{Extra: map[string]any{"big": big}}, "output larger than 16 MiB"},
		{"text-loop.jinja", "{% for i in range(1000000) %}{% for j in range(1000) %}" + strings.Repeat("y", 1000) + "{% endfor %}{% endfor %}", Options{}, "output larger than 16 MiB"},
		{"list-loop.jinja", "{% for i in range(100000) %}{{ [big, big] }}{% endfor %}", Options{Extra: map[string]any{"big": big}}, "output larger than 16 MiB"},
		{"cyclic-list.jinja", "{% set l = [] %}{% set _ = l.append(l) %}{{ l }}", Options{}, "contains itself"},
		{"cyclic-namespace.jinja", "{% set ns = namespace(a=1) %}{% set ns.a = ns %}{{ ns }}", Options{}, "contains itself"},
		{"cyclic-tojson.jinja", "{% set l = [] %}{% set _ = l.append(l) %}{{ l | tojson }}", Options{}, "nested too deeply"},
		{"tojson-indent.jinja", "{{ messages | tojson(indent=10000000000) }}", Options{}, "indent 10000000000 is longer"},
	}
	for _, c := range cases {
		for i, err := range renderBoth(t, c.src, c.name, c.opt) {
			fn := []string{"RenderText", "Render"}[i]
			if err == nil || !strings.Contains(err.Error(), c.name) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s(%s) = %v, want an error naming the template and containing %q", fn, c.name, err, c.want)
			}
			if !strings.Contains(c.name, "cyclic") && !errors.Is(err, ErrLimit) {
				t.Errorf("%s(%s) = %v, want ErrLimit", fn, c.name, err)
			}
		}
	}
}

// TestHostileRaiseException checks that raise_exception with a value that
// contains itself reports an error instead of printing it forever.
func TestHostileRaiseException(t *testing.T) {
	smallStack(t)
	for _, err := range renderBoth(t, "{% set l = [] %}{% set _ = l.append(l) %}{{ raise_exception(l) }}", "raise.jinja", Options{}) {
		var re *RaiseError
		if !errors.As(err, &re) || !strings.Contains(re.Message, "too long to print") {
			t.Errorf("raise_exception(cyclic list) = %v, want a *RaiseError describing the value", err)
		}
	}
}

// TestLoopStepLimit checks the limit on loop iterations and macro calls,
// lowered so that the test is fast.
func TestLoopStepLimit(t *testing.T) {
	old := maxSteps
	maxSteps = 1000
	defer func() { maxSteps = old }()
	for _, c := range []struct{ src, want string }{
		{"{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", "more than 1000 loop iterations"},
		{"{% macro f() %}{% endmacro %}{% for i in range(2000) %}{{ f() }}{% endfor %}", "more than 1000 loop iterations"},
	} {
		for _, err := range renderBoth(t, c.src, "steps.jinja", Options{}) {
			if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "steps.jinja") {
				t.Errorf("render(%q) = %v, want ErrLimit and %q", c.src, err, c.want)
			}
		}
	}
	// Just under the limit is fine.
	for _, err := range renderBoth(t, "{% for i in range(30) %}{% for j in range(30) %}{% endfor %}{% endfor %}{{ messages[0].content }}</s>{{ messages[1].content }}</s>", "steps.jinja", Options{}) {
		if err != nil {
			t.Errorf("render(930 iterations) = %v, want no error", err)
		}
	}
}

// TestHostileSourcesRefused checks the structural limits Parse applies
// before the engine sees the source; the nesting cases used to end in a
// fatal stack overflow inside the engine's parser or evaluator.
func TestHostileSourcesRefused(t *testing.T) {
	smallStack(t)
	cases := []struct{ name, src, want string }{
		{"parens", "{{ " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000) + " }}", "tokens, more than 1024"},
		{"plus chain", "{{ 1" + strings.Repeat(" + 1", 1000000) + " }}", "tokens, more than 1024"},
		{"not chain", "{{ " + strings.Repeat("not ", 1000000) + "1 }}", "tokens, more than 1024"},
		{"attributes", "{{ a" + strings.Repeat(".b", 1000000) + " }}", "tokens, more than 1024"},
		{"ifs", strings.Repeat("{% if true %}", 100000) + "x" + strings.Repeat("{% endif %}", 100000), "blocks nested more than 64 deep"},
		{"set blocks", strings.Repeat("{% set x %}", 100) + strings.Repeat("{% endset %}", 100), "blocks nested more than 64 deep"},
		{"default calls", "{% macro f(n=f()) %}{% endmacro %}{{ f() }}", "macro f: a parameter's default value may not call"},
		{"default filter", "{% macro f(n=1|f) %}{% endmacro %}{{ f() }}", "macro f: a parameter's default value may not call"},
		{"reserved", "{% set __hone_enter = none %}", "reserved"},
		{"unbalanced", "x\n{{ 1) ~ (2 }}", "line 2: unbalanced brackets in {{ 1) ~ (2 }}"},
		{"reserved in string", "\n{{ '__hone_out' }}", "line 2: names starting with __hone_ are reserved"},
	}
	for _, c := range cases {
		_, err := Parse(c.src, c.name+".jinja", Specials{})
		if err == nil || !strings.Contains(err.Error(), c.name+".jinja") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%s) = %v, want an error naming the template and containing %q", c.name, err, c.want)
		}
	}
	// Long list literals are not deep: they count little.
	list := "{% set xs = [" + strings.Repeat("'item', 12, ", 5000) + "] %}{{ xs | length }}"
	tmpl, err := Parse(list, "list.jinja", Specials{})
	if err != nil {
		t.Fatalf("Parse(long list literal) = %v", err)
	}
	if got, err := tmpl.RenderText(nil, Options{}); err != nil || got != "10000" {
		t.Errorf("RenderText(long list literal) = %q, %v, want 10000", got, err)
	}
}

// TestGuardsInvisible renders whitespace-sensitive templates with and
// without the guard calls guardSource inserts: the output must not change.
func TestGuardsInvisible(t *testing.T) {
	srcs := []string{
		"{% macro f(x, y=2) %}\n  [{{ x }}]\n{% endmacro %}\n{{ f(1) }}\n{%- for m in messages -%}\n  {{- f(m.role) }}\n{% else %}none{% endfor %}\nend",
		"{%- macro f(x) -%}\n {{ x -}} \n{%- endmacro -%}\n\n{{ f(1) }}  {{- f(2) -}}  x",
		"{% for m in messages %}{{ m.content }}{% endfor %}\n{% for i in range(3) -%}\n  {{ i }}\n{%- endfor %}",
		"{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}\n  body {{ 1 + 2 }}\n{% endcall %}\n{%- call w() -%} x {%- endcall %}",
		"a {% for m in messages %}\n{%- if loop.first %}{{ m.role | upper }}{% endif -%}\n{{ loop.index }}{% endfor %}\n\n{{- '|' }}",
		"{% raw %}{{ not a guard }}{% for %}{% endraw %}{{ '{{' }}{# {{ c }} #}{{ }}",
		"{% set x %}{% for i in range(2) %}{{ i }}\n{% endfor %}{% endset %}{{ x | trim }}\n{% filter upper %}{% for i in [1] %}a{% endfor %}{% endfilter %}",
		"{{ {'a': [1, 'b', none]} }}{{ 1 if false }}{{ none }}{{ 'x' ~ 1 }}{{ messages | length }}",
	}
	data := func() map[string]jinja.Value {
		vals, err := messageValues([]Message{msg("user", "hi"), msg("assistant", "ok")})
		if err != nil {
			t.Fatal(err)
		}
		return map[string]jinja.Value{"messages": jinja.NewList(vals), "add_generation_prompt": jinja.NewBool(false)}
	}
	for _, src := range srcs {
		plain, err := jinja.Compile(rewriteSource(src))
		if err != nil {
			t.Fatalf("Compile(%q) = %v", src, err)
		}
		want, err := plain.RenderValues(data())
		if err != nil {
			t.Fatalf("render without guards (%q) = %v", src, err)
		}
		want = strings.ReplaceAll(want, tagSeparator, "")
		tmpl, err := Parse(src, "t.jinja", Specials{})
		if err != nil {
			t.Fatalf("Parse(%q) = %v", src, err)
		}
		got, err := tmpl.RenderText([]Message{msg("user", "hi"), msg("assistant", "ok")}, Options{})
		if err != nil || got != want {
			t.Errorf("RenderText(%q) = %q, %v; without guards %q", src, got, err, want)
		}
	}
}

// TestRangeLikePython checks hone's range against Python's.
func TestRangeLikePython(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"5", "[0, 1, 2, 3, 4]"}, {"0", "[]"}, {"-3", "[]"}, {"2, 5", "[2, 3, 4]"}, {"5, 2", "[]"},
		{"1, 10, 3", "[1, 4, 7]"}, {"10, 0, -3", "[10, 7, 4, 1]"}, {"0, 10, -1", "[]"}, {"3.7", "[0, 1, 2]"},
		{"9223372036854775806, 9223372036854775807", "[9223372036854775806]"},
		{"-9223372036854775807, -9223372036854775807 - 1, -1", "[-9223372036854775807]"},
		{"9223372036854775807, -9223372036854775807 - 1, -9223372036854775807 - 1", "[9223372036854775807, -1]"},
	} {
		tmpl, err := Parse("{{ range("+c.args+") | list }}", "range.jinja", Specials{})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := tmpl.RenderText(nil, Options{}); err != nil || got != c.want {
			t.Errorf("range(%s) = %q, %v, want %s", c.args, got, err, c.want)
		}
	}
	tmpl, err := Parse("{{ range(1, 2, 0) }}", "range.jinja", Specials{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmpl.RenderText(nil, Options{}); err == nil || !strings.Contains(err.Error(), "step must not be zero") {
		t.Errorf("range(1, 2, 0) = %v, want an error", err)
	}
}
