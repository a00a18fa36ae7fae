package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hone/gguf"
)

// offlineHub puts a copy of the model folder src into a fresh Hugging Face
// cache as org/tiny and returns the environment that makes hone read that
// cache, offline.
func offlineHub(t *testing.T, src string) []string {
	t.Helper()
	const commit = "0123456789abcdef0123456789abcdef01234567"
	cache := t.TempDir()
	repo := filepath.Join(cache, "models--org--tiny")
	snap := filepath.Join(repo, "snapshots", commit)
	for _, d := range []string{"refs", "snapshots"} {
		if err := os.MkdirAll(filepath.Join(repo, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(copyDir(t, src), snap); err != nil {
		t.Fatal(err)
	}
	return []string{"HF_HUB_CACHE=" + cache, "HF_HUB_OFFLINE=1", "HF_ENDPOINT=http://127.0.0.1:1", "HF_TOKEN="}
}

// TestHubIDs: every command that takes --model (or model arguments)
// resolves a Hub id through the Hugging Face cache, as README promises:
// an id in the cache works, one that is not is an offline-cache error, not
// a missing folder.
func TestHubIDs(t *testing.T) {
	dir := tinyServeModel(t)
	env := offlineHub(t, dir)
	tmp := t.TempDir()
	file := filepath.Join(tmp, "a.jsonl")
	os.WriteFile(file, []byte(`{"messages":[{"role":"user","content":"hello"},{"role":"assistant","content":"the cat sat on the mat"}]}`+"\n"), 0o644)

	if out, stderr, code := honeEnv(t, env, "data", "preview", file, "--model", "org/tiny"); code != 0 || !strings.Contains(out, "tokens") {
		t.Errorf("data preview --model org/tiny = exit %d: %s%s", code, out, stderr)
	}
	if out, stderr, code := honeEnv(t, env, "tokenize", "--tokenizer", "org/tiny"); code != 0 {
		t.Errorf("tokenize --tokenizer org/tiny = exit %d: %s%s", code, out, stderr)
	}
	if out, stderr, code := honeEnv(t, env, "data", "check", file, "--model", "org/tiny"); code == 2 || !strings.Contains(out, "token") {
		t.Errorf("data check --model org/tiny = exit %d: %s%s", code, out, stderr)
	}
	if out, stderr, code := honeEnv(t, env, "parity", "org/tiny", dir); code != 0 {
		t.Errorf("parity org/tiny DIR = exit %d: %s%s", code, out, stderr)
	}
	if out, stderr, code := honeEnv(t, env, "export", "--model", "org/tiny", "--format", "hf", "--out", filepath.Join(tmp, "hf")); code != 0 {
		t.Errorf("export --model org/tiny = exit %d: %s%s", code, out, stderr)
	}
	// a GGUF export of a Hub id is named after the model, not the snapshot's commit
	if out, stderr, code := honeEnv(t, env, "export", "--model", "org/tiny", "--format", "gguf", "--type", "f32", "--out", filepath.Join(tmp, "gguf")); code != 0 {
		t.Errorf("export --model org/tiny --format gguf = exit %d: %s%s", code, out, stderr)
	} else if f, err := gguf.Open(filepath.Join(tmp, "gguf", "model.gguf")); err != nil {
		t.Error(err)
	} else {
		if name, err := f.Meta.String(gguf.KeyName); err != nil || name != "tiny" {
			t.Errorf("GGUF general.name = %q (%v), want tiny", name, err)
		}
		f.Close()
	}

	// serve: the default API name is the Hub id
	cmd, _, _, log := startServe(t, env, "--model", "org/tiny", "--addr", "127.0.0.1:0")
	if !strings.Contains(log, "models=org/tiny") {
		t.Errorf("serve --model org/tiny did not serve it as org/tiny:\n%s", log)
	}
	cmd.Process.Kill()
	cmd.Wait()

	// an id that is not in the cache
	out := filepath.Join(tmp, "out")
	for _, args := range [][]string{
		{"serve", "--model", "org/absent"},
		{"export", "--model", "org/absent", "--format", "hf", "--out", out},
		{"parity", "org/absent", dir},
		{"parity", dir, "org/absent"},
		{"data", "check", file, "--model", "org/absent"},
		{"data", "preview", file, "--model", "org/absent"},
		{"data", "prepare", file, "--model", "org/absent", "--out", out},
		{"generate", "--model", "org/absent", "--prompt", "x"},
		{"merge", "--model", "org/absent", "--adapter", dir, "--out", out},
		{"quantize", "--model", "org/absent", "--out", out},
		{"bench", "generate", "--model", "org/absent"},
		{"tokenize", "--tokenizer", "org/absent"},
		{"template", "--tokenizer", "org/absent", "--messages", file},
	} {
		_, stderr, code := honeEnv(t, env, args...)
		if code == 0 || !strings.Contains(stderr, "org/absent") || !strings.Contains(stderr, "offline") {
			t.Errorf("hone %s = exit %d, %q; want an error that org/absent is not in the cache (offline)", strings.Join(args, " "), code, stderr)
		}
	}
}

// TestGenerateSamplingFlags: sampling flags outside their range are
// errors naming the flag (the server refuses the same values), not
// silently "off"; the documented off values are accepted.
func TestGenerateSamplingFlags(t *testing.T) {
	dir := tinyServeModel(t)
	for _, tc := range []struct {
		flag, value string
	}{
		{"--top-p", "0"}, {"--top-p", "1.5"}, {"--top-p", "-0.2"}, {"--top-p", "NaN"},
		{"--top-k", "-1"},
		{"--repetition-penalty", "0"}, {"--repetition-penalty", "-1"},
		{"--temperature", "-0.5"},
		{"--max-tokens", "0"},
	} {
		_, stderr, code := hone(t, "", "generate", "--model", dir, "--prompt", "the cat", tc.flag, tc.value)
		if code != 2 || !strings.Contains(stderr, tc.flag) {
			t.Errorf("generate %s %s = exit %d, %q; want 2 naming %s", tc.flag, tc.value, code, stderr, tc.flag)
		}
	}
	if out, stderr, code := hone(t, "", "generate", "--model", dir, "--prompt", "the cat", "--max-tokens", "3",
		"--top-k", "0", "--top-p", "1", "--repetition-penalty", "1", "--temperature", "0.7"); code != 0 || !strings.HasPrefix(out, "the cat") {
		t.Errorf("generate with the off values = exit %d: %q %s", code, out, stderr)
	}
}
