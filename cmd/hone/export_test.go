package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hone/internal/shared"
)

// TestExportGGUFAndParity exports stories260K as GGUF through the CLI,
// checks `hone parity` passes on the result and fails (exit 3) against
// another model.
func TestExportGGUFAndParity(t *testing.T) {
	src := shared.Path(t, "models", "stories260K")
	dir := t.TempDir()
	hf := filepath.Join(dir, "hf")
	if _, stderr, code := hone(t, "", "convert", "llama2c", "--checkpoint", filepath.Join(src, "stories260K.bin"),
		"--tokenizer", filepath.Join(src, "tok512.bin"), "--out", hf); code != 0 {
		t.Fatalf("convert exited %d: %s", code, stderr)
	}
	out := filepath.Join(dir, "gguf")
	stdout, stderr, code := hone(t, "", "export", "--model", hf, "--format", "gguf", "--type", "Q8_0", "--out", out)
	if code != 0 {
		t.Fatalf("export exited %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, filepath.Join(out, "model.gguf")) || !strings.Contains(stderr, "parity: logits") {
		t.Errorf("export printed %q / %q", stdout, stderr)
	}
	if mf, err := os.ReadFile(filepath.Join(out, "Modelfile")); err != nil || !strings.HasPrefix(string(mf), "FROM ./model.gguf\n") {
		t.Errorf("Modelfile = %q, %v", mf, err)
	}
	gg := filepath.Join(out, "model.gguf")
	if stdout, stderr, code := hone(t, "", "parity", "--type", "Q8_0", hf, gg); code != 0 || !strings.Contains(stdout, "tokenizer: same") {
		t.Fatalf("parity exited %d: %s %s", code, stdout, stderr)
	}
	if _, stderr, code := hone(t, "", "parity", "--type", "F32", hf, gg); code != 3 || !strings.Contains(stderr, "parity check failed") {
		t.Fatalf("parity of a Q8_0 export at the F32 tolerance exited %d, want 3: %s", code, stderr)
	}
	if _, _, code := hone(t, "", "export", "--model", hf, "--format", "gguf", "--type", "Q5_1", "--out", filepath.Join(dir, "bad")); code != 2 {
		t.Fatalf("export --type Q5_1 exited %d, want 2", code)
	}
}
