package safetensors

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"hone/tensor"
)

// Named is a tensor with the name it is stored under.
type Named struct {
	Name   string
	Tensor *tensor.Tensor
}

// Write writes tensors and metadata (may be nil) to path as a safetensors
// file, atomically: it writes a temporary file in the same folder, syncs it
// and renames it over path, so path holds either its old content or the
// complete new file, never a partial one.
//
// The output is byte for byte what the Python library's save_file writes for
// the same tensors: the data is laid out by dtype (widest first, in the
// reference implementation's dtype order) and then by name, whatever the
// order of tensors; the header lists "__metadata__" first and then the
// tensors in layout order, so offsets ascend; and it is padded with spaces to
// a multiple of 8 bytes. The 8-byte aligned data section and the widest-first
// layout keep every tensor aligned to its element size, so readers view the
// data without copying. The order of tensors is therefore irrelevant, and so
// is writing the same checkpoint twice: the bytes are identical.
//
// Replacing a file that is open is safe: on unix the open File keeps mapping
// the old content until it is closed.
func Write(path string, tensors []Named, metadata map[string]string) error {
	hdr, order, err := encodeHeader(tensors, metadata)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeAtomic(path, func(w *bufio.Writer) error {
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		for _, i := range order {
			if _, err := w.Write(tensors[i].Tensor.Data); err != nil {
				return err
			}
		}
		return nil
	})
}

// dtypeRank orders dtypes as the reference implementation's Dtype enum does;
// it sorts tensors by descending rank, which puts wider elements first.
var dtypeRank = map[string]int{
	"BOOL": 0, "F4": 1, "F6_E2M3": 2, "F6_E3M2": 3, "U8": 4, "I8": 5,
	"F8_E5M2": 6, "F8_E4M3": 7, "F8_E8M0": 8, "I16": 9, "U16": 10, "F16": 11,
	"BF16": 12, "I32": 13, "U32": 14, "F32": 15, "F64": 16, "I64": 17, "U64": 18,
}

// encodeHeader validates the tensors and returns the 8-byte length, the
// padded JSON header, and the order in which the tensors' data follows.
func encodeHeader(tensors []Named, metadata map[string]string) ([]byte, []int, error) {
	seen := make(map[string]bool, len(tensors))
	for i, nt := range tensors {
		if nt.Name == metadataKey {
			return nil, nil, fmt.Errorf("tensor %d: the name %q is reserved", i, metadataKey)
		}
		if seen[nt.Name] {
			return nil, nil, fmt.Errorf("tensor %q appears twice", nt.Name)
		}
		seen[nt.Name] = true
		t := nt.Tensor
		if t == nil {
			return nil, nil, fmt.Errorf("tensor %q is nil", nt.Name)
		}
		if _, ok := dtypeBits[t.DType.String()]; !ok {
			return nil, nil, fmt.Errorf("tensor %q: dtype %v has no safetensors name", nt.Name, t.DType)
		}
		n := int64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return nil, nil, fmt.Errorf("tensor %q: shape %v has a negative dimension", nt.Name, t.Shape)
			}
			n *= int64(d)
		}
		if want := n * int64(t.DType.Size()); int64(len(t.Data)) != want {
			return nil, nil, fmt.Errorf("tensor %q: %v needs %d bytes of data, has %d", nt.Name, t, want, len(t.Data))
		}
	}
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		ta, tb := tensors[a], tensors[b]
		if ra, rb := dtypeRank[ta.Tensor.DType.String()], dtypeRank[tb.Tensor.DType.String()]; ra != rb {
			return rb - ra
		}
		return cmpString(ta.Name, tb.Name)
	})
	begin := make([]int64, len(tensors))
	var off int64
	for _, i := range order {
		begin[i] = off
		off += int64(len(tensors[i].Tensor.Data))
	}

	var b bytes.Buffer
	b.Write(make([]byte, 8))
	b.WriteByte('{')
	first := true
	key := func(k string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeJSONString(&b, k)
		b.WriteByte(':')
	}
	if metadata != nil {
		key(metadataKey)
		b.WriteByte('{')
		for j, k := range slices.Sorted(maps.Keys(metadata)) {
			if j > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, k)
			b.WriteByte(':')
			writeJSONString(&b, metadata[k])
		}
		b.WriteByte('}')
	}
	for _, i := range order {
		t := tensors[i].Tensor
		key(tensors[i].Name)
		b.WriteString(`{"dtype":"`)
		b.WriteString(t.DType.String())
		b.WriteString(`","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		b.WriteString(`],"data_offsets":[`)
		b.WriteString(strconv.FormatInt(begin[i], 10))
		b.WriteByte(',')
		b.WriteString(strconv.FormatInt(begin[i]+int64(len(t.Data)), 10))
		b.WriteString("]}")
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	out := b.Bytes()
	n := uint64(len(out) - 8)
	if n > MaxHeaderBytes {
		return nil, nil, fmt.Errorf("header would be %d bytes, over the %d-byte limit readers accept", n, MaxHeaderBytes)
	}
	for i := range 8 {
		out[i] = byte(n >> (8 * i))
	}
	return out, order, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// writeJSONString writes s as a JSON string without HTML escaping, as the
// Rust serializer does.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)           // cannot fail for a string
	b.Truncate(b.Len() - 1) // Encode appends a newline
}

// writeAtomic writes path through fill into a temporary file in the same
// folder, syncs it, and renames it into place; on any error the temporary
// file is removed and path is untouched.
func writeAtomic(path string, fill func(*bufio.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("%s: %w", path, err)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if err = fill(w); err != nil {
		return err
	}
	if err = w.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable where the platform supports it; a
// failure only weakens durability, so it is ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// shardRE matches the shard names WriteSharded produces.
var shardRE = regexp.MustCompile(`^model-[0-9]{5}-of-[0-9]{5}\.safetensors$`)

// WriteSharded writes tensors into the model folder dir (created if needed)
// the way transformers' save_pretrained does: a single model.safetensors
// when their total size is at most maxShardBytes, otherwise shards named
// model-00001-of-0000N.safetensors plus model.safetensors.index.json, whose
// metadata.total_size is the sum of the tensors' sizes. Tensors fill a shard
// in the given order until the next one would overflow it; a tensor larger
// than maxShardBytes gets a shard of its own. metadata goes into every file's
// header. Each file is written atomically. A previous index is removed before
// any shard is written and the new index is written after all of them; the
// checkpoint files a previous save left behind (a single file, shards of
// another count) are removed last. So an interrupted save leaves a folder
// that OpenModel reads as the old checkpoint or refuses, never a mix.
func WriteSharded(dir string, tensors []Named, metadata map[string]string, maxShardBytes int64) error {
	if maxShardBytes <= 0 {
		return fmt.Errorf("%s: shard size limit %d must be positive", dir, maxShardBytes)
	}
	if _, _, err := encodeHeader(tensors, metadata); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var shards [][]Named
	var total, cur int64
	for _, nt := range tensors {
		size := int64(len(nt.Tensor.Data))
		total += size
		if len(shards) == 0 || (cur+size > maxShardBytes && cur > 0) {
			shards = append(shards, nil)
			cur = 0
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], nt)
		cur += size
	}
	keep := map[string]bool{}
	if len(shards) <= 1 {
		if err := Write(filepath.Join(dir, SingleFile), tensors, metadata); err != nil {
			return err
		}
		keep[SingleFile] = true
	} else {
		if err := os.Remove(filepath.Join(dir, IndexFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		weightMap := make(map[string]string, len(tensors))
		for k, sh := range shards {
			name := fmt.Sprintf("model-%05d-of-%05d.safetensors", k+1, len(shards))
			if err := Write(filepath.Join(dir, name), sh, metadata); err != nil {
				return err
			}
			keep[name] = true
			for _, nt := range sh {
				weightMap[nt.Name] = name
			}
		}
		idx := struct {
			Metadata  map[string]int64  `json:"metadata"`
			WeightMap map[string]string `json:"weight_map"`
		}{map[string]int64{"total_size": total}, weightMap}
		js, err := json.MarshalIndent(idx, "", "  ")
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, IndexFile), err)
		}
		js = append(js, '\n')
		if err := writeAtomic(filepath.Join(dir, IndexFile), func(w *bufio.Writer) error {
			_, err := w.Write(js)
			return err
		}); err != nil {
			return err
		}
		keep[IndexFile] = true
	}
	return removeStale(dir, keep)
}

// removeStale deletes checkpoint files in dir that are not in keep, a stale
// index first so that it never points at removed shards.
func removeStale(dir string, keep map[string]bool) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	slices.SortStableFunc(names, func(a, b string) int {
		switch {
		case a == IndexFile && b != IndexFile:
			return -1
		case b == IndexFile && a != IndexFile:
			return 1
		}
		return 0
	})
	var errs []error
	for _, n := range names {
		if keep[n] || !(n == SingleFile || n == IndexFile || shardRE.MatchString(n)) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
