package gguf

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"hone/quant"
	"hone/tensor"
)

// everyValue returns metadata holding every value type, arrays of every
// element type (one empty), and nested arrays.
func everyValue() *Metadata {
	m := &Metadata{}
	for _, kv := range []KV{
		{"general.architecture", "llama"},
		{"test.u8", uint8(250)},
		{"test.i8", int8(-100)},
		{"test.u16", uint16(65000)},
		{"test.i16", int16(-32000)},
		{"test.u32", uint32(4000000000)},
		{"test.i32", int32(-2000000000)},
		{"test.f32", float32(1.5e-5)},
		{"test.bool_true", true},
		{"test.bool_false", false},
		{"test.string", "héllo, GGUF ✓"},
		{"test.empty_string", ""},
		{"test.u64", uint64(1) << 63},
		{"test.i64", int64(-1) << 62},
		{"test.f64", math.Pi},
		{"test.arr.u8", []uint8{0, 1, 255}},
		{"test.arr.i8", []int8{-128, 0, 127}},
		{"test.arr.u16", []uint16{1, 65535}},
		{"test.arr.i16", []int16{-1, 2}},
		{"test.arr.u32", []uint32{7}},
		{"test.arr.i32", []int32{-7, 1, 2, 3}},
		{"test.arr.f32", []float32{0.5, -2, float32(math.Inf(1))}},
		{"test.arr.bool", []bool{true, false, true}},
		{"test.arr.string", []string{"a", "", "ünïcode", "b c"}},
		{"test.arr.u64", []uint64{math.MaxUint64}},
		{"test.arr.i64", []int64{math.MinInt64, 0}},
		{"test.arr.f64", []float64{1e300, -0.25}},
		{"test.arr.empty", []float32{}},
		{"test.arr.nested", Arrays{[]uint32{1, 2}, []string{"x"}, Arrays{[]int8{-1}, Arrays{}}}},
	} {
		if err := m.Set(kv.Key, kv.Value); err != nil {
			panic(err)
		}
	}
	return m
}

type testTensor struct {
	spec TensorSpec
	x    []float32
}

func testTensors() []testTensor {
	r := rand.New(rand.NewPCG(9, 9))
	mk := func(name string, t TensorType, shape ...int) testTensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		return testTensor{TensorSpec{name, shape, t}, x}
	}
	return []testTensor{
		mk("token_embd.weight", F16, 10, 64),
		mk("blk.0.attn_norm.weight", F32, 7), // 28 bytes: padding follows
		mk("blk.0.attn_q.weight", Q8_0, 8, 64),
		mk("blk.0.attn_k.weight", Q4_0, 4, 32),
		mk("blk.0.ffn_up.weight", Q4_K, 2, 256),
		mk("blk.0.ffn_down.weight", BF16, 3, 5),
		mk("rank3", F32, 2, 3, 4),
		mk("rank4", F16, 1, 2, 3, 2),
		mk("empty", F32, 0, 4),
	}
}

func writeTestFile(t *testing.T, path string, m *Metadata, ts []testTensor) {
	t.Helper()
	specs := make([]TensorSpec, len(ts))
	for i, tt := range ts {
		specs[i] = tt.spec
	}
	w, err := Create(path, m, specs)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range ts {
		if err := w.WriteF32(tt.spec.Name, tt.x); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// expectDecoded converts x through a tensor type the way the writer stores
// it and the reader decodes it.
func expectDecoded(tt TensorType, x []float32) []float32 {
	out := make([]float32, len(x))
	switch tt {
	case F32:
		copy(out, x)
	case F16:
		for i, v := range x {
			out[i] = tensor.F16ToF32(tensor.F32ToF16(v))
		}
	case BF16:
		for i, v := range x {
			out[i] = tensor.BF16ToF32(tensor.F32ToBF16(v))
		}
	default:
		f, _ := tt.format()
		q, err := quant.Quantize(f, x)
		if err != nil {
			panic(err)
		}
		q.Dequantize(out)
	}
	return out
}

func TestRoundTripEveryTypeAndTensor(t *testing.T) {
	for _, align := range []uint32{0, 64, 8} {
		dir := t.TempDir()
		path := filepath.Join(dir, "m.gguf")
		m := everyValue()
		if align != 0 {
			m.Set(KeyAlignment, align)
		}
		ts := testTensors()
		writeTestFile(t, path, m, ts)

		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		wantAlign := int(max(align, DefaultAlignment))
		if align != 0 {
			wantAlign = int(align)
		}
		if f.Version != 3 || f.Alignment != wantAlign {
			t.Errorf("Open: version %d alignment %d, want 3 and %d", f.Version, f.Alignment, wantAlign)
		}
		// metadata comes back identical and in order, plus the
		// quantization version the writer adds for quantised tensors
		got := f.Meta.KVs()
		want := m.KVs()
		if len(got) != len(want)+1 || got[len(got)-1].Key != KeyQuantizationVersion || got[len(got)-1].Value != uint32(2) {
			t.Fatalf("metadata has %d pairs (last %v), want %d plus %s = 2", len(got), got[len(got)-1], len(want), KeyQuantizationVersion)
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("metadata pair %d = %#v, want %#v", i, got[i], want[i])
			}
		}
		if f.DataOffset%int64(wantAlign) != 0 {
			t.Errorf("data section at %d, not aligned to %d", f.DataOffset, wantAlign)
		}
		var end int64
		for i, tt := range ts {
			ti := f.Tensors[i]
			if ti.Name != tt.spec.Name || ti.Type != tt.spec.Type || !reflect.DeepEqual(ti.Shape, tt.spec.Shape) {
				t.Errorf("tensor %d = %s %s %v, want %s %s %v", i, ti.Name, ti.Type, ti.Shape, tt.spec.Name, tt.spec.Type, tt.spec.Shape)
			}
			if ti.Offset != end {
				t.Errorf("tensor %q at data offset %d, want %d (ggml packs tensors back to back, each padded)", ti.Name, ti.Offset, end)
			}
			end += alignUp(ti.Size, int64(wantAlign))
			x, err := f.TensorF32(ti.Name)
			if err != nil {
				t.Fatal(err)
			}
			wantX := expectDecoded(ti.Type, tt.x)
			if !reflect.DeepEqual(x.Shape, tt.spec.Shape) {
				t.Errorf("TensorF32(%q).Shape = %v, want %v", ti.Name, x.Shape, tt.spec.Shape)
			}
			for j, v := range x.F32() {
				if v != wantX[j] {
					t.Errorf("TensorF32(%q)[%d] = %g, want %g", ti.Name, j, v, wantX[j])
					break
				}
			}
		}
		st, _ := os.Stat(path)
		if st.Size() != f.DataOffset+end {
			t.Errorf("file is %d bytes, want %d (data offset %d + padded tensors %d)", st.Size(), f.DataOffset+end, f.DataOffset, end)
		}
		// no temporary files left behind
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("directory holds %d entries after Close, want 1", len(entries))
		}
	}
}

// TestExactLayout checks the writer's bytes against a file assembled by hand
// from the spec.
func TestExactLayout(t *testing.T) {
	var want bytes.Buffer
	le := binary.LittleEndian
	put := func(v any) { binary.Write(&want, le, v) }
	str := func(s string) { put(uint64(len(s))); want.WriteString(s) }
	want.WriteString("GGUF")
	put(uint32(3))
	put(uint64(1)) // tensors
	put(uint64(2)) // kv
	str("general.architecture")
	put(uint32(TypeString))
	str("llama")
	str("a.b")
	put(uint32(TypeArray))
	put(uint32(TypeUint16))
	put(uint64(2))
	put(uint16(1))
	put(uint16(2))
	str("w")
	put(uint32(2))
	put(uint64(3)) // ne[0] = columns
	put(uint64(2)) // ne[1] = rows
	put(uint32(F32))
	put(uint64(0))
	for want.Len()%32 != 0 {
		want.WriteByte(0)
	}
	vals := []float32{1, 2, 3, 4, 5, 6}
	for _, v := range vals {
		put(v)
	}
	for want.Len()%32 != 0 {
		want.WriteByte(0)
	}

	m := &Metadata{}
	m.Set("general.architecture", "llama")
	m.Set("a.b", []uint16{1, 2})
	path := filepath.Join(t.TempDir(), "x.gguf")
	w, err := Create(path, m, []TensorSpec{{"w", []int{2, 3}, F32}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensorFrom("w", tensor.FromF32(vals, 2, 3)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("written file =\n% x\nwant\n% x", got, want.Bytes())
	}
}

func TestWriterIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.gguf")
	os.WriteFile(path, []byte("old"), 0o644)
	specs := []TensorSpec{{"a", []int{4}, F32}, {"b", []int{4}, F32}}
	w, err := Create(path, nil, specs)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteF32("b", make([]float32, 4)); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("writing out of order: err = %v, want one naming the due tensor", err)
	}
	if err := w.Close(); err == nil {
		t.Errorf("Close after a failed write = nil, want an error")
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("destination = %q after a failed write, want it untouched", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries in the directory, want only the old file", len(entries))
	}

	w, _ = Create(path, nil, specs)
	w.WriteF32("a", make([]float32, 4))
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("Close with a tensor missing: err = %v, want one naming it", err)
	}
	w, _ = Create(path, nil, specs)
	w.Abort()
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("destination = %q after Abort, want it untouched", b)
	}
	if err := func() error { w, _ := Create(path, nil, specs[:1]); return w.WriteF32("a", make([]float32, 5)) }(); err == nil {
		t.Errorf("WriteF32 with the wrong length = nil error")
	}
}

// TestCreateRelativePath: a bare file name puts the temporary in the
// working folder, beside the destination, not in $TMPDIR (which may be on
// another filesystem, where the final rename fails).
func TestCreateRelativePath(t *testing.T) {
	work, tmp := t.TempDir(), t.TempDir()
	t.Chdir(work)
	t.Setenv("TMPDIR", tmp)
	w, err := Create("out.gguf", nil, []TensorSpec{{"a", []int{4}, F32}})
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("Create(out.gguf) put %s in $TMPDIR, want the temporary beside the destination", ents[0].Name())
	}
	if ents, _ := os.ReadDir(work); len(ents) != 1 || !strings.HasPrefix(ents[0].Name(), ".out.gguf.tmp-") {
		t.Errorf("Create(out.gguf): working folder holds %v, want one temporary .out.gguf.tmp-*", ents)
	}
	if err := w.WriteF32("a", make([]float32, 4)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(filepath.Join(work, "out.gguf"))
	if err != nil {
		t.Fatalf("Open(out.gguf) after Close: %v", err)
	}
	f.Close()
}

func TestCreateRejects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.gguf")
	bad := &Metadata{}
	bad.Set(KeyAlignment, uint64(32))
	badAlign := &Metadata{}
	badAlign.Set(KeyAlignment, uint32(24))
	for _, tc := range []struct {
		name  string
		meta  *Metadata
		specs []TensorSpec
		want  string
	}{
		{"alignment type", bad, nil, KeyAlignment},
		{"alignment power of two", badAlign, nil, KeyAlignment},
		{"duplicate", nil, []TensorSpec{{"a", []int{1}, F32}, {"a", []int{1}, F32}}, `duplicate tensor name "a"`},
		{"long name", nil, []TensorSpec{{strings.Repeat("n", 64), []int{1}, F32}}, "want 1 to 63 bytes"},
		{"block", nil, []TensorSpec{{"q", []int{2, 40}, Q8_0}}, `tensor "q" of type Q8_0`},
		{"rank", nil, []TensorSpec{{"r", []int{1, 1, 1, 1, 1}, F32}}, `tensor "r"`},
		{"no dims", nil, []TensorSpec{{"s", nil, F32}}, `tensor "s"`},
	} {
		_, err := Create(path, tc.meta, tc.specs)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Create(%s) err = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if err := (&Metadata{}).Set("k", []any{1}); err == nil {
		t.Errorf("Set([]any) = nil error, want one")
	}
	if err := (&Metadata{}).Set("", 1.0); err == nil {
		t.Errorf("Set(empty key) = nil error, want one")
	}
}

// validFile returns the bytes of a small valid file.
func validFile(t testing.TB) []byte {
	m := &Metadata{}
	m.Set("general.architecture", "llama")
	m.Set("tokenizer.ggml.tokens", []string{"a", "b"})
	m.Set("x.nested", Arrays{[]uint8{1}})
	path := filepath.Join(t.TempDir(), "v.gguf")
	w, err := Create(path, m, []TensorSpec{{"t", []int{2, 32}, Q8_0}, {"u", []int{3}, F16}})
	if err != nil {
		t.Fatal(err)
	}
	w.WriteF32("t", make([]float32, 64))
	w.WriteF32("u", []float32{1, 2, 3})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	return b
}

// build assembles a file from raw parts for the reader's error tests.
type build struct{ bytes.Buffer }

func (b *build) u32(v uint32) *build { binary.Write(b, binary.LittleEndian, v); return b }
func (b *build) u64(v uint64) *build { binary.Write(b, binary.LittleEndian, v); return b }
func (b *build) str(s string) *build { b.u64(uint64(len(s))); b.WriteString(s); return b }
func (b *build) head(nt, nkv uint64) *build {
	b.WriteString("GGUF")
	return b.u32(3).u64(nt).u64(nkv)
}

func TestParseRejects(t *testing.T) {
	valid := validFile(t)
	tinfo := func(name string, dims []uint64, typ TensorType, off uint64) *build {
		b := (&build{}).head(1, 0)
		b.str(name).u32(uint32(len(dims)))
		for _, d := range dims {
			b.u64(d)
		}
		b.u32(uint32(typ)).u64(off)
		for b.Len()%32 != 0 {
			b.WriteByte(0)
		}
		return b
	}
	withData := func(b *build, n int) []byte { b.Write(make([]byte, n)); return b.Bytes() }
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "magic"},
		{"magic", []byte("GGML\x03\x00\x00\x00"), "not a GGUF file"},
		{"v1", (&build{}).head(0, 0).Bytes()[:4], "version"},
		{"version 1", append([]byte("GGUF"), 1, 0, 0, 0), "version 1"},
		{"big endian", append([]byte("GGUF"), 0, 0, 0, 3), "big-endian"},
		{"truncated", valid[:len(valid)-40], "run past the end"},
		{"truncated header", valid[:60], "bytes left"},
		{"huge kv count", (&build{}).head(0, 1<<40).Bytes(), "metadata count"},
		{"huge tensor count", (&build{}).head(1<<50, 0).Bytes(), "tensor count"},
		{"huge array", (&build{}).head(0, 1).str("k.arr").u32(uint32(TypeArray)).u32(uint32(TypeUint64)).u64(1 << 60).Bytes(), `array "k.arr"`},
		{"huge string", (&build{}).head(0, 1).str("k.s").u32(uint32(TypeString)).u64(1 << 62).Bytes(), `key "k.s"`},
		{"bad type", (&build{}).head(0, 1).str("k.t").u32(99).Bytes(), `key "k.t": unknown value type 99`},
		{"bad elem type", (&build{}).head(0, 1).str("k.e").u32(uint32(TypeArray)).u32(13).u64(0).Bytes(), `key "k.e": unknown array element type`},
		{"bad bool", (&build{}).head(0, 1).str("k.b").u32(uint32(TypeBool)).Bytes(), `key "k.b"`},
		{"bad bool value", append((&build{}).head(0, 1).str("k.b").u32(uint32(TypeBool)).Bytes(), 2), `key "k.b": bool byte is 2`},
		{"empty key", append((&build{}).head(0, 1).str("").u32(uint32(TypeUint8)).Bytes(), 1), "empty key"},
		{"duplicate key", append((&build{}).head(0, 2).str("k").u32(uint32(TypeUint8)).Bytes(), append([]byte{1}, (&build{}).str("k").u32(uint32(TypeUint8)).Bytes()...)...), `duplicate metadata key "k"`},
		{"alignment type", append((&build{}).head(0, 1).str(KeyAlignment).u32(uint32(TypeUint8)).Bytes(), 32), KeyAlignment},
		{"alignment value", (&build{}).head(0, 1).str(KeyAlignment).u32(uint32(TypeUint32)).u32(48).Bytes(), "power of two"},
		{"unknown tensor type", withData(tinfo("w", []uint64{4}, 99, 0), 64), `tensor "w" has unknown`},
		{"rows not blocks", withData(tinfo("q", []uint64{31, 2}, Q8_0, 0), 256), `tensor "q" of type Q8_0`},
		{"too many dims", withData(tinfo("d", []uint64{1, 1, 1, 1, 1}, F32, 0), 64), `tensor "d" has 5 dimensions`},
		{"overflow", withData(tinfo("o", []uint64{1 << 40, 1 << 40}, F32, 0), 64), `tensor "o": dimensions`},
		{"zero hides a huge dim", withData(tinfo("z", []uint64{0, 1 << 63}, F32, 0), 64), `tensor "z": dimensions`},
		{"zero hides a huge product", withData(tinfo("zp", []uint64{1 << 40, 0, 1 << 40}, F32, 0), 64), `tensor "zp": dimensions`},
		{"misaligned", withData(tinfo("m", []uint64{4}, F32, 4), 64), `tensor "m": data offset 4`},
		{"past end", withData(tinfo("p", []uint64{64}, F32, 0), 100), `tensor "p": 256 bytes`},
		{"long name", withData(tinfo(strings.Repeat("x", 64), []uint64{1}, F32, 0), 64), "want 1 to 63 bytes"},
	} {
		_, err := Parse("bad.gguf", tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.gguf") {
			t.Errorf("Parse(%s) err = %v, want one naming the file and containing %q", tc.name, err, tc.want)
		}
	}
	// nesting deeper than the cap
	b := (&build{}).head(0, 1).str("k.deep").u32(uint32(TypeArray))
	for range maxNesting + 2 {
		b.u32(uint32(TypeArray)).u64(1)
	}
	if _, err := Parse("deep.gguf", b.Bytes()); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("Parse(deep nesting) err = %v, want a nesting error", err)
	}
	// duplicate tensor names
	d := (&build{}).head(2, 0)
	for range 2 {
		d.str("t").u32(1).u64(4).u32(uint32(F32)).u64(0)
	}
	for d.Len()%32 != 0 {
		d.WriteByte(0)
	}
	d.Write(make([]byte, 32))
	if _, err := Parse("dup.gguf", d.Bytes()); err == nil || !strings.Contains(err.Error(), `duplicate tensor name "t"`) {
		t.Errorf("Parse(duplicate tensors) err = %v", err)
	}
}

func TestFileAccessors(t *testing.T) {
	f, err := Parse("v.gguf", validFile(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Tensor("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Tensor(nope) err = %v", err)
	}
	u, err := f.Tensor("u")
	if err != nil || u.DType != tensor.F16 || tensor.F16ToF32(u.F16()[2]) != 3 {
		t.Errorf("Tensor(u) = %v, %v; want F16 [1 2 3]", u, err)
	}
	if s, err := f.Meta.Strings(KeyTokens); err != nil || len(s) != 2 {
		t.Errorf("Strings(tokens) = %v, %v", s, err)
	}
	if _, err := f.Meta.Uint("general.architecture"); err == nil || !strings.Contains(err.Error(), "general.architecture") {
		t.Errorf("Uint(architecture) err = %v, want one naming the key", err)
	}
	if _, err := f.Meta.String("missing.key"); err == nil || !strings.Contains(err.Error(), "missing.key") {
		t.Errorf("String(missing) err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	valid := validFile(f)
	f.Add(valid)
	f.Add(valid[:100])
	f.Add((&build{}).head(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeArray)).u64(2).Bytes())
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	zero := (&build{}).head(1, 0).str("z").u32(2).u64(0).u64(1 << 62).u32(uint32(F32)).u64(0)
	for zero.Len()%32 != 0 {
		zero.WriteByte(0)
	}
	f.Add(zero.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse("fuzz.gguf", b)
		if err != nil {
			return
		}
		for _, ti := range file.Tensors {
			span := int64(1)
			for _, d := range ti.Shape {
				if d < 0 || span > math.MaxInt64/16/int64(max(d, 1)) {
					t.Fatalf("tensor %q: shape %v accepted", ti.Name, ti.Shape)
				}
				span *= int64(max(d, 1))
			}
			if ti.Size > int64(len(b)) {
				t.Fatalf("tensor %q of %d bytes accepted from a %d-byte file", ti.Name, ti.Size, len(b))
			}
			if ti.Type.Decodable() {
				if _, err := file.TensorF32(ti.Name); err != nil {
					t.Fatalf("TensorF32(%q) on a validated file: %v", ti.Name, err)
				}
			}
		}
		ReadHParams(&file.Meta)
		ReadTokenizer(&file.Meta)
	})
}
