package chat

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad(t *testing.T) {
	const tpl = `{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}`
	cases := []struct {
		name    string
		files   map[string]string
		variant string
		want    string // rendering of one user message "hi"
	}{
		{"string", map[string]string{"tokenizer_config.json": `{"bos_token": "<s>", "eos_token": "</s>", "chat_template": "` + tpl + `"}`}, "", "<s>[user]hi</s>"},
		{"added-token dicts", map[string]string{"tokenizer_config.json": `{"bos_token": {"content": "<B>", "lstrip": false}, "eos_token": {"__type": "AddedToken", "content": "<E>"}, "chat_template": "` + tpl + `"}`}, "", "<B>[user]hi<E>"},
		{"null bos", map[string]string{"tokenizer_config.json": `{"bos_token": null, "eos_token": "</s>", "chat_template": "{{ bos_token is defined }}` + tpl + `"}`}, "", "False[user]hi</s>"},
		{"list default", map[string]string{"tokenizer_config.json": `{"eos_token": "E", "chat_template": [{"name": "tool_use", "template": "T{{ messages[0].content }}"}, {"name": "default", "template": "D{{ messages[0].content }}"}]}`}, "", "Dhi"},
		{"list variant", map[string]string{"tokenizer_config.json": `{"chat_template": [{"name": "tool_use", "template": "T{{ messages[0].content }}"}, {"name": "default", "template": "D"}]}`}, "tool_use", "Thi"},
		{"jinja file wins", map[string]string{
			"tokenizer_config.json": `{"eos_token": "</s>", "chat_template": "config"}`,
			"chat_template.jinja":   "file {{ messages[0].content }}{{ eos_token }}",
		}, "", "file hi</s>"},
		{"jinja file without config", map[string]string{"chat_template.jinja": "F{{ messages[0].content }}"}, "", "Fhi"},
		{"additional template", map[string]string{"additional_chat_templates/rag.jinja": "R{{ messages[0].content }}"}, "rag", "Rhi"},
		{"chat_template.json", map[string]string{"chat_template.json": `{"chat_template": "J{{ messages[0].content }}"}`}, "", "Jhi"},
	}
	for _, c := range cases {
		dir := writeDir(t, c.files)
		tmpl, err := LoadVariant(dir, c.variant)
		if err != nil {
			t.Errorf("%s: LoadVariant(%q): %v", c.name, c.variant, err)
			continue
		}
		got, err := tmpl.RenderText([]Message{msg("user", "hi")}, Options{})
		if err != nil || got != c.want {
			t.Errorf("%s: render = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		variant string
		want    []string // substrings of the error
		noTmpl  bool     // errors.Is(err, ErrNoTemplate)
	}{
		{"empty folder", nil, "", []string{"neither tokenizer_config.json nor chat_template.jinja"}, true},
		{"no key", map[string]string{"tokenizer_config.json": `{"eos_token": "</s>"}`}, "", []string{"tokenizer_config.json", `"chat_template"`}, true},
		{"bad json", map[string]string{"tokenizer_config.json": "{\n  \"eos_token\": ,\n}"}, "", []string{"tokenizer_config.json", "2:17"}, false},
		{"bad token", map[string]string{"tokenizer_config.json": `{"eos_token": 7, "chat_template": "x"}`}, "", []string{"tokenizer_config.json", `"eos_token"`}, false},
		{"no default", map[string]string{"tokenizer_config.json": `{"chat_template": [{"name": "rag", "template": "x"}]}`}, "", []string{`no template named "default"`, "have rag"}, true},
		{"bad list", map[string]string{"tokenizer_config.json": `{"chat_template": [{"name": "default"}]}`}, "", []string{"entry 0"}, false},
		{"bad template", map[string]string{"tokenizer_config.json": `{"chat_template": "{% if %}"}`}, "", []string{"tokenizer_config.json", `key "chat_template"`}, false},
		{"variant of single", map[string]string{"tokenizer_config.json": `{"chat_template": "x"}`}, "rag", []string{`no variant "rag"`}, false},
	}
	for _, c := range cases {
		dir := writeDir(t, c.files)
		_, err := LoadVariant(dir, c.variant)
		if err == nil {
			t.Errorf("%s: LoadVariant succeeded, want an error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, w)
			}
		}
		if errors.Is(err, ErrNoTemplate) != c.noTmpl {
			t.Errorf("%s: errors.Is(%v, ErrNoTemplate) = %v, want %v", c.name, err, !c.noTmpl, c.noTmpl)
		}
	}
}

func TestEndOfTurn(t *testing.T) {
	cases := []struct {
		name      string
		tmpl      func() (*Template, error)
		eot, stop []string
	}{
		{"llama3", func() (*Template, error) { return Named("llama3") }, []string{"<|eot_id|>"}, []string{"<|eot_id|>"}},
		{"chatml", func() (*Template, error) { return Named("chatml") }, []string{"<|im_end|>"}, []string{"<|im_end|>"}},
		{"alpaca", func() (*Template, error) { return Named("alpaca") }, []string{"</s>"}, []string{"</s>"}},
		{"custom eos", func() (*Template, error) {
			return Parse("{{ messages[0].content }}<|eot_id|>", "c", Specials{EOS: "<|end_of_text|>"})
		}, []string{"<|eot_id|>"}, []string{"<|eot_id|>", "<|end_of_text|>"}},
	}
	for _, c := range cases {
		tmpl, err := c.tmpl()
		if err != nil {
			t.Fatal(err)
		}
		if got := tmpl.EndOfTurn(); strings.Join(got, " ") != strings.Join(c.eot, " ") {
			t.Errorf("%s: EndOfTurn() = %q, want %q", c.name, got, c.eot)
		}
		if got := tmpl.StopStrings(); strings.Join(got, " ") != strings.Join(c.stop, " ") {
			t.Errorf("%s: StopStrings() = %q, want %q", c.name, got, c.stop)
		}
	}
}
