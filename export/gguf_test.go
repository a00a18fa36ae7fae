package export

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// TestParityCatchesCorruption damages exports in the ways a converter bug
// would and checks the parity gate fails on each.
func TestParityCatchesCorruption(t *testing.T) {
	b := stories260K(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.gguf")
	if err := WriteGGUF(good, b, GGUFOptions{Type: gguf.F32}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(good)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.Info("blk.2.attn_q.weight")
	off := f.DataOffset + info.Offset
	f.Close()
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		damage func() string
		want   string
	}{
		{"two rows of attn_q swapped", func() string {
			d := append([]byte(nil), data...)
			row := int64(64 * 4)
			a, c := d[off:off+row], d[off+row:off+2*row]
			tmp := append([]byte(nil), a...)
			copy(a, c)
			copy(c, tmp)
			return write(t, dir, "swapped.gguf", d)
		}, "logits differ"},
		{"one weight scaled", func() string {
			d := append([]byte(nil), data...)
			d[off+3] ^= 0x08 // exponent bit of the first float32
			return write(t, dir, "scaled.gguf", d)
		}, "logits differ"},
		{"Q/K not permuted", func() string {
			p := filepath.Join(dir, "unpermuted.gguf")
			u := *b
			c := *b.Model.Config
			c.ModelType = "qwen2" // same tensors, no permutation ...
			u.Model = model.New(&c, b.Model.W)
			if err := WriteGGUF(p, &u, GGUFOptions{Type: gguf.F32}); err != nil {
				t.Fatal(err)
			}
			return relabel(t, p, "qwen2", "llama") // ... read as llama
		}, "logits differ"},
		{"vocabulary scores reversed", func() string {
			return rewriteMeta(t, good, filepath.Join(dir, "scores.gguf"), func(m *gguf.Metadata) {
				s := make([]float32, 512)
				for i := range s {
					s[i] = float32(i) // reversed: later merges first
				}
				m.Set(gguf.KeyTokenScores, s)
			})
		}, "tokenizes as"},
		{"BOS flag dropped", func() string {
			return rewriteMeta(t, good, filepath.Join(dir, "bos.gguf"), func(m *gguf.Metadata) { m.Set(gguf.KeyAddBOS, false) })
		}, "tokenizes as"},
		{"chat template added", func() string {
			return rewriteMeta(t, good, filepath.Join(dir, "tmpl.gguf"), func(m *gguf.Metadata) {
				m.Set(gguf.KeyChatTemplate, "{% for m in messages %}{{ m['content'] }}{% endfor %}")
			})
		}, "chat template present in one model only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.damage()
			got, closer, err := ReadGGUF(path, model.FP32)
			if err != nil {
				t.Fatalf("ReadGGUF(%s) = %v", path, err)
			}
			defer closer()
			r, err := Parity(engine, b, got, ParityOptions{Tol: Tolerance(gguf.F32)})
			if !errors.Is(err, ErrParity) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parity(%s) = %v, want ErrParity mentioning %q (report: %v)", tt.name, err, tt.want, r)
			}
			t.Logf("%s: %s", tt.name, r)
		})
	}
	// and the undamaged file passes at the strictest tolerance
	got, closer, err := ReadGGUF(good, model.FP32)
	if err != nil {
		t.Fatal(err)
	}
	defer closer()
	if _, err := Parity(engine, b, got, ParityOptions{Tol: Tolerance(gguf.F32)}); err != nil {
		t.Fatalf("Parity(undamaged) = %v", err)
	}
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rewriteMeta copies a GGUF file with its metadata edited.
func rewriteMeta(t *testing.T, src, dst string, edit func(*gguf.Metadata)) string {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	meta := &gguf.Metadata{}
	for _, kv := range f.Meta.KVs() {
		meta.Set(kv.Key, kv.Value)
	}
	edit(meta)
	var specs []gguf.TensorSpec
	for _, ti := range f.Tensors {
		specs = append(specs, gguf.TensorSpec{Name: ti.Name, Shape: ti.Shape, Type: ti.Type})
	}
	w, err := gguf.Create(dst, meta, specs)
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range f.Tensors {
		raw, _ := f.Raw(ti.Name)
		if err := w.WriteTensor(ti.Name, raw); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// relabel rewrites a file's architecture (and its hyperparameter keys).
func relabel(t *testing.T, path, from, to string) string {
	t.Helper()
	dst := strings.TrimSuffix(path, ".gguf") + "-" + to + ".gguf"
	return rewriteMeta(t, path, dst, func(m *gguf.Metadata) {
		for _, kv := range append([]gguf.KV(nil), m.KVs()...) {
			if strings.HasPrefix(kv.Key, from+".") {
				m.Delete(kv.Key)
				m.Set(to+strings.TrimPrefix(kv.Key, from), kv.Value)
			}
		}
		m.Set(gguf.KeyArchitecture, to)
	})
}
