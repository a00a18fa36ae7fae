package export

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hone/gguf"
	"hone/lora"
	"hone/model"
	"hone/tokenizer"
)

// tinyConfig is a one-layer llama (Q/K rows permuted in GGUF) small enough
// to write, read and fuzz in microseconds.
func tinyConfig(vocab int) *model.Config {
	return &model.Config{
		ModelType: "llama", Hidden: 16, Intermediate: 24, Layers: 1, Heads: 4, KVHeads: 2, HeadDim: 4,
		Vocab: vocab, MaxPositions: 64, RMSEps: 1e-5, BOS: 1, EOS: []int{2}, Pad: -1, DType: "float32",
		Rope: model.Rope{Theta: 10000, Type: "default", Factor: 1},
	}
}

// tinyModel is a model of tinyConfig with random weights.
func tinyModel(vocab int) *model.Model {
	c := tinyConfig(vocab)
	return model.New(c, model.Init(c, 0.2, 1))
}

// tinyTokenizer trains a small byte-level BPE with hone's own trainer.
func tinyTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	texts := []string{"the cat sat on the mat", "the dog sat on the log", "a cat and a dog"}
	tok, err := tokenizer.Train(slices.Values(texts), tokenizer.TrainOptions{VocabSize: len(tokenizer.DefaultSpecialTokens) + 256 + 12})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tinyAdapter makes a LoRA set on m whose B is not zero.
func tinyAdapter(t testing.TB, m *model.Model) *lora.Set {
	t.Helper()
	set, err := lora.New(m, lora.Config{R: 2, Alpha: 4, Targets: []string{"q_proj", "k_proj", "down_proj"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range set.Adapters {
		for i := range a.B.F32() {
			a.B.F32()[i] = float32(i%7-3) * 0.01
		}
	}
	return set
}

// tinyAdapterGGUF writes tinyAdapter as a GGUF adapter file and returns its
// path and bytes.
func tinyAdapterGGUF(t testing.TB, dir string) (string, []byte) {
	t.Helper()
	m := tinyModel(32)
	path := filepath.Join(dir, "adapter.gguf")
	if err := WriteAdapterGGUF(path, tinyAdapter(t, m), m.Config); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// rawGGUF builds GGUF v3 bytes by hand: string and float32 metadata, and
// F32 tensors with any number of dimensions (gguf.Create refuses a
// 0-dimensional tensor, which a hostile file can still hold).
type rawGGUF struct {
	strs    [][2]string
	floats  map[string]float32
	tensors []rawTensor
}

type rawTensor struct {
	name string
	ne   []uint64 // ggml order: innermost first
}

func (g rawGGUF) bytes() []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	u32 := func(v uint32) { binary.Write(&b, le, v) }
	u64 := func(v uint64) { binary.Write(&b, le, v) }
	str := func(s string) { u64(uint64(len(s))); b.WriteString(s) }
	b.WriteString("GGUF")
	u32(3)
	u64(uint64(len(g.tensors)))
	u64(uint64(len(g.strs) + len(g.floats)))
	for _, kv := range g.strs {
		str(kv[0])
		u32(8) // string
		str(kv[1])
	}
	for k, v := range g.floats {
		str(k)
		u32(6) // float32
		binary.Write(&b, le, v)
	}
	off := uint64(0)
	var sizes []uint64
	for _, t := range g.tensors {
		str(t.name)
		u32(uint32(len(t.ne)))
		n := uint64(1)
		for _, d := range t.ne {
			u64(d)
			n *= d
		}
		u32(0) // F32
		u64(off)
		size := (n*4 + 31) &^ 31
		sizes = append(sizes, size)
		off += size
	}
	for b.Len()%32 != 0 {
		b.WriteByte(0)
	}
	for _, s := range sizes {
		b.Write(make([]byte, s))
	}
	return b.Bytes()
}

// TestReadAdapterGGUFBadShapes: lora_a and lora_b tensors of the wrong rank
// (0-dimensional included) or of rank zero are reported by name, not a
// panic.
func TestReadAdapterGGUFBadShapes(t *testing.T) {
	m := tinyModel(32)
	head := [][2]string{{"general.architecture", "llama"}, {"general.type", "adapter"}, {"adapter.type", "lora"}}
	for _, tc := range []struct {
		name string
		a, b []uint64
	}{
		{"0-dim lora_a", nil, []uint64{2, 16}},
		{"0-dim lora_b", []uint64{16, 2}, nil},
		{"1-dim lora_a", []uint64{16}, []uint64{2, 16}},
		{"rank 0", []uint64{16, 0}, []uint64{0, 16}},
		{"3-dim lora_a", []uint64{16, 2, 1}, []uint64{2, 16}},
	} {
		g := rawGGUF{strs: head, floats: map[string]float32{"adapter.lora.alpha": 4},
			tensors: []rawTensor{{"blk.0.attn_q.weight.lora_a", tc.a}, {"blk.0.attn_q.weight.lora_b", tc.b}}}
		path := filepath.Join(t.TempDir(), "bad.gguf")
		if err := os.WriteFile(path, g.bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadAdapterGGUF(path, m)
		if err == nil || !strings.Contains(err.Error(), "blk.0.attn_q.weight.lora_a [") || !strings.Contains(err.Error(), "do not fit") || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: ReadAdapterGGUF = %v, want an error naming the file and the shapes of blk.0.attn_q.weight.lora_a and lora_b", tc.name, err)
		}
	}
}

// TestReadAdapterGGUFAlpha: adapter.lora.alpha must be a positive number;
// NaN, infinities, zero and negatives are errors naming the key.
func TestReadAdapterGGUFAlpha(t *testing.T) {
	dir := t.TempDir()
	src, _ := tinyAdapterGGUF(t, dir)
	if _, err := ReadAdapterGGUF(src, tinyModel(32)); err != nil {
		t.Fatalf("ReadAdapterGGUF(valid) = %v", err)
	}
	for i, alpha := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, -4} {
		dst := rewriteMeta(t, src, filepath.Join(dir, "alpha"+string(rune('a'+i))+".gguf"), func(m *gguf.Metadata) {
			m.Set(keyAdapterAlpha, alpha)
		})
		_, err := ReadAdapterGGUF(dst, tinyModel(32))
		if err == nil || !strings.Contains(err.Error(), keyAdapterAlpha) {
			t.Errorf("ReadAdapterGGUF(alpha %v) = %v, want an error naming %s", alpha, err, keyAdapterAlpha)
		}
	}
	// and a set whose alpha is not a number is not written
	m := tinyModel(32)
	set := tinyAdapter(t, m)
	set.Config.Alpha = math.NaN()
	if err := WriteAdapterGGUF(filepath.Join(dir, "nan.gguf"), set, m.Config); err == nil || !strings.Contains(err.Error(), "alpha") {
		t.Errorf("WriteAdapterGGUF(alpha NaN) = %v, want an error naming the alpha", err)
	}
}

// TestReadGGUFHugeMetadata: hyperparameters that would make the weights
// overflow or need terabytes are an error naming the config key and the
// GGUF key it came from, not a panic or an allocation.
func TestReadGGUFHugeMetadata(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "tiny.gguf")
	if err := WriteGGUF(src, &Bundle{Model: tinyModel(32), Name: "tiny"}, GGUFOptions{Type: gguf.F32}); err != nil {
		t.Fatal(err)
	}
	b, closer, err := ReadGGUF(src, model.FP32)
	if err != nil {
		t.Fatalf("ReadGGUF(valid) = %v", err)
	}
	closer()
	if b.Model.Config.Hidden != 16 {
		t.Fatalf("hidden_size read back as %d", b.Model.Config.Hidden)
	}
	for i, tc := range []struct {
		set  map[string]uint32
		want string
	}{
		{map[string]uint32{"llama.embedding_length": 1 << 31}, "llama.embedding_length"},
		{map[string]uint32{"llama.feed_forward_length": math.MaxUint32, "llama.embedding_length": 1 << 20, "llama.attention.key_length": 4}, "intermediate_size"},
		{map[string]uint32{"llama.attention.key_length": 1 << 30, "llama.attention.head_count": 1 << 12, "llama.attention.head_count_kv": 1 << 12}, "head_dim"},
	} {
		dst := rewriteMeta(t, src, filepath.Join(dir, "huge"+string(rune('a'+i))+".gguf"), func(m *gguf.Metadata) {
			for k, v := range tc.set {
				m.Set(k, v)
			}
		})
		_, _, err := ReadGGUF(dst, model.FP32)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dst) {
			t.Errorf("ReadGGUF(%v) = %v, want an error naming the file and %s", tc.set, err, tc.want)
		}
	}
}
