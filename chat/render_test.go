package chat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"hone/internal/shared"
)

// renderCase is one row of chat-renders.json.
type renderCase struct {
	Messages            []Message `json:"messages"`
	AddGenerationPrompt bool      `json:"add_generation_prompt"`
	Text                string    `json:"text"`
	IDs                 []int32   `json:"ids"`
}

// renderFolders returns the tokenizer folders that have a chat-renders.json,
// under $HONE_TOKENIZER_DIR or ../shared/tokenizers.
func renderFolders(t *testing.T) (root string, dirs []string) {
	t.Helper()
	root = shared.Env(t, "HONE_TOKENIZER_DIR", "tokenizers")
	matches, err := filepath.Glob(filepath.Join(root, "*", "chat-renders.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(matches) == 0 {
		t.Skipf("no */chat-renders.json under %s", root)
	}
	for _, m := range matches {
		dirs = append(dirs, filepath.Dir(m))
	}
	return root, dirs
}

func readRenders(t *testing.T, dir string) []renderCase {
	t.Helper()
	path := filepath.Join(dir, "chat-renders.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []renderCase
	if err := json.Unmarshal(data, &rows); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// TestChatRendersText reproduces the text of every chat-renders.json row.
func TestChatRendersText(t *testing.T) {
	_, dirs := renderFolders(t)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tmpl, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			for i, row := range readRenders(t, dir) {
				opt := Options{AddGenerationPrompt: row.AddGenerationPrompt}
				r, err := tmpl.Render(row.Messages, opt)
				if err != nil {
					t.Errorf("row %d: Render: %v", i, err)
					continue
				}
				if r.Text != row.Text {
					t.Errorf("row %d: Render(%d messages, agp=%v).Text =\n%q\nwant\n%q", i, len(row.Messages), row.AddGenerationPrompt, r.Text, row.Text)
				}
				text, err := tmpl.RenderText(row.Messages, opt)
				if err != nil || text != row.Text {
					t.Errorf("row %d: RenderText = %q, %v; want %q", i, text, err, row.Text)
				}
				checkSpans(t, r, row.Messages)
			}
		})
	}
}

// checkSpans checks the invariants every Rendered must satisfy.
func checkSpans(t *testing.T, r *Rendered, msgs []Message) {
	t.Helper()
	if len(r.Spans) != len(msgs) {
		t.Fatalf("len(Spans) = %d, want %d", len(r.Spans), len(msgs))
	}
	pos := 0
	for k, s := range r.Spans {
		if s.Message.Start != pos {
			t.Errorf("message %d: Message.Start = %d, want %d (contiguous)", k, s.Message.Start, pos)
		}
		if !(s.Message.Start <= s.Content.Start && s.Content.Start <= s.Content.End && s.Content.End <= s.Message.End && s.Message.End <= len(r.Text)) {
			t.Errorf("message %d: spans out of order: %+v", k, s)
		}
		if s.Role == "assistant" && !(s.Trained.Start <= s.Content.Start && s.Content.End <= s.Trained.End && s.Trained.End <= s.Message.End) {
			t.Errorf("message %d: trained %v does not enclose content %v within message %v", k, s.Trained, s.Content, s.Message)
		}
		pos = s.Message.End
	}
}
