package tokenizer

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Save writes the tokenizer as tokenizer.json to path (a file name, or an
// existing folder to write tokenizer.json into), atomically: it writes a
// temporary file in the same folder and renames it into place. The output
// is what Hugging Face tokenizers writes: the vocabulary ordered by id and
// the merges as ["a", "b"] pairs in rank order.
func (t *Tokenizer) Save(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "tokenizer.json")
	}
	data, err := t.MarshalJSON()
	if err != nil {
		return err
	}
	return writeAtomic(path, data)
}

// writeAtomic writes data to a temporary file next to path and renames it.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// jsonString encodes s as JSON without HTML escaping.
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimRight(b.Bytes(), "\n")
}

// MarshalJSON returns the tokenizer.json text of the tokenizer.
func (t *Tokenizer) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	member := func(name string, raw json.RawMessage, last bool) error {
		b.WriteString("  ")
		b.Write(jsonString(name))
		b.WriteString(": ")
		if isNull(raw) {
			b.WriteString("null")
		} else {
			var ind bytes.Buffer
			if err := json.Indent(&ind, raw, "  ", "  "); err != nil {
				return fmt.Errorf("%s: %s: %v", t.name, name, err)
			}
			b.Write(ind.Bytes())
		}
		if !last {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
		return nil
	}
	b.WriteString("{\n")
	version := t.raw.Version
	if version == "" {
		version = "1.0"
	}
	b.WriteString(`  "version": `)
	b.Write(jsonString(version))
	b.WriteString(",\n")
	if err := member("truncation", t.raw.Truncation, false); err != nil {
		return nil, err
	}
	if err := member("padding", t.raw.Padding, false); err != nil {
		return nil, err
	}
	b.WriteString("  \"added_tokens\": [")
	for i, a := range t.added {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n    {\"id\": %d, \"content\": %s, \"single_word\": %t, \"lstrip\": %t, \"rstrip\": %t, \"normalized\": %t, \"special\": %t}",
			a.ID, jsonString(a.Content), a.SingleWord, a.LStrip, a.RStrip, a.Normalized, a.Special)
	}
	if len(t.added) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("],\n")
	for _, m := range []struct {
		name string
		raw  json.RawMessage
	}{{"normalizer", t.raw.Normalizer}, {"pre_tokenizer", t.raw.PreTokenizer}, {"post_processor", t.raw.PostProcessor}, {"decoder", t.raw.Decoder}} {
		if err := member(m.name, m.raw, false); err != nil {
			return nil, err
		}
	}
	b.WriteString("  \"model\": ")
	t.writeModel(&b)
	b.WriteString("\n}\n")
	return b.Bytes(), nil
}

// writeModel writes the BPE model member.
func (t *Tokenizer) writeModel(b *bytes.Buffer) {
	m := t.model
	opt := func(s *string) []byte {
		if s == nil {
			return []byte("null")
		}
		return jsonString(*s)
	}
	b.WriteString("{\n    \"type\": \"BPE\",\n    \"dropout\": ")
	if m.dropout != nil {
		fmt.Fprint(b, *m.dropout)
	} else {
		b.WriteString("null")
	}
	var unk *string
	if m.unkToken != "" {
		unk = &m.unkToken
	}
	fmt.Fprintf(b, ",\n    \"unk_token\": %s,\n    \"continuing_subword_prefix\": %s,\n    \"end_of_word_suffix\": %s,\n    \"fuse_unk\": %t,\n    \"byte_fallback\": %t,\n    \"ignore_merges\": %t,\n    \"vocab\": {",
		opt(unk), opt(m.prefix), opt(m.suffix), m.fuseUnk, m.byteFallback, m.ignoreMerges)
	type entry struct {
		tok string
		id  int32
	}
	entries := make([]entry, 0, len(m.vocab))
	for s, id := range m.vocab {
		entries = append(entries, entry{s, id})
	}
	slices.SortFunc(entries, func(x, y entry) int { return cmp.Or(cmp.Compare(x.id, y.id), cmp.Compare(x.tok, y.tok)) })
	for i, e := range entries {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n      ")
		b.Write(jsonString(e.tok))
		fmt.Fprintf(b, ": %d", e.id)
	}
	b.WriteString("\n    },\n    \"merges\": [")
	type merge struct {
		rank int32
		a, b int32
	}
	ms := make([]merge, 0, len(m.merges))
	for k, v := range m.merges {
		ms = append(ms, merge{v.rank, int32(uint32(k >> 32)), int32(uint32(k))})
	}
	slices.SortFunc(ms, func(x, y merge) int { return cmp.Compare(x.rank, y.rank) })
	for i, mg := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n      [")
		b.Write(jsonString(m.tokens[mg.a]))
		b.WriteString(", ")
		b.Write(jsonString(m.tokens[mg.b]))
		b.WriteByte(']')
	}
	b.WriteString("\n    ]\n  }")
}
