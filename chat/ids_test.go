package chat

import (
	"path/filepath"
	"slices"
	"testing"

	"hone/tokenizer"
)

// TestChatRendersIDs checks the ids of every chat-renders.json row: the
// rendered text encoded with that folder's tokenizer, without adding
// special tokens (the template writes BOS itself).
func TestChatRendersIDs(t *testing.T) {
	_, dirs := renderFolders(t)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tmpl, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := tokenizer.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			for i, row := range readRenders(t, dir) {
				text, err := tmpl.RenderText(row.Messages, Options{AddGenerationPrompt: row.AddGenerationPrompt})
				if err != nil {
					t.Fatalf("row %d: %v", i, err)
				}
				if got := tok.Encode(text, false); !slices.Equal(got, row.IDs) {
					t.Errorf("row %d: Encode(Render(...)) =\n%v\nwant\n%v", i, got, row.IDs)
				}
			}
		})
	}
}
