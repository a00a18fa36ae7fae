package export

import (
	"strings"
	"testing"
	"text/template"

	"hone/chat"
	"hone/internal/shared"
)

// TestOllamaTemplate translates templates and checks the translation
// renders what the Jinja template renders on a conversation the probes
// did not use.
func TestOllamaTemplate(t *testing.T) {
	conv := []chat.Message{
		{Role: "system", Content: "Be brief."},
		{Role: "user", Content: "Hi there"},
		{Role: "assistant", Content: "Hello! How can I help?"},
		{Role: "user", Content: "Tell me a joke."},
	}
	tests := []struct {
		name     string
		tmpl     func(t *testing.T) *chat.Template
		stripBOS bool
		wantErr  string
	}{
		{"chatml", func(t *testing.T) *chat.Template { return named(t, "chatml", chat.Specials{EOS: "<|im_end|>"}) }, false, ""},
		{"llama3", func(t *testing.T) *chat.Template {
			return named(t, "llama3", chat.Specials{BOS: "<|begin_of_text|>", EOS: "<|eot_id|>"})
		}, true, ""},
		{"qwen3", func(t *testing.T) *chat.Template {
			tt, err := chat.Load(shared.Path(t, "tokenizers", "qwen3"))
			if err != nil {
				t.Fatal(err)
			}
			return tt
		}, false, "cannot be translated"}, // <think></think> only in the last assistant turn
		{"llama3-official", func(t *testing.T) *chat.Template {
			tt, err := chat.Load(shared.Path(t, "tokenizers", "llama3"))
			if err != nil {
				t.Fatal(err)
			}
			return tt
		}, true, "cannot be translated"}, // the default system block with dates
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jt := tt.tmpl(t)
			src, err := OllamaTemplate(jt, tt.stripBOS)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("OllamaTemplate(%s) = %v, want an error containing %q", tt.name, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("OllamaTemplate(%s) = %v", tt.name, err)
			}
			want, err := jt.RenderText(conv, chat.Options{AddGenerationPrompt: true})
			if err != nil {
				t.Fatal(err)
			}
			if tt.stripBOS {
				want = strings.TrimPrefix(want, jt.Specials.BOS)
			}
			got, err := ExecOllama(template.Must(template.New("").Parse(src)), conv)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("Ollama template %q renders\n%q\nwant\n%q", src, got, want)
			}
		})
	}
}

func named(t *testing.T, name string, sp chat.Specials) *chat.Template {
	t.Helper()
	tt, err := chat.Named(name)
	if err != nil {
		t.Fatal(err)
	}
	return tt.WithSpecials(sp)
}
