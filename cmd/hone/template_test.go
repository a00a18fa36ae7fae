package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hone/internal/shared"
)

func TestTemplateCommand(t *testing.T) {
	conv := `[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]`
	cases := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string // stdout, or a substring of stderr when code != 0
	}{
		{"chatml", conv, []string{"template", "--template", "chatml", "--messages", "-"}, 0,
			"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n"},
		{"generation prompt", `[{"role": "user", "content": "Hi"}]`, []string{"template", "--template", "llama3", "--messages", "-", "--generation-prompt"}, 0,
			"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
		{"alpaca eos", `[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]`,
			[]string{"template", "--template", "alpaca", "--eos-token", "<E>", "--messages", "-"}, 0,
			"Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nHi\n\n### Response:\nYo<E>\n\n"},
		{"spans", conv, []string{"template", "--template", "chatml", "--messages", "-", "--spans"}, 0,
			"template builtin:chatml, end of turn [\"<|im_end|>\"]\n" +
				"0 user      message [0,30) content [17,19)\n" +
				"1 assistant message [30,65) content [52,54) trained [52,64) \"Yo<|im_end|>\"\n"},
		{"bad json", `[{"role": "user"`, []string{"template", "--template", "chatml", "--messages", "-"}, 2, "unexpected end of JSON input"},
		{"no template", conv, []string{"template", "--messages", "-"}, 2, "--tokenizer"},
		{"unknown template", conv, []string{"template", "--template", "vicuna", "--messages", "-"}, 2, "have alpaca, chatml, llama3"},
		{"bad extra", conv, []string{"template", "--template", "chatml", "--messages", "-", "--extra", "novalue"}, 2, "KEY=JSON"},
		{"raises", `[{"role": "tool", "content": "x"}]`, []string{"template", "--template", "alpaca", "--messages", "-"}, 1, "unsupported role tool"},
	}
	for _, c := range cases {
		out, errOut, code := hone(t, c.stdin, c.args...)
		if code != c.code {
			t.Errorf("%s: hone %s exited %d, want %d (stderr %q)", c.name, strings.Join(c.args, " "), code, c.code, errOut)
			continue
		}
		if c.code == 0 && out != c.want {
			t.Errorf("%s: hone %s printed\n%q\nwant\n%q", c.name, strings.Join(c.args, " "), out, c.want)
		}
		if c.code != 0 && !strings.Contains(errOut, c.want) {
			t.Errorf("%s: stderr %q does not contain %q", c.name, errOut, c.want)
		}
	}
}

// TestTemplateCommandShared renders every chat-renders.json row through
// the command and compares the printed text.
func TestTemplateCommandShared(t *testing.T) {
	root := shared.Env(t, "HONE_TOKENIZER_DIR", "tokenizers")
	files, _ := filepath.Glob(filepath.Join(root, "*", "chat-renders.json"))
	if len(files) == 0 {
		t.Skipf("no chat-renders.json under %s", root)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var rows []struct {
			Messages            json.RawMessage `json:"messages"`
			AddGenerationPrompt bool            `json:"add_generation_prompt"`
			Text                string          `json:"text"`
		}
		if err := json.Unmarshal(data, &rows); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for i, row := range rows {
			args := []string{"template", "--tokenizer", filepath.Dir(file), "--messages", "-"}
			if row.AddGenerationPrompt {
				args = append(args, "--generation-prompt")
			}
			out, errOut, code := hone(t, string(row.Messages), args...)
			if code != 0 || out != row.Text {
				t.Errorf("%s row %d: hone template printed %q (exit %d, %s), want %q", file, i, out, code, errOut, row.Text)
			}
		}
	}
}
