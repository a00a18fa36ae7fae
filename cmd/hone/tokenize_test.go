package main

import (
	"path/filepath"
	"strings"
	"testing"

	"hone/internal/shared"
)

func TestTokenizeCommand(t *testing.T) {
	dir := shared.Env(t, "HONE_TOKENIZER_DIR", "tokenizers")
	llama2 := filepath.Join(dir, "llama2")
	qwen3 := filepath.Join(dir, "qwen3")
	for _, c := range []struct {
		stdin string
		args  []string
		want  string
		code  int
	}{
		{"Hello World!!!", []string{"tokenize", "--tokenizer", llama2}, "22557 3304 13915\n", 0},
		{"Hello World!!!", []string{"tokenize", "--tokenizer", llama2, "--special"}, "1 22557 3304 13915\n", 0},
		{"\"hello world\"\n\n\"<|im_start|>user\\nhi<|im_end|>\"\n", []string{"tokenize", "--tokenizer", qwen3, "--jsonl"},
			"[14990,1879]\n[151644,872,198,6023,151645]\n", 0},
		{"\"a\"\nnot json\n", []string{"tokenize", "--tokenizer", qwen3, "--jsonl"}, "[64]\n", 2},
		{"", []string{"tokenize", "--tokenizer", filepath.Join(dir, "no-such-folder")}, "", 2},
	} {
		out, stderr, code := hone(t, c.stdin, c.args...)
		if out != c.want || code != c.code {
			t.Errorf("hone %s < %q = %q (exit %d, stderr %q), want %q (exit %d)", strings.Join(c.args[:len(c.args)-1], " "), c.stdin, out, code, stderr, c.want, c.code)
		}
	}
}
