package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hone/eval"
	"hone/tokenizer"
)

// quickstartFiles are the committed quickstart data and the commands that
// make them (examples/quickstart/README.md lists the same).
var quickstartFiles = []struct {
	file string
	args []string
}{
	{"train.jsonl", []string{"corpus", "extraction", "--seed", "1", "--n", "1500"}},
	{"valid.jsonl", []string{"corpus", "extraction", "--seed", "2", "--n", "150"}},
	{"test.jsonl", []string{"corpus", "extraction", "--seed", "3", "--n", "200"}},
	{"general.jsonl", []string{"corpus", "stories", "--seed", "4", "--n", "300"}},
	{"schema.json", []string{"corpus", "schema"}},
}

func TestQuickstartDataRegenerates(t *testing.T) {
	dir := t.TempDir()
	total := 0
	for _, q := range quickstartFiles {
		out := filepath.Join(dir, q.file)
		if _, stderr, code := hone(t, "", append(q.args, "--out", out)...); code != 0 {
			t.Fatalf("hone %v exited %d: %s", q.args, code, stderr)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("..", "..", "examples", "quickstart", q.file))
		if err != nil {
			t.Fatal(err)
		}
		total += len(want)
		if !bytes.Equal(got, want) {
			t.Errorf("hone %s gives other bytes than examples/quickstart/%s", strings.Join(q.args, " "), q.file)
		}
		if readme, err := os.ReadFile(filepath.Join("..", "..", "examples", "quickstart", "README.md")); err != nil || !strings.Contains(string(readme), "hone "+strings.Join(q.args, " ")+" --out "+q.file) {
			t.Errorf("examples/quickstart/README.md does not give the command for %s", q.file)
		}
	}
	if total > 2<<20 {
		t.Errorf("quickstart data is %d bytes, want under 2 MiB", total)
	}
	// Every answer validates against the schema as hone eval reads it.
	schema, err := eval.LoadSchema(filepath.Join(dir, "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	// No story is in two splits.
	seen := map[string]string{}
	for _, split := range []string{"train.jsonl", "valid.jsonl", "test.jsonl"} {
		data, _ := os.ReadFile(filepath.Join(dir, split))
		for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var rec struct {
				Messages []struct{ Role, Content string }
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil || len(rec.Messages) != 3 {
				t.Fatalf("%s line %d: %v (%d messages)", split, i+1, err, len(rec.Messages))
			}
			if err := schema.Validate(rec.Messages[2].Content); err != nil {
				t.Errorf("%s line %d: answer %s does not validate: %v", split, i+1, rec.Messages[2].Content, err)
			}
			story := rec.Messages[1].Content
			if prev, dup := seen[story]; dup {
				t.Errorf("%s line %d is also in %s: %q", split, i+1, prev, story)
			}
			seen[story] = split
		}
	}
}

func TestCorpusStdoutAndErrors(t *testing.T) {
	out, stderr, code := hone(t, "", "corpus", "stories", "--seed", "9", "--n", "2", "--out", "-")
	if code != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("hone corpus stories --out - = %q (exit %d, %s), want 2 lines", out, code, stderr)
	}
	if _, stderr, code := hone(t, "", "corpus", "extraction", "--n", "0", "--out", "-"); code != 2 || !strings.Contains(stderr, "--n") {
		t.Errorf("hone corpus extraction --n 0 exited %d (%s), want 2 naming --n", code, stderr)
	}
}

func TestTokenizerTrainCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "stories.jsonl")
	if _, stderr, code := hone(t, "", "corpus", "stories", "--seed", "5", "--n", "400", "--out", data); code != 0 {
		t.Fatalf("hone corpus stories exited %d: %s", code, stderr)
	}
	out := filepath.Join(dir, "tok")
	_, stderr, code := hone(t, "", "tokenizer", "train", "--input", data, filepath.Join("..", "..", "examples", "quickstart", "valid.jsonl"), "--vocab-size", "700", "--out", out)
	if code != 0 {
		t.Fatalf("hone tokenizer train exited %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "on 550 texts") {
		t.Errorf("hone tokenizer train said %q, want 550 texts (400 stories and 150 chats)", stderr)
	}
	tk, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if tk.VocabSize() != 700 {
		t.Errorf("VocabSize() = %d, want 700", tk.VocabSize())
	}
	if id, ok := tk.BOS(); !ok || tk.Token(id) != tokenizer.BeginOfText {
		t.Errorf("BOS() = %d, %v, want %s", id, ok, tokenizer.BeginOfText)
	}
	text := "<|im_start|>user\nMia went to the park.<|im_end|>\n"
	if got := tk.Decode(tk.Encode(text, false), false); got != text {
		t.Errorf("Decode(Encode(%q)) = %q", text, got)
	}
	var cfg map[string]any
	raw, err := os.ReadFile(filepath.Join(out, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["chat_template"] != tokenizer.ChatMLTemplate || cfg["eos_token"] != tokenizer.EndOfText {
		t.Errorf("tokenizer_config.json = %v, want the ChatML template and EOS %s", cfg, tokenizer.EndOfText)
	}
	// The chat template renders with hone's own renderer.
	rendered, stderr, code := hone(t, `[{"role":"user","content":"hi"}]`, "template", "--tokenizer", out, "--messages", "-", "--generation-prompt")
	want := "<|begin_of_text|><|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
	if code != 0 || strings.TrimSuffix(rendered, "\n") != strings.TrimSuffix(want, "\n") {
		t.Errorf("hone template = %q (exit %d, %s), want %q", rendered, code, stderr, want)
	}
	if _, stderr, code := hone(t, `[{"role":"user","content":"hi"},{"role":"assistant","content":"{}"}]`, "template", "--tokenizer", out, "--messages", "-", "--spans"); code != 0 {
		t.Errorf("hone template --spans exited %d: %s", code, stderr)
	}

	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"text\":\"ok\"}\n{oops\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--input", bad}, "bad.jsonl: line 2"},
		{[]string{"--input", filepath.Join(dir, "missing.txt")}, "missing.txt"},
		{[]string{"--input", data, "--vocab-size", "10"}, "smaller than"},
		{[]string{"--input", data, "--bos", "<s>"}, "BOS token"},
	} {
		args := append([]string{"tokenizer", "train", "--out", filepath.Join(dir, "x")}, tc.args...)
		if _, stderr, code := hone(t, "", args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("hone %v exited %d (%s), want 2 with %q", args, code, stderr, tc.want)
		}
	}
	if _, _, code := hone(t, "", "tokenizer", "train", "--input", data, "--out", out); code == 0 {
		t.Error("hone tokenizer train into a non-empty folder succeeded")
	}
}
