package chat

import (
	"encoding/json"
	"errors"
	"runtime/debug"
	"strings"
	"testing"
)

// FuzzConfig feeds arbitrary bytes to the byte-level core of LoadVariant
// (tokenizer_config.json and chat_template.json) and renders whatever
// template they hold: no panic, no crash (the guards hold), and every error
// names the file it comes from.
func FuzzConfig(f *testing.F) {
	add := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, name := range Names() {
		tmpl, err := Named(name)
		if err != nil {
			f.Fatal(err)
		}
		add(map[string]any{"bos_token": "<s>", "eos_token": map[string]any{"content": "</s>"}, "chat_template": tmpl.Source})
		add(map[string]any{"chat_template": []map[string]string{{"name": "default", "template": tmpl.Source}, {"name": "tool_use", "template": tmpl.Source}}})
	}
	for _, src := range []string{
		"{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
		"{% for i in range(4000000000) %}{{ i }}{% endfor %}",
		"{% set l = [] %}{% set _ = l.append(l) %}{{ l }}",
		"{%- for m in messages %}{{ m.role }}: {{ m.content | tojson(indent=2) }}</s>{% endfor %}{% raw %}{{ x }}{% endraw %}",
		"{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}{{ messages | length }}{% endcall %}",
	} {
		add(map[string]any{"chat_template": src, "eos_token": "</s>"})
	}
	f.Add([]byte(`{"chat_template": null, "bos_token": 7}`))
	f.Add([]byte(`null`))

	msgs := []Message{msg("system", "Be brief."), msg("user", "Hi"), msg("assistant", "Hello.")}
	f.Fuzz(func(t *testing.T, data []byte) {
		old := debug.SetMaxStack(64 << 20)
		defer debug.SetMaxStack(old)
		oldSteps := maxSteps
		maxSteps = 1 << 14 // keep each input fast; the limit itself is what is tested
		defer func() { maxSteps = oldSteps }()

		check := func(file string, tmpl *Template, err error) {
			if err != nil {
				if !strings.Contains(err.Error(), file) {
					t.Fatalf("error %q does not name %s", err, file)
				}
				return
			}
			for _, agp := range []bool{false, true} {
				opt := Options{AddGenerationPrompt: agp, Tools: []any{json.RawMessage(`{"name": "f", "parameters": {"a": [1, 2.5, null]}}`)}}
				if _, err := tmpl.RenderText(msgs, opt); err != nil && !strings.Contains(err.Error(), tmpl.Name) {
					t.Fatalf("RenderText error %q does not name the template %s", err, tmpl.Name)
				}
				if _, err := tmpl.Render(msgs, opt); err != nil && !strings.Contains(err.Error(), tmpl.Name) {
					t.Fatalf("Render error %q does not name the template %s", err, tmpl.Name)
				}
			}
		}
		const cfgPath = "/m/tokenizer_config.json"
		cfg, sp, err := parseConfig(data, cfgPath)
		if err != nil {
			check(cfgPath, nil, err)
		} else {
			for _, variant := range []string{"", "tool_use"} {
				tmpl, err := configTemplate(cfg, cfgPath, variant, sp)
				if err != nil && !errors.Is(err, ErrNoTemplate) && !strings.Contains(err.Error(), cfgPath) {
					t.Fatalf("configTemplate(%q) error %q does not name %s", variant, err, cfgPath)
				}
				if err == nil {
					check(cfgPath, tmpl, nil)
				}
			}
		}
		tmpl, err := parseTemplateJSON(data, "/m/chat_template.json", Specials{EOS: "</s>"})
		check("/m/chat_template.json", tmpl, err)
	})
}
