package export

import (
	"path/filepath"
	"testing"

	"hone/compute/cpu"
	"hone/gguf"
	"hone/internal/shared"
	"hone/model"
	"hone/tokenizer"
)

var engine = cpu.New(2)

// stories260K converts the llama2.c model from ../shared into a Hugging
// Face folder bundle.
func stories260K(t *testing.T) *Bundle {
	t.Helper()
	src := shared.Path(t, "models", "stories260K")
	c, w, err := model.ReadLlama2C(filepath.Join(src, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.FromLlama2C(filepath.Join(src, "tok512.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return &Bundle{Model: model.New(c, w), Tokenizer: tok, EOS: []int{2}, Name: "stories260K"}
}

// golden loads a golden model folder (no tokenizer).
func golden(t *testing.T, name string) *Bundle {
	t.Helper()
	dir := shared.Path(t, "golden", name)
	b, closer, err := LoadFolder(dir, model.FP32)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer() })
	return b
}

// roundTrip writes b as GGUF of type typ, reads it back and runs the
// parity check at typ's tolerance.
func roundTrip(t *testing.T, b *Bundle, typ gguf.TensorType) (*ParityReport, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.gguf")
	if err := WriteGGUF(path, b, GGUFOptions{Type: typ, Name: b.Name}); err != nil {
		t.Fatalf("WriteGGUF(%s, %s) = %v", b.Name, typ, err)
	}
	got, closer, err := ReadGGUF(path, model.FP32)
	if err != nil {
		t.Fatalf("ReadGGUF(%s) = %v", path, err)
	}
	defer closer()
	return Parity(engine, b, got, ParityOptions{Tol: Tolerance(typ)})
}

func TestGGUFRoundTrip(t *testing.T) {
	models := map[string]func(*testing.T) *Bundle{
		"stories260K":        stories260K,
		"llama":              func(t *testing.T) *Bundle { return golden(t, "llama") },
		"llama-gqa3-tied":    func(t *testing.T) *Bundle { return golden(t, "llama-gqa3-tied") },
		"llama3-rope-scaled": func(t *testing.T) *Bundle { return golden(t, "llama3-rope-scaled") },
		"qwen2":              func(t *testing.T) *Bundle { return golden(t, "qwen2") },
	}
	for _, name := range []string{"stories260K", "llama", "llama-gqa3-tied", "llama3-rope-scaled", "qwen2"} {
		for _, typ := range []gguf.TensorType{gguf.F32, gguf.F16, gguf.BF16, gguf.Q8_0, gguf.Q4_0, gguf.Q4_K} {
			t.Run(name+"/"+typ.String(), func(t *testing.T) {
				b := models[name](t)
				r, err := roundTrip(t, b, typ)
				t.Logf("%s %s: %s", name, typ, r)
				if err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
