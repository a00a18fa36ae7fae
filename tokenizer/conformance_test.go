package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"hone/internal/shared"
)

// encodingRow is one row of an encodings*.json reference file, produced by
// Hugging Face tokenizers.
type encodingRow struct {
	Text            string   `json:"text"`
	IDs             []int32  `json:"ids"`
	Tokens          []string `json:"tokens"`
	IDsWithSpecials []int32  `json:"ids_with_specials"`
	Decoded         string   `json:"decoded"`
}

var loaded sync.Map // folder -> *Tokenizer, so the big ones load once per test binary

func loadShared(t testing.TB, dir string) *Tokenizer {
	t.Helper()
	if tk, ok := loaded.Load(dir); ok {
		return tk.(*Tokenizer)
	}
	tk, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	loaded.Store(dir, tk)
	return tk
}

// tokenizerDirs lists the reference folders (one per tokenizer).
func tokenizerDirs(t testing.TB) []string {
	root := shared.Env(t, "HONE_TOKENIZER_DIR", "tokenizers")
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range ents {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(root, e.Name()))
		}
	}
	sort.Strings(dirs)
	if len(dirs) == 0 {
		t.Fatalf("no tokenizer folders in %s", root)
	}
	return dirs
}

func readRows(t testing.TB, dir string) map[string][]encodingRow {
	files, _ := filepath.Glob(filepath.Join(dir, "encodings*.json"))
	out := map[string][]encodingRow{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rows []encodingRow
		if err := json.Unmarshal(data, &rows); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = rows
	}
	return out
}

// TestConformance reproduces every row of every encodings*.json under the
// shared tokenizers folder: ids, ids with special tokens, and the decoded
// text, through both the fast and the general pipeline.
func TestConformance(t *testing.T) {
	for _, dir := range tokenizerDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			files := readRows(t, dir)
			if len(files) == 0 {
				t.Skipf("no encodings*.json in %s", dir)
			}
			tk := loadShared(t, dir)
			slow := tk.withoutFastPath()
			for file, rows := range files {
				for i, r := range rows {
					for _, v := range []struct {
						name string
						tk   *Tokenizer
					}{{"", tk}, {" (general path)", slow}} {
						if got := v.tk.Encode(r.Text, false); !slices.Equal(got, r.IDs) {
							t.Errorf("%s row %d%s: Encode(%q, false) = %v, want %v", file, i, v.name, r.Text, got, r.IDs)
						}
						if got := v.tk.Encode(r.Text, true); !slices.Equal(got, r.IDsWithSpecials) {
							t.Errorf("%s row %d%s: Encode(%q, true) = %v, want %v", file, i, v.name, r.Text, got, r.IDsWithSpecials)
						}
					}
					var toks []string
					for _, id := range r.IDs {
						toks = append(toks, tk.Token(id))
					}
					if r.Tokens != nil && !slices.Equal(toks, r.Tokens) {
						t.Errorf("%s row %d: tokens of %v = %q, want %q", file, i, r.IDs, toks, r.Tokens)
					}
					if got := tk.Decode(r.IDs, false); got != r.Decoded {
						t.Errorf("%s row %d: Decode(%v, false) = %q, want %q", file, i, r.IDs, got, r.Decoded)
					}
					ids, offs := tk.EncodeOffsets(r.Text, true)
					if !slices.Equal(ids, r.IDsWithSpecials) || len(offs) != len(ids) {
						t.Errorf("%s row %d: EncodeOffsets(%q) = %v, %d offsets; want %v", file, i, r.Text, ids, len(offs), r.IDsWithSpecials)
					}
					for k, o := range offs {
						if o[0] < 0 || o[1] < o[0] || o[1] > len(r.Text) {
							t.Errorf("%s row %d: offset %d = %v outside [0, %d]", file, i, k, o, len(r.Text))
						}
					}
				}
			}
			if strings.Contains(dir, "llama3") || strings.Contains(dir, "qwen3") {
				if tk.fast == nil {
					t.Errorf("%s: the byte-level fast path is not enabled", dir)
				}
			}
		})
	}
}

// withoutFastPath returns a copy of t that always runs the general pipeline.
func (t *Tokenizer) withoutFastPath() *Tokenizer {
	c := *t
	c.fast = nil
	return &c
}
