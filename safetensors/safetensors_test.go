package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"hone/tensor"
)

// randTensor returns a tensor of the given dtype and shape with random bytes.
func randTensor(r *rand.Rand, dt tensor.DType, shape ...int) *tensor.Tensor {
	t := tensor.New(dt, shape...)
	for i := range t.Data {
		t.Data[i] = byte(r.Uint32())
	}
	return t
}

// rawFile assembles a safetensors file from a header string and data length,
// without any of Write's checks, so tests can build malformed files.
func rawFile(hdr string, dataLen int) []byte {
	b := make([]byte, 8, 8+len(hdr)+dataLen)
	binary.LittleEndian.PutUint64(b, uint64(len(hdr)))
	b = append(b, hdr...)
	for i := range dataLen {
		b = append(b, byte(i))
	}
	return b
}

func TestRoundTripEveryDType(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var in []Named
	for _, dt := range []tensor.DType{tensor.F32, tensor.BF16, tensor.F16, tensor.F64, tensor.I64, tensor.I32, tensor.U8, tensor.I8} {
		in = append(in,
			Named{"m." + dt.String(), randTensor(r, dt, 3, 5)},
			Named{"v." + dt.String(), randTensor(r, dt, 7)}, // odd sizes test the alignment-keeping layout
			Named{"s." + dt.String(), randTensor(r, dt)},    // scalar
			Named{"z." + dt.String(), randTensor(r, dt, 0, 4)},
		)
	}
	meta := map[string]string{"format": "pt", "note": `quotes " and <html> & ünïcode`}
	path := filepath.Join(t.TempDir(), "all.safetensors")
	if err := Write(path, in, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := f.Names()
	if !slices.IsSorted(names) || len(names) != len(in) {
		t.Errorf("Names() = %v, want %d sorted names", names, len(in))
	}
	if got := f.Metadata(); !equalMaps(got, meta) {
		t.Errorf("Metadata() = %v, want %v", got, meta)
	}
	lo := uintptr(unsafe.Pointer(&f.data[0]))
	hi := lo + uintptr(len(f.data))
	for _, nt := range in {
		got, err := f.Tensor(nt.Name)
		if err != nil {
			t.Fatalf("Tensor(%q): %v", nt.Name, err)
		}
		if got.DType != nt.Tensor.DType || !got.SameShape(nt.Tensor) || !bytes.Equal(got.Data, nt.Tensor.Data) {
			t.Errorf("Tensor(%q) = %v, want %v with the same bytes", nt.Name, got, nt.Tensor)
		}
		if len(got.Data) == 0 {
			continue
		}
		p := uintptr(unsafe.Pointer(&got.Data[0]))
		if p < lo || p >= hi {
			t.Errorf("Tensor(%q) was copied; want a view of the mapped file", nt.Name)
		}
		if p%uintptr(got.DType.Size()) != 0 {
			t.Errorf("Tensor(%q) data at %#x is not aligned to %d", nt.Name, p, got.DType.Size())
		}
		if cap(got.Data) != len(got.Data) {
			t.Errorf("Tensor(%q): cap %d, want %d so append cannot reach the next tensor", nt.Name, cap(got.Data), len(got.Data))
		}
		info, err := f.Info(nt.Name)
		if err != nil || info.DType != nt.Tensor.DType.String() || !slices.Equal(info.Shape, nt.Tensor.Shape) || info.Bytes() != int64(len(nt.Tensor.Data)) {
			t.Errorf("Info(%q) = %+v, %v; want %v", nt.Name, info, err, nt.Tensor)
		}
	}
	if _, err := f.Tensor("absent"); err == nil || !strings.Contains(err.Error(), `no tensor "absent"`) {
		t.Errorf(`Tensor("absent") error = %v, want "no tensor"`, err)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestWriteBytes pins the exact bytes Write produces against what the Python
// library writes for the same tensors: metadata first, layout by dtype rank
// then name, header padded with spaces to a multiple of 8.
func TestWriteBytes(t *testing.T) {
	a := tensor.FromF32([]float32{1, 2}, 2)
	b := tensor.New(tensor.I64, 1)
	c := tensor.New(tensor.BF16, 3)
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := Write(path, []Named{{"c", c}, {"a", a}, {"b", b}}, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hdr := `{"__metadata__":{"format":"pt"},"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"c":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}}`
	for (8+len(hdr))%8 != 0 {
		hdr += " "
	}
	want := rawFile(hdr, 0)
	want = append(want, b.Data...)
	want = append(want, a.Data...)
	want = append(want, c.Data...)
	if !bytes.Equal(got, want) {
		t.Errorf("Write wrote\n%q\nwant\n%q", got, want)
	}
}

func TestMalformed(t *testing.T) {
	f32x4 := `"dtype":"F32","shape":[2,2]`
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "x.st: file is 0 bytes, too short for the 8-byte header length"},
		{"short", []byte{1, 0, 0}, "file is 3 bytes, too short"},
		{"header past end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "header length 100 runs past the end of the 10-byte file"},
		{"huge header", binary.LittleEndian.AppendUint64(nil, 1<<40), "header length 1099511627776 exceeds the 104857600-byte limit"},
		{"just over the limit", binary.LittleEndian.AppendUint64(nil, MaxHeaderBytes+1), "exceeds the 104857600-byte limit"},
		{"truncated JSON", rawFile(`{"a":{`, 0), "header is not valid JSON"},
		{"bad JSON", rawFile(`{"a" 1}`, 0), "header is not valid JSON"},
		{"not an object", rawFile(`[1,2]`, 0), "header is not a JSON object"},
		{"invalid UTF-8", rawFile("{\"\xff\":{}}", 0), "header is not valid UTF-8"},
		{"empty header", rawFile(``, 0), "header is not a JSON object"},
		{"data after object", rawFile(`{} {}`, 0), "header has data after the JSON object"},
		{"entry not object", rawFile(`{"a":3}`, 0), `tensor "a": entry is 3, not an object`},
		{"missing dtype", rawFile(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, 4), `tensor "a": missing "dtype"`},
		{"missing offsets", rawFile(`{"a":{"dtype":"F32","shape":[1]}}`, 4), `tensor "a": missing "data_offsets"`},
		{"dtype not string", rawFile(`{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, 4), `tensor "a": dtype is 4, not a string`},
		{"unknown dtype", rawFile(`{"a":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}}`, 4), `tensor "a": unknown dtype "F17"`},
		{"negative dim", rawFile(`{"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,4]}}`, 4), `tensor "a": shape [2,-1] has a negative dimension`},
		{"overflowing shape", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, 4), `shape [4294967296,4294967296] is too large`},
		{"dim beyond int64", rawFile(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, 4), `shape[0] is 99999999999999999999, not a 64-bit integer`},
		{"fractional dim", rawFile(`{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}`, 4), `shape[0] is 1.0, not a 64-bit integer`},
		{"quoted offset", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":["0",4]}}`, 4), `data_offsets[0] is "0", not a 64-bit integer`},
		{"shape not array", rawFile(`{"a":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`, 4), `shape is null, not an array of integers`},
		{"three offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 8), `data_offsets [0,4,8] must hold two numbers`},
		{"negative offset", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, 4), `data_offsets [-4,0] are negative`},
		{"backwards offsets", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, 4), `data_offsets [4,0] run backwards`},
		{"past data", rawFile(`{"a":{`+f32x4+`,"data_offsets":[0,16]}}`, 12), `tensor "a": data_offsets [0,16] run past the 12-byte data section`},
		{"wrong size", rawFile(`{"a":{`+f32x4+`,"data_offsets":[0,12]}}`, 12), `x.st: tensor "a": data_offsets [0,12] hold 12 bytes, shape [2,2] F32 needs 16`},
		{"sub-byte dtype", rawFile(`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}`, 1), `shape [3] of 4-bit F4 does not fill whole bytes`},
		{"overlap", rawFile(`{"a":{`+f32x4+`,"data_offsets":[0,16]},"b":{`+f32x4+`,"data_offsets":[8,24]}}`, 24), `tensor "b": data_offsets [8,24] overlap tensor "a" [0,16]`},
		{"same offsets", rawFile(`{"a":{`+f32x4+`,"data_offsets":[0,16]},"b":{`+f32x4+`,"data_offsets":[0,16]}}`, 16), `tensor "b": data_offsets [0,16] overlap tensor "a" [0,16]`},
		{"gap", rawFile(`{"a":{`+f32x4+`,"data_offsets":[0,16]},"b":{`+f32x4+`,"data_offsets":[20,36]}}`, 36), `data section bytes [16,20) belong to no tensor (before tensor "b")`},
		{"trailing bytes", rawFile(`{"a":{`+f32x4+`,"data_offsets":[0,16]}}`, 20), `data section is 20 bytes but the tensors end at 16`},
		{"duplicate tensor", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), `tensor "a" appears twice in the header`},
		{"metadata not object", rawFile(`{"__metadata__":[1]}`, 0), `__metadata__: not a JSON object of strings`},
		{"metadata value not string", rawFile(`{"__metadata__":{"k":1}}`, 0), `__metadata__: value of "k" is 1, not a string`},
		{"metadata twice", rawFile(`{"__metadata__":{},"__metadata__":{}}`, 0), `__metadata__ appears twice`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := OpenBytes("x.st", c.file)
			if err == nil {
				t.Fatalf("OpenBytes(%s) = %v, nil; want error %q", c.name, f.Names(), c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("OpenBytes(%s) error = %q, want it to contain %q", c.name, err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "x.st: ") {
				t.Errorf("OpenBytes(%s) error = %q, want it to name the file", c.name, err)
			}
		})
	}
}

func TestValidEdgeCases(t *testing.T) {
	cases := []struct {
		name  string
		file  []byte
		names []string
	}{
		{"no tensors", rawFile(`{}`, 0), nil},
		{"only metadata", rawFile(`{"__metadata__":{"a":"b"}}`, 0), nil},
		{"null metadata", rawFile(`{"__metadata__":null}`, 0), nil},
		{"padded header", rawFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}      `, 2), []string{"a"}},
		{"zero-size tensors around others", rawFile(`{"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"z":{"dtype":"F64","shape":[3,0],"data_offsets":[2,2]}}`, 2), []string{"a", "e", "z"}},
		{"unknown entry fields ignored", rawFile(`{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1],"extra":true}}`, 1), []string{"a"}},
		{"unsupported dtypes open", rawFile(`{"b":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]},"h":{"dtype":"I16","shape":[1],"data_offsets":[2,4]},"f8":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[4,8]},"f4":{"dtype":"F4","shape":[4],"data_offsets":[8,10]}}`, 10), []string{"b", "f4", "f8", "h"}},
	}
	for _, c := range cases {
		f, err := OpenBytes("x.st", c.file)
		if err != nil {
			t.Errorf("OpenBytes(%s) error = %v, want nil", c.name, err)
			continue
		}
		if got := f.Names(); !slices.Equal(got, c.names) {
			t.Errorf("OpenBytes(%s).Names() = %q, want %q", c.name, got, c.names)
		}
	}
}

func TestUnsupportedDTypeOnAccess(t *testing.T) {
	f, err := OpenBytes("x.st", rawFile(`{"b":{"dtype":"BOOL","shape":[2],"data_offsets":[4,6]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 6))
	if err != nil {
		t.Fatal(err)
	}
	info, err := f.Info("b")
	if err != nil || info.DType != "BOOL" || !slices.Equal(info.Shape, []int{2}) {
		t.Errorf(`Info("b") = %+v, %v; want BOOL [2]`, info, err)
	}
	_, err = f.Tensor("b")
	if want := `x.st: tensor "b": unsupported dtype BOOL (hone reads BF16 F16 F32 F64 I32 I64 I8 U8)`; err == nil || err.Error() != want {
		t.Errorf(`Tensor("b") error = %v, want %q`, err, want)
	}
	if _, err := f.Tensor("w"); err != nil {
		t.Errorf(`Tensor("w") error = %v, want nil`, err)
	}
}

// TestMisalignedCopies builds a file whose header length is not a multiple
// of 8 so that its F32 tensor sits at an odd address: Tensor must copy it
// into aligned memory with the same values.
func TestMisalignedCopies(t *testing.T) {
	hdr := `{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}`
	if (8+len(hdr))%4 == 0 {
		hdr += " "
	}
	file := rawFile(hdr, 0)
	want := []float32{1.5, -2, 3.25}
	for _, v := range want {
		file = binary.LittleEndian.AppendUint32(file, mathFloat32bits(v))
	}
	buf := make([]uint64, (len(file)+7)/8) // 8-aligned backing, like a mapping
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(file))
	copy(mem, file)
	f, err := OpenBytes("x.st", mem)
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.Tensor("w")
	if err != nil {
		t.Fatal(err)
	}
	if p := uintptr(unsafe.Pointer(&w.Data[0])); p%4 != 0 {
		t.Errorf("Tensor data at %#x, want 4-aligned", p)
	}
	if got := w.F32(); !slices.Equal(got, want) {
		t.Errorf("Tensor(w).F32() = %v, want %v", got, want)
	}
}

func mathFloat32bits(f float32) uint32 { return *(*uint32)(unsafe.Pointer(&f)) }

func TestOpenFromDisk(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.safetensors")
	os.WriteFile(short, []byte{1, 2, 3}, 0o644)
	trunc := filepath.Join(dir, "trunc.safetensors")
	good := filepath.Join(dir, "good.safetensors")
	if err := Write(good, []Named{{"w", tensor.New(tensor.F32, 64)}}, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	os.WriteFile(trunc, b[:len(b)-10], 0o644)
	cases := []struct {
		path, want string
	}{
		{filepath.Join(dir, "missing.safetensors"), "no such file"},
		{short, short + ": file is 3 bytes, too short"},
		{trunc, trunc + `: tensor "w": data_offsets [0,256] run past the 246-byte data section (truncated?)`},
		{dir, dir + ": not a regular file"},
	}
	for _, c := range cases {
		f, err := Open(c.path)
		if err == nil {
			f.Close()
			t.Errorf("Open(%s) error = nil, want %q", c.path, c.want)
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%s) error = %q, want it to contain %q", c.path, err, c.want)
		}
	}
	f, err := Open(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	if _, err := f.Tensor("w"); err == nil || !strings.Contains(err.Error(), "file is closed") {
		t.Errorf("Tensor after Close error = %v, want \"file is closed\"", err)
	}
}

func TestWriteErrors(t *testing.T) {
	ok := tensor.New(tensor.F32, 2)
	bad := &tensor.Tensor{DType: tensor.F32, Shape: []int{3}, Data: make([]byte, 8)}
	neg := &tensor.Tensor{DType: tensor.F32, Shape: []int{-1}, Data: nil}
	cases := []struct {
		name string
		in   []Named
		want string
	}{
		{"duplicate", []Named{{"a", ok}, {"a", ok}}, `tensor "a" appears twice`},
		{"reserved", []Named{{"__metadata__", ok}}, `the name "__metadata__" is reserved`},
		{"nil", []Named{{"a", nil}}, `tensor "a" is nil`},
		{"short data", []Named{{"a", bad}}, `tensor "a": F32[3] needs 12 bytes of data, has 8`},
		{"negative shape", []Named{{"a", neg}}, `tensor "a": shape [-1] has a negative dimension`},
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	if err := Write(path, []Named{{"old", ok}}, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	for _, c := range cases {
		err := Write(path, c.in, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("Write(%s) error = %v, want it to name %s and contain %q", c.name, err, path, c.want)
		}
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Errorf("failed Writes changed %s", path)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("folder holds %d entries after failed writes, want 1 (no temporary files left)", len(ents))
	}
	if err := Write(filepath.Join(dir, "no", "such", "dir.safetensors"), []Named{{"a", ok}}, nil); err == nil {
		t.Errorf("Write into a missing folder: error = nil, want one")
	}
}

func TestWriteShardedGrouping(t *testing.T) {
	// Sizes in bytes (U8 tensors) and the limit, and the shards transformers
	// would form: fill in order, a new shard when the next tensor would
	// overflow, an oversized tensor alone.
	cases := []struct {
		sizes []int
		limit int64
		want  [][]string
	}{
		{[]int{4, 4, 4}, 12, [][]string{{"t0", "t1", "t2"}}},
		{[]int{4, 4, 4}, 8, [][]string{{"t0", "t1"}, {"t2"}}},
		{[]int{4, 20, 4, 4}, 8, [][]string{{"t0"}, {"t1"}, {"t2", "t3"}}},
		{[]int{3, 3, 3, 3}, 5, [][]string{{"t0"}, {"t1"}, {"t2"}, {"t3"}}},
	}
	for _, c := range cases {
		dir := t.TempDir()
		var in []Named
		for i, n := range c.sizes {
			in = append(in, Named{"t" + string(rune('0'+i)), tensor.New(tensor.U8, n)})
		}
		if err := WriteSharded(dir, in, nil, c.limit); err != nil {
			t.Fatal(err)
		}
		var got [][]string
		if len(c.want) == 1 {
			f, err := Open(filepath.Join(dir, SingleFile))
			if err != nil {
				t.Fatalf("WriteSharded(%v, %d): %v", c.sizes, c.limit, err)
			}
			got = append(got, f.Names())
			f.Close()
		} else {
			for k := range c.want {
				f, err := Open(filepath.Join(dir, shardName(k, len(c.want))))
				if err != nil {
					t.Fatalf("WriteSharded(%v, %d): %v", c.sizes, c.limit, err)
				}
				got = append(got, f.Names())
				f.Close()
			}
		}
		if !slices.EqualFunc(got, c.want, slices.Equal) {
			t.Errorf("WriteSharded(sizes %v, limit %d) shards = %v, want %v", c.sizes, c.limit, got, c.want)
		}
	}
}

func shardName(k, n int) string {
	return "model-" + pad5(k+1) + "-of-" + pad5(n) + ".safetensors"
}

func pad5(n int) string {
	s := "0000" + string(rune('0'+n))
	return s[len(s)-5:]
}

func TestShardedRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var in []Named
	var total int64
	for i := range 10 {
		nt := Named{"layers." + string(rune('a'+i)) + ".weight", randTensor(r, tensor.BF16, 16, 8+i)}
		in = append(in, nt)
		total += int64(len(nt.Tensor.Data))
	}
	in = append(in, Named{"norm", randTensor(r, tensor.F32, 16)})
	total += 64
	dir := t.TempDir()
	meta := map[string]string{"format": "pt"}
	if err := WriteSharded(dir, in, meta, 1000); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Metadata  map[string]int64  `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	if idx.Metadata["total_size"] != total || len(idx.WeightMap) != len(in) {
		t.Errorf("index total_size %d with %d names, want %d with %d", idx.Metadata["total_size"], len(idx.WeightMap), total, len(in))
	}
	s, err := OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Files()) < 3 {
		t.Errorf("OpenModel opened %d shards, want at least 3 for a 1000-byte limit", len(s.Files()))
	}
	checkSet(t, s, in)
	for _, f := range s.Files() {
		if !equalMaps(f.Metadata(), meta) {
			t.Errorf("%s metadata = %v, want %v", f.Path(), f.Metadata(), meta)
		}
	}
	s.Close()

	// Saving again unsharded replaces the shards and the index.
	if err := WriteSharded(dir, in, meta, 1<<30); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != SingleFile {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("folder after an unsharded save holds %v, want only %s", names, SingleFile)
	}
	s, err = OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkSet(t, s, in)
	s.Close()
	// OpenModel also takes the file itself.
	s, err = OpenModel(filepath.Join(dir, SingleFile))
	if err != nil {
		t.Fatal(err)
	}
	checkSet(t, s, in)
	s.Close()
}

func checkSet(t *testing.T, s *Set, in []Named) {
	t.Helper()
	var want []string
	for _, nt := range in {
		want = append(want, nt.Name)
		got, err := s.Tensor(nt.Name)
		if err != nil {
			t.Errorf("Tensor(%q): %v", nt.Name, err)
			continue
		}
		if !got.SameShape(nt.Tensor) || got.DType != nt.Tensor.DType || !bytes.Equal(got.Data, nt.Tensor.Data) {
			t.Errorf("Tensor(%q) = %v, want %v with the same bytes", nt.Name, got, nt.Tensor)
		}
		if info, err := s.Info(nt.Name); err != nil || !slices.Equal(info.Shape, nt.Tensor.Shape) {
			t.Errorf("Info(%q) = %+v, %v", nt.Name, info, err)
		}
	}
	slices.Sort(want)
	if got := s.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
}

func TestOpenModelErrors(t *testing.T) {
	w := tensor.New(tensor.F32, 4)
	mk := func(t *testing.T, index string, shards map[string][]string) string {
		dir := t.TempDir()
		for name, tensors := range shards {
			var in []Named
			for _, n := range tensors {
				in = append(in, Named{n, w})
			}
			if err := Write(filepath.Join(dir, name), in, nil); err != nil {
				t.Fatal(err)
			}
		}
		if index != "" {
			os.WriteFile(filepath.Join(dir, IndexFile), []byte(index), 0o644)
		}
		return dir
	}
	two := map[string][]string{"s1.safetensors": {"a", "b"}, "s2.safetensors": {"c"}}
	cases := []struct {
		name   string
		index  string
		shards map[string][]string
		want   string
	}{
		{"empty folder", "", nil, "no model.safetensors or model.safetensors.index.json in the folder"},
		{"bad index JSON", `{"weight_map":`, two, IndexFile + ": unexpected end of JSON input"},
		{"empty weight map", `{"weight_map":{}}`, two, `"weight_map" is missing or empty`},
		{"name not in its shard", `{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors","c":"s2.safetensors","d":"s1.safetensors"}}`, two,
			`tensor "b" is mapped to s2.safetensors, which does not hold it; tensor "d" is mapped to s1.safetensors, which does not hold it`},
		{"missing shard", `{"weight_map":{"a":"s1.safetensors","x":"s3.safetensors"}}`, two, "s3.safetensors: no such file"},
		{"shard escapes folder", `{"weight_map":{"a":"../s1.safetensors"}}`, two, `tensor "a": shard "../s1.safetensors" is not a file name in the model folder`},
		{"unlisted duplicate", `{"weight_map":{"a":"s1.safetensors","y":"s2.safetensors"}}`, map[string][]string{"s1.safetensors": {"a", "z"}, "s2.safetensors": {"y", "z"}}, `tensor "z" is not in the index and is held by both s1.safetensors and s2.safetensors`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := mk(t, c.index, c.shards)
			s, err := OpenModel(dir)
			if err == nil {
				s.Close()
				t.Fatalf("OpenModel(%s) error = nil, want %q", c.name, c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("OpenModel(%s) error = %q, want it to contain %q", c.name, err, c.want)
			}
		})
	}

	// Unlisted tensors held by one shard are readable; listed ones resolve by the index.
	dir := mk(t, `{"weight_map":{"a":"s1.safetensors","c":"s2.safetensors"}}`, two)
	s, err := OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Names(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Names() = %v, want [a b c]", got)
	}
	if got := filepath.Base(s.Path("c")); got != "s2.safetensors" {
		t.Errorf(`Path("c") = %s, want s2.safetensors`, got)
	}
	s.Close()

	// OpenFiles refuses a name held by two files.
	p1, p2 := filepath.Join(dir, "s1.safetensors"), filepath.Join(dir, "s2.safetensors")
	if _, err := OpenFiles(p1, p1); err == nil || !strings.Contains(err.Error(), `tensor "a" is in both `+p1+" and "+p1) {
		t.Errorf("OpenFiles(same file twice) error = %v, want a duplicate-name error", err)
	}
	s, err = OpenFiles(p1, p2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tensor("nope"); err == nil || !strings.Contains(err.Error(), `no tensor "nope"`) {
		t.Errorf(`Tensor("nope") error = %v`, err)
	}
	s.Close()
}
