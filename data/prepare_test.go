package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hone/chat"
)

// TestPrepareRenderErrors: examples that fail to render are named (file,
// line, cause) in the notes and the manifest, and in the error when no
// training example is left.
func TestPrepareRenderErrors(t *testing.T) {
	tok, _, _ := sharedTokenizer(t, "llama3")
	// The alpaca template's own EOS "</s>" is not a Llama 3 token: every
	// conversation fails to render.
	raw, err := chat.Named("alpaca")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var chats, texts strings.Builder
	for i := 0; i < 5; i++ {
		chats.WriteString(`{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}` + "\n")
		texts.WriteString(`{"text":"Once upon a time."}` + "\n")
	}
	chatFile := write("chat.jsonl", chats.String())
	text := write("text.jsonl", texts.String())
	cfg := PrepareConfig{Train: []string{chatFile}, Template: raw, Tokenizer: tok, MaxLen: 64, Out: filepath.Join(dir, "out")}

	_, err = Prepare(cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "5 render errors") || !strings.Contains(err.Error(), chatFile+":1: ") ||
		!strings.Contains(err.Error(), "special token") {
		t.Errorf("Prepare(every example fails to render) = %v, want an error naming the count, %s:1 and the cause", err, chatFile)
	}

	cfg.Train = []string{chatFile, text}
	var notes []string
	res, err := Prepare(cfg, func(s string) { notes = append(notes, s) })
	if err != nil {
		t.Fatal(err)
	}
	first := res.Manifest.SkippedFirst["render errors"]
	if res.Manifest.Skipped["render errors"] != 5 || len(first) != MaxSkippedListed || !strings.HasPrefix(first[0], chatFile+":1: ") {
		t.Errorf("manifest: skipped %v, first %q; want 5 render errors, the first %d named from %s:1", res.Manifest.Skipped, first, MaxSkippedListed, chatFile)
	}
	all := strings.Join(notes, "\n")
	if !strings.Contains(all, chatFile+":1: ") || !strings.Contains(all, "5 examples with render errors") {
		t.Errorf("notes = %q, want the first render error named and the total", notes)
	}
}
