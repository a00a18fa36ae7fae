package export

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hone/gguf"
	"hone/model"
)

// readBytes returns the bytes of the file at path.
func readBytes(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// modelGGUF writes b with WriteGGUF and returns the file's bytes.
func modelGGUF(t testing.TB, b *Bundle, typ gguf.TensorType) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.gguf")
	if err := WriteGGUF(path, b, GGUFOptions{Type: typ, Name: b.Name}); err != nil {
		t.Fatal(err)
	}
	return readBytes(t, path)
}

// metaGGUF writes a tensor-less GGUF holding meta and returns its bytes.
func metaGGUF(t testing.TB, meta *gguf.Metadata) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meta.gguf")
	w, err := gguf.Create(path, meta, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return readBytes(t, path)
}

// spmMeta is a small SentencePiece-style vocabulary as llama.cpp stores it.
func spmMeta() gguf.TokenizerMeta {
	m := gguf.TokenizerMeta{Model: "llama", BOS: 1, EOS: 2, Unknown: 0, Pad: -1}
	add := func(s string, typ int32, score float32) {
		m.Tokens = append(m.Tokens, s)
		m.TokenTypes = append(m.TokenTypes, typ)
		m.Scores = append(m.Scores, score)
	}
	add("<unk>", gguf.TokenUnknown, 0)
	add("<s>", gguf.TokenControl, 0)
	add("</s>", gguf.TokenControl, 0)
	for b := range 256 {
		add(fmt.Sprintf("<0x%02X>", b), gguf.TokenByte, 0)
	}
	for i, s := range []string{"▁", "a", "c", "t", "▁c", "at", "▁cat", "▁a"} {
		score := float32(0)
		if len([]rune(s)) > 1 {
			score = -float32(i)
		}
		add(s, gguf.TokenNormal, score)
	}
	yes := true
	m.AddBOS = &yes
	return m
}

// FuzzReadGGUF feeds arbitrary bytes to the GGUF model reader (ReadGGUF on
// a parsed file). It must not panic; an error names the file; a model it
// accepts has every weight in the shape its config calls for, and writing
// it again as F32 GGUF and reading that gives the same config and weights.
func FuzzReadGGUF(f *testing.F) {
	tok := tinyTokenizer(f)
	f.Add(modelGGUF(f, &Bundle{Model: tinyModel(32), Name: "tiny"}, gguf.F32))
	qwen := tinyModel(tok.VocabSize())
	qwen.Config.ModelType, qwen.Config.QKVBias, qwen.Config.TieEmbeddings = "qwen2", true, true
	qwen = model.New(qwen.Config, model.Init(qwen.Config, 0.2, 2))
	f.Add(modelGGUF(f, &Bundle{Model: qwen, Tokenizer: tok, EOS: []int{1}, Name: "tiny-qwen"}, gguf.F16))
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := gguf.Parse("fuzz.gguf", data)
		if err != nil {
			return // FuzzParse's business
		}
		b, err := readGGUF(file, model.FP32)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.gguf") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		c, w := b.Model.Config, b.Model.W
		for _, p := range w.Params(c) {
			if *p.Ptr == nil || !slices.Equal((*p.Ptr).Shape, p.Shape) {
				t.Fatalf("%s: %v, config wants %v", p.Name, *p.Ptr, p.Shape)
			}
		}
		path := filepath.Join(t.TempDir(), "again.gguf")
		if err := WriteGGUF(path, &Bundle{Model: b.Model, Name: "again"}, GGUFOptions{Type: gguf.F32}); err != nil {
			return // not every readable model is exportable (e.g. RoPE types)
		}
		back, closer, err := ReadGGUF(path, model.FP32)
		if err != nil {
			t.Fatalf("reading hone's own GGUF of an accepted model: %v", err)
		}
		defer closer()
		c2 := back.Model.Config
		if c.ModelType != c2.ModelType || c.Hidden != c2.Hidden || c.Intermediate != c2.Intermediate || c.Layers != c2.Layers ||
			c.Heads != c2.Heads || c.KVHeads != c2.KVHeads || c.HeadDim != c2.HeadDim || c.Vocab != c2.Vocab || c.TieEmbeddings != c2.TieEmbeddings {
			t.Fatalf("config %+v read back as %+v", *c, *c2)
		}
		wb := back.Model.W.Params(c2)
		for i, p := range w.Params(c) {
			if string((*p.Ptr).Data) != string((*wb[i].Ptr).Data) {
				t.Fatalf("%s differs after a round trip", p.Name)
			}
		}
	})
}

// FuzzReadAdapterGGUF feeds arbitrary bytes to the GGUF LoRA adapter reader.
// It must not panic; an error names the file; an adapter it accepts has
// shapes that fit the model, a finite positive scale, and writing it
// again and reading that gives the same adapters.
func FuzzReadAdapterGGUF(f *testing.F) {
	_, valid := tinyAdapterGGUF(f, f.TempDir())
	f.Add(valid)
	f.Add(rawGGUF{strs: [][2]string{{"general.architecture", "llama"}, {"general.type", "adapter"}, {"adapter.type", "lora"}},
		floats:  map[string]float32{"adapter.lora.alpha": 4},
		tensors: []rawTensor{{"blk.0.attn_q.weight.lora_a", nil}, {"blk.0.attn_q.weight.lora_b", []uint64{2, 16}}}}.bytes())
	m := tinyModel(32)
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := gguf.Parse("fuzz.gguf", data)
		if err != nil {
			return
		}
		set, err := readAdapterGGUF(file, m)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.gguf") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if err := set.Config.Validate(); err != nil {
			t.Fatalf("the set's config is invalid: %v", err)
		}
		for _, a := range set.Adapters {
			out, in := m.W.LinearByName(a.Name).Dims()
			r := a.Rank()
			if !slices.Equal(a.A.Shape, []int{r, in}) || !slices.Equal(a.B.Shape, []int{out, r}) || r < 1 {
				t.Fatalf("%s: A %v and B %v for a [%d, %d] projection", a.Name, a.A.Shape, a.B.Shape, out, in)
			}
			if s := float64(a.Scale); !(s > 0) || math.IsInf(s, 0) {
				t.Fatalf("%s: scale %v", a.Name, a.Scale)
			}
		}
		path := filepath.Join(t.TempDir(), "again.gguf")
		if err := WriteAdapterGGUF(path, set, m.Config); err != nil {
			t.Fatalf("writing an accepted adapter: %v", err)
		}
		again, err := gguf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		back, err := readAdapterGGUF(again, m)
		if err != nil {
			t.Fatalf("reading hone's own adapter file: %v", err)
		}
		if len(back.Adapters) != len(set.Adapters) {
			t.Fatalf("%d adapters after a round trip, want %d", len(back.Adapters), len(set.Adapters))
		}
		for i, a := range set.Adapters {
			b := back.Adapters[i]
			if a.Name != b.Name || a.Scale != b.Scale || !close32(a.A.F32(), b.A.F32()) || !close32(a.B.F32(), b.B.F32()) {
				t.Fatalf("adapter %s differs after a round trip", a.Name)
			}
		}
	})
}

// close32 reports whether a and b agree to float32 rounding (the writer
// folds the ratio of the stored scale to alpha/r into lora_b, which is 1
// up to rounding for an adapter read from GGUF). NaNs must match NaNs.
func close32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		if math.IsNaN(x) || math.IsNaN(y) {
			if math.IsNaN(x) != math.IsNaN(y) {
				return false
			}
			continue
		}
		if x != y && math.Abs(x-y) > 1e-6*math.Max(math.Abs(x), math.Abs(y)) {
			return false
		}
	}
	return true
}

// FuzzTokenizerFromMeta feeds arbitrary bytes, as GGUF metadata, to the
// tokenizer reader (gguf.ReadTokenizer, then TokenizerFromMeta). It must
// not panic; a tokenizer it builds has ids inside the vocabulary, finds
// each normal token's first id by its text, and encodes and decodes text
// without leaving the vocabulary.
func FuzzTokenizerFromMeta(f *testing.F) {
	tok := tinyTokenizer(f)
	tm, err := TokenizerMeta(tok, tok.VocabSize())
	if err != nil {
		f.Fatal(err)
	}
	for _, meta := range []gguf.TokenizerMeta{tm, spmMeta()} {
		m := &gguf.Metadata{}
		if err := meta.Put(m); err != nil {
			f.Fatal(err)
		}
		if meta.Model == "llama" {
			m.Set(gguf.KeyAddSpacePrefix, true)
		}
		f.Add(metaGGUF(f, m))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := gguf.Parse("fuzz.gguf", data)
		if err != nil {
			return
		}
		meta, err := gguf.ReadTokenizer(&file.Meta)
		if err != nil {
			return
		}
		addSpace := true
		if file.Meta.Has(gguf.KeyAddSpacePrefix) {
			if addSpace, err = file.Meta.Bool(gguf.KeyAddSpacePrefix); err != nil {
				return
			}
		}
		rt, err := TokenizerFromMeta(meta, addSpace)
		if err != nil {
			return
		}
		n := len(meta.Tokens)
		if rt.VocabSize() > n {
			t.Fatalf("tokenizer of %d ids from %d tokens", rt.VocabSize(), n)
		}
		first := map[string]int{}
		for i, s := range meta.Tokens {
			if _, ok := first[s]; !ok && (meta.TokenTypes == nil || meta.TokenTypes[i] == gguf.TokenNormal) {
				first[s] = i
			}
		}
		for s, i := range first {
			if id, ok := rt.TokenID(s); ok && int(id) != i && (meta.TokenTypes == nil || meta.TokenTypes[id] == gguf.TokenNormal) {
				t.Fatalf("TokenID(%q) = %d, want %d", s, id, i)
			}
		}
		for _, text := range []string{"the cat sat", " a\tb\n", "héllo <s> wörld", strings.Join(meta.Tokens[:min(n, 8)], "")} {
			ids := rt.Encode(text, true)
			for _, id := range ids {
				if id < 0 || int(id) >= n {
					t.Fatalf("Encode(%q) = %v: id %d outside %d tokens", text, ids, id, n)
				}
			}
			rt.Decode(ids, false)
		}
	})
}

// TestTokenizerFromMetaChecksItsInput: a hand-made TokenizerMeta (not from
// gguf.ReadTokenizer) with ids or arrays that do not match the tokens is an
// error naming the key, not an index panic.
func TestTokenizerFromMetaChecksItsInput(t *testing.T) {
	for _, tc := range []struct {
		edit func(m *gguf.TokenizerMeta)
		want string
	}{
		{func(m *gguf.TokenizerMeta) { m.BOS = len(m.Tokens) }, gguf.KeyBOSID},
		{func(m *gguf.TokenizerMeta) { m.Unknown = 1 << 20 }, gguf.KeyUnknownID},
		{func(m *gguf.TokenizerMeta) { m.Scores = m.Scores[:3] }, gguf.KeyTokenScores},
		{func(m *gguf.TokenizerMeta) { m.TokenTypes = m.TokenTypes[:3] }, gguf.KeyTokenTypes},
	} {
		m := spmMeta()
		tc.edit(&m)
		if _, err := TokenizerFromMeta(m, true); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("TokenizerFromMeta = %v, want an error naming %s", err, tc.want)
		}
	}
	if _, err := TokenizerFromMeta(spmMeta(), true); err != nil {
		t.Errorf("TokenizerFromMeta(valid) = %v", err)
	}
}
