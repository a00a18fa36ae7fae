package safetensors

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hone/tensor"
)

// FuzzHeader feeds arbitrary bytes to the reader as a whole safetensors
// file. It must never panic; an error must name the file; a file it accepts
// must yield tensors whose data matches their headers, and writing those
// tensors again must give a file that reads back the same.
func FuzzHeader(f *testing.F) {
	dir := f.TempDir()
	valid := filepath.Join(dir, "valid.safetensors")
	err := Write(valid, []Named{
		{"w", tensor.FromF32([]float32{1, 2, 3, 4}, 2, 2)},
		{"b", tensor.New(tensor.BF16, 3)},
		{"ids", tensor.New(tensor.I64, 2)},
		{"s", tensor.New(tensor.U8)},
	}, map[string]string{"format": "pt"})
	if err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(valid)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)-3])
	f.Add(b[:20])
	f.Add([]byte{})
	f.Add(rawFile(`{}`, 0))
	f.Add(rawFile(`{"__metadata__":{"a":"b"}}`, 0))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}}`, 24))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}`, 12))
	f.Add(rawFile(`{"a":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]},"z":{"dtype":"F64","shape":[0,5],"data_offsets":[3,3]}}`, 3))
	f.Add(rawFile(`{"a":{"dtype":"F4","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, 4))
	f.Add(rawFile(`{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}   `, 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := OpenBytes("fuzz.st", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.st: ") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		var again []Named
		var total int64
		for _, name := range sf.Names() {
			info, err := sf.Info(name)
			if err != nil {
				t.Fatalf("Info(%q) of a listed name: %v", name, err)
			}
			total += info.Bytes()
			tt, err := sf.Tensor(name)
			if err != nil {
				if _, derr := info.TensorDType(); derr == nil {
					t.Fatalf("Tensor(%q) of supported dtype %s: %v", name, info.DType, err)
				}
				continue
			}
			if tt.DType.String() != info.DType || !slices.Equal(tt.Shape, info.Shape) || int64(len(tt.Data)) != info.Bytes() || len(tt.Data) != tt.Numel()*tt.DType.Size() {
				t.Fatalf("Tensor(%q) = %v with %d bytes, header says %+v", name, tt, len(tt.Data), info)
			}
			again = append(again, Named{name, tt})
		}
		if total != sf.DataBytes() {
			t.Fatalf("tensors hold %d bytes, data section has %d", total, sf.DataBytes())
		}
		if len(again) != sf.Len() {
			return // unsupported dtypes cannot be written back
		}
		hdr, order, err := encodeHeader(again, sf.Metadata())
		if err != nil {
			t.Fatalf("encodeHeader of tensors read back: %v", err)
		}
		out := slices.Clone(hdr)
		for _, i := range order {
			out = append(out, again[i].Tensor.Data...)
		}
		sf2, err := OpenBytes("again.st", out)
		if err != nil {
			t.Fatalf("re-encoded file does not open: %v", err)
		}
		if !slices.Equal(sf2.Names(), sf.Names()) || !equalMaps(sf2.Metadata(), sf.Metadata()) {
			t.Fatalf("re-encoded file has names %q meta %v, want %q %v", sf2.Names(), sf2.Metadata(), sf.Names(), sf.Metadata())
		}
		for _, nt := range again {
			t2, err := sf2.Tensor(nt.Name)
			if err != nil || !bytes.Equal(t2.Data, nt.Tensor.Data) || !t2.SameShape(nt.Tensor) {
				t.Fatalf("re-encoded tensor %q = %v, %v; want %v", nt.Name, t2, err, nt.Tensor)
			}
		}
	})
}

// FuzzIndex feeds arbitrary bytes to the sharded-checkpoint reader as
// model.safetensors.index.json, over a folder with two valid shards. It must
// never panic, an error must name the index, and an accepted index must give
// a set whose every name reads back.
func FuzzIndex(f *testing.F) {
	dir := f.TempDir()
	w := tensor.New(tensor.F32, 2)
	if err := Write(filepath.Join(dir, "s1.safetensors"), []Named{{"a", w}, {"b", w}}, nil); err != nil {
		f.Fatal(err)
	}
	if err := Write(filepath.Join(dir, "s2.safetensors"), []Named{{"c", w}}, nil); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"metadata":{"total_size":24},"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s2.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":"s2.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":"../s1.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":"s3.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":1}}`))
	f.Add([]byte(`{"weight_map":`))
	indexPath := filepath.Join(dir, IndexFile)
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := openIndex(dir, indexPath, raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), indexPath+": ") {
				t.Errorf("error %q does not name the index", err)
			}
			return
		}
		defer s.Close()
		for _, name := range s.Names() {
			if _, err := s.Tensor(name); err != nil {
				t.Fatalf("Tensor(%q) of a listed name: %v", name, err)
			}
		}
	})
}
