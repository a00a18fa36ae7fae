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
				// Message and trained ranges fall on token boundaries, so a
				// loss mask built from them is exact.
				r, err := tmpl.Render(row.Messages, Options{AddGenerationPrompt: row.AddGenerationPrompt})
				if err != nil {
					t.Fatalf("row %d: %v", i, err)
				}
				_, offs := tok.EncodeOffsets(text, false)
				bound := map[int]bool{len(text): true}
				for _, o := range offs {
					bound[o[0]] = true
				}
				for k, s := range r.Spans {
					check := []int{s.Message.Start, s.Message.End}
					if s.Role == "assistant" {
						check = append(check, s.Trained.Start, s.Trained.End)
					}
					for _, b := range check {
						if !bound[b] {
							t.Errorf("row %d message %d (%s): byte %d of %+v is inside a token", i, k, s.Role, b, s)
						}
					}
				}
			}
		})
	}
}
