package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAdviseCommand(t *testing.T) {
	dir := t.TempDir()
	answers := filepath.Join(dir, "answers.yaml")
	os.WriteFile(answers, []byte("changing_facts: true\nreal_time: true\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("frehsness: true\n"), 0o644)
	cases := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  []string
	}{
		{"rag flags", "", []string{"--new-knowledge"}, 0, []string{"recommendation: retrieval-augmented generation", "retrieval index"}},
		{"fine-tune flags", "", []string{"--tone", "--latency", "--model", "Qwen/Qwen2.5-0.5B-Instruct"}, 0, []string{"recommendation: fine-tuning\n", "hone plan --model Qwen/Qwen2.5-0.5B-Instruct", "hone train"}},
		{"both", "", []string{"--real-time", "--vocabulary"}, 0, []string{"combined with retrieval", "you need both"}},
		{"file", "", []string{"--file", answers}, 0, []string{"retrieval-augmented generation", "real-time updates"}},
		{"interactive", "n\nn\nn\ny\nn\nn\nn\nn\n1000\n", []string{"-i"}, 0, []string{"recommendation: fine-tuning", "fixed output format"}},
		{"interactive none", "\n\n\n\n\n\n\n\n\n", []string{"-i"}, 0, []string{"prompting"}},
		{"input ends", "y\n", []string{"-i"}, 1, []string{"input ended"}},
		{"no answers off a terminal", "", nil, 2, []string{"no answers"}},
		{"unknown key", "", []string{"--file", bad}, 2, []string{"bad.yaml", "frehsness"}},
		{"file and flags", "", []string{"--file", answers, "--tone"}, 2, []string{"exclusive"}},
	}
	for _, c := range cases {
		out, errOut, code := hone(t, c.stdin, append([]string{"advise"}, c.args...)...)
		for _, w := range c.want {
			if !strings.Contains(out+errOut, w) {
				t.Errorf("%s: hone advise %v lacks %q:\n%s%s", c.name, c.args, w, out, errOut)
			}
		}
		if code != c.code {
			t.Errorf("%s: hone advise %v exited %d, want %d", c.name, c.args, code, c.code)
		}
	}
}

func TestModelsCommand(t *testing.T) {
	out, _, code := hone(t, "", "models")
	for _, w := range []string{"llama (LlamaForCausalLM)", "mistral", "qwen2", "qwen3", "Qwen/Qwen2.5-0.5B-Instruct", "gated: needs HF_TOKEN"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("hone models (exit %d) lacks %q:\n%s", code, w, out)
		}
	}
	out, _, code = hone(t, "", "models", "--json")
	if code != 0 || !strings.Contains(out, `"ModelType": "qwen3"`) {
		t.Errorf("hone models --json (exit %d):\n%s", code, out)
	}
}
