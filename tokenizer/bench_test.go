package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hone/internal/shared"
)

// llama3Dir returns the Llama 3 reference folder or skips.
func llama3Dir(b testing.TB) string {
	return filepath.Join(shared.Env(b, "HONE_TOKENIZER_DIR", "tokenizers"), "llama3")
}

// prose returns about n bytes of English prose: the shared TinyStories-style
// reference text repeated, or a built-in paragraph when absent.
func prose(b testing.TB, n int) string {
	text := "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. " +
		"One day, she saw a big, red ball. She wanted to play with it, but it was too high. " +
		"Her mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do.\n"
	if root, ok := shared.Root(); ok {
		if data, err := os.ReadFile(filepath.Join(root, "models", "stories260K", "golden-greedy-t0-n200.txt")); err == nil {
			text = string(data) + "\n" + text
		}
	}
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(text)
	}
	return sb.String()
}

func BenchmarkLoadLlama3(b *testing.B) {
	dir := llama3Dir(b)
	if _, err := os.Stat(dir); err != nil {
		b.Skip("llama3 tokenizer absent")
	}
	for b.Loop() {
		if _, err := Load(dir); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeLlama3(b *testing.B) {
	tk := loadShared(b, llama3Dir(b))
	text := prose(b, 1<<20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tk.Encode(text, false)
	}
}

func BenchmarkEncodeLlama3Uncached(b *testing.B) {
	tk := loadShared(b, llama3Dir(b))
	text := prose(b, 1<<20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tk.model.cache = newWordCache()
		tk.Encode(text, false)
	}
}

func BenchmarkEncodeBatchLlama3(b *testing.B) {
	tk := loadShared(b, llama3Dir(b))
	text := prose(b, 1<<20)
	lines := strings.SplitAfter(text, "\n")
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tk.EncodeBatch(lines, false)
	}
}

func BenchmarkEncodeLlama2(b *testing.B) {
	tk := loadShared(b, filepath.Join(shared.Env(b, "HONE_TOKENIZER_DIR", "tokenizers"), "llama2"))
	text := prose(b, 1<<20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tk.Encode(text, false)
	}
}

// BenchmarkEncodeLlama3ColdCache encodes 724 kB of varied English and JSON
// (the shared glaive tool-call demo set) with an empty word cache each time.
func BenchmarkEncodeLlama3ColdCache(b *testing.B) {
	tk := loadShared(b, llama3Dir(b))
	data, err := os.ReadFile(shared.Path(b, "datasets", "llamafactory-glaive_toolcall_en_demo.json"))
	if err != nil {
		b.Fatal(err)
	}
	text := string(data)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tk.model.cache = newWordCache()
		tk.Encode(text, false)
	}
}
