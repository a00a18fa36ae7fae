package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const okModel = `"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}`

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name, doc, want string
	}{
		{"not json", `{`, `tokenizer.json: not a valid tokenizer.json`},
		{"no model", `{"normalizer":null}`, `tokenizer.json: has no "model"`},
		{"unknown normalizer", `{"normalizer":{"type":"Foo"},` + okModel + `}`, `tokenizer.json: normalizer type "Foo" is not supported`},
		{"nested normalizer", `{"normalizer":{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Bar"}]},` + okModel + `}`, `tokenizer.json: normalizer.normalizers[1] type "Bar" is not supported`},
		{"unknown pre-tokenizer", `{"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Baz"}]},` + okModel + `}`, `tokenizer.json: pre_tokenizer.pretokenizers[0] type "Baz" is not supported`},
		{"unknown decoder", `{"decoder":{"type":"CTC"},` + okModel + `}`, `tokenizer.json: decoder type "CTC" is not supported`},
		{"unknown post-processor", `{"post_processor":{"type":"Qux"},` + okModel + `}`, `tokenizer.json: post_processor type "Qux" is not supported`},
		{"no type", `{"normalizer":{"lowercase":true},` + okModel + `}`, `tokenizer.json: normalizer has no "type"`},
		{"unigram", `{"model":{"type":"Unigram","vocab":[["a",0.0]]}}`, `tokenizer.json: model type "Unigram" is not supported`},
		{"wordpiece", `{"model":{"type":"WordPiece","vocab":{"a":0}}}`, `tokenizer.json: model type "WordPiece" is not supported`},
		{"merge unknown", `{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a q"]}}`, `tokenizer.json: model.merges merge 1 ("a" "q"): token "q" is not in the vocabulary`},
		{"merge result unknown", `{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[["a","b"]]}}`, `merged token "ab" is not in the vocabulary`},
		{"bad merge line", `{"model":{"type":"BPE","vocab":{"a":0},"merges":["a b c"]}}`, `tokenizer.json: model.merges is malformed: merge 1 ("a b c") is not two tokens`},
		{"bad id", `{"model":{"type":"BPE","vocab":{"a":1.5},"merges":[]}}`, `tokenizer.json: model.vocab is malformed`},
		{"huge id", `{"model":{"type":"BPE","vocab":{"a":2000000000},"merges":[]}}`, `too large`},
		{"no vocab", `{"model":{"type":"BPE","merges":[]}}`, `needs "vocab" and "merges"`},
		{"bad regex", `{"pre_tokenizer":{"type":"Split","pattern":{"Regex":"("},"behavior":"Isolated"},` + okModel + `}`, `tokenizer.json: pre_tokenizer regex "("`},
		{"bad behavior", `{"pre_tokenizer":{"type":"Split","pattern":{"String":"-"},"behavior":"Sideways"},` + okModel + `}`, `behavior "Sideways" is not one of`},
		{"bad unk", `{"model":{"type":"BPE","unk_token":"<unk>","vocab":{"a":0},"merges":[]}}`, `unk_token "<unk>" is not in the vocabulary`},
		{"template missing special", `{"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}}],"special_tokens":{}},` + okModel + `}`, `tokenizer.json: post_processor.single[0] special token "<s>" is missing`},
		{"added empty", `{"added_tokens":[{"id":5,"content":""}],` + okModel + `}`, `tokenizer.json: added_tokens[0] has empty content`},
		{"added huge id", `{"added_tokens":[{"id":2147483647,"content":"<big>","special":true}],` + okModel + `}`, `tokenizer.json: added_tokens[0] ("<big>") id 2147483647 is too large (the limit is 16777215)`},
		{"added id at limit", `{"added_tokens":[{"id":16777216,"content":"<big>"}],` + okModel + `}`, `added_tokens[0] ("<big>") id 16777216 is too large`},
		{"added id clash", `{"added_tokens":[{"id":5,"content":"ab"}],` + okModel + `}`, `"ab" has id 5 but the model vocabulary says 2`},
		{"metaspace replacement", `{"pre_tokenizer":{"type":"Metaspace","replacement":"ab"},` + okModel + `}`, `replacement "ab" is not one character`},
	} {
		_, err := Parse([]byte(c.doc), "tokenizer.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Parse(%s) = %v, want an error containing %q", c.name, c.doc, err, c.want)
		}
	}
}

func TestLoadErrorsAndFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no tokenizer.json") {
		t.Errorf("Load(empty folder) = %v, want 'no tokenizer.json'", err)
	}
	bad := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(bad, []byte(`{"normalizer":{"type":"Foo"},`+okModel+`}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), bad+`: normalizer type "Foo" is not supported`) {
		t.Errorf("Load(bad) = %v, want the file named", err)
	}
	// A good file saved and loaded back, by folder and by file name.
	tk, err := Parse([]byte(`{`+okModel+`}`), "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.Save(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, bad} {
		tk2, err := Load(p)
		if err != nil {
			t.Fatalf("Load(%s) after Save: %v", p, err)
		}
		if got := tk2.Encode("ab", false); len(got) != 1 || got[0] != 2 {
			t.Errorf("Load(%s).Encode(ab) = %v, want [2]", p, got)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("Save left %d files in the folder, want 1 (no temporary files)", len(ents))
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{` + okModel + `}`))
	f.Add(mkJSON(chars("abc <>"), [][2]string{{"a", "b"}}, []AddedToken{{ID: 9, Content: "<x>", LStrip: true, RStrip: true, SingleWord: true}},
		`{"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Lowercase"},{"type":"Strip","strip_left":true,"strip_right":true}]}`,
		`{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\s+"},"behavior":"MergedWithNext","invert":false},{"type":"Metaspace","replacement":"▁","prepend_scheme":"first"},{"type":"Digits"}]}`,
		`{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<x>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"special_tokens":{"<x>":{"id":"<x>","ids":[9],"tokens":["<x>"]}}}`,
		`{"type":"Sequence","decoders":[{"type":"ByteFallback"},{"type":"Metaspace","replacement":"▁"},{"type":"Strip","content":" ","start":3,"stop":3}]}`))
	f.Add([]byte(`{"model":{"vocab":{"a":0},"merges":"#version: 0.2\na a"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := Parse(data, "fuzz.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.json") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, s := range []string{"", "ab c <x> 12\xff", "  x  "} {
			ids, _ := tk.EncodeOffsets(s, true)
			tk.Decode(ids, false)
			tk.Decode(ids, true)
		}
		if _, err := tk.MarshalJSON(); err != nil {
			t.Fatalf("MarshalJSON of a parsed tokenizer: %v", err)
		}
	})
}

// TestLoadConfigTokens checks bos_token and eos_token of
// tokenizer_config.json: a token that is not in the vocabulary, or a value
// of the wrong shape, is an error naming the file and the key (it used to be
// ignored, and training failed later with "no EOS token").
func TestLoadConfigTokens(t *testing.T) {
	for _, c := range []struct {
		name, cfg, want string
		eos             int32 // want EOS id, -1 for none
	}{
		{"missing eos", `{"eos_token": "</s>"}`, `key "eos_token": token "</s>" is not in the vocabulary`, 0},
		{"missing bos dict", `{"bos_token": {"content": "<s>", "special": true}, "eos_token": "ab"}`, `key "bos_token": token "<s>" is not in the vocabulary`, 0},
		{"number", `{"eos_token": 7}`, `key "eos_token": want a string, null or {"content": ...}`, 0},
		{"dict without content", `{"eos_token": {"id": 2}}`, `key "eos_token": want a string`, 0},
		{"string", `{"eos_token": "ab", "bos_token": null}`, "", 2},
		{"dict", `{"eos_token": {"content": "b"}}`, "", 1},
		{"null and empty", `{"eos_token": null, "bos_token": ""}`, "", -1},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(`{`+okModel+`}`), 0o644); err != nil {
			t.Fatal(err)
		}
		cfgPath := filepath.Join(dir, "tokenizer_config.json")
		if err := os.WriteFile(cfgPath, []byte(c.cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		tk, err := Load(dir)
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), cfgPath+": "+c.want) {
				t.Errorf("%s: Load = %v, want an error containing %q", c.name, err, cfgPath+": "+c.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Load = %v", c.name, err)
			continue
		}
		id, ok := tk.EOS()
		if c.eos < 0 && ok || c.eos >= 0 && (!ok || id != c.eos) {
			t.Errorf("%s: EOS() = %d, %v, want %d", c.name, id, ok, c.eos)
		}
		if _, ok := tk.BOS(); ok {
			t.Errorf("%s: BOS() is set, want none", c.name)
		}
	}
}
