package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hone/data"
	"hone/internal/shared"
)

const doctorDir = "../../data/testdata/doctor"

func TestDataCheckDoctor(t *testing.T) {
	qwen := shared.Path(t, "tokenizers/qwen3")
	args := []string{"data", "check", doctorDir + "/train.jsonl", "--validation", doctorDir + "/val.jsonl",
		"--model", qwen, "--max-len", "128", "--schema", doctorDir + "/schema.json"}
	out, stderr, code := hone(t, "", args...)
	if code != 1 {
		t.Fatalf("hone data check (doctor) exited %d, want 1\n%s%s", code, out, stderr)
	}
	for _, kind := range []string{"malformed-json", "empty-field", "missing-field", "unknown-role", "no-assistant-end",
		"duplicate", "near-duplicate", "conflict", "too-long", "untrained", "render", "invalid-json", "schema-violation",
		"unknown-format", "overlap"} {
		if !strings.Contains(out, ": "+kind+": ") {
			t.Errorf("hone data check does not report %s:\n%s", kind, out)
		}
	}
	if !strings.Contains(out, "tokens per epoch") || !strings.Contains(out, "completions") {
		t.Errorf("hone data check prints no token statistics:\n%s", out)
	}

	out, _, code = hone(t, "", append(args, "--json")...)
	if code != 1 {
		t.Fatalf("hone data check --json exited %d, want 1", code)
	}
	var rep struct {
		Problems []map[string]any `json:"problems"`
		Train    struct {
			Tokenized     bool    `json:"tokenized"`
			TrainedShare  float64 `json:"trained_share"`
			TokensPerEpch int     `json:"tokens_per_epoch"`
		} `json:"train"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("hone data check --json: %v\n%s", err, out)
	}
	if len(rep.Problems) != 15 || !rep.Train.Tokenized || rep.Train.TrainedShare <= 0 {
		t.Errorf("hone data check --json: %d problems, train %+v; want 15 and token statistics", len(rep.Problems), rep.Train)
	}
	for _, p := range rep.Problems {
		for _, k := range []string{"file", "line", "kind", "message"} {
			if _, ok := p[k]; !ok {
				t.Errorf("problem %v has no %q", p, k)
			}
		}
		switch p["kind"] {
		case "duplicate", "near-duplicate", "conflict", "overlap":
			if p["other_line"] == nil || p["other_file"] == nil {
				t.Errorf("problem %v does not name the other row", p)
			}
		}
		if p["kind"] == "overlap" && (p["line"] != 2.0 || p["other_line"] != 17.0) {
			t.Errorf("overlap = %v, want val line 2 against train line 17", p)
		}
	}
}

func TestDataCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A 100 MB single line: rejected after the row limit, not loaded.
	huge := filepath.Join(dir, "huge.jsonl")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"text": "`)
	chunk := bytes.Repeat([]byte("abcdefgh"), 1<<17)
	for i := 0; i < 100; i++ {
		f.Write(chunk)
	}
	f.WriteString("\"}\n")
	f.Close()
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(i*131 + i/7)
	}
	tests := []struct {
		name, file string
		code       int
		msg        string
	}{
		{"clean", write("ok.jsonl", []byte(`{"prompt":"Two plus two?","completion":"Four."}`+"\n"+`{"prompt":"Capital of Peru?","completion":"Lima."}`+"\n")), 0, "no problems found"},
		{"binary garbage", write("garbage.jsonl", garbage), 2, "NUL bytes"},
		{"empty", write("empty.jsonl", nil), 2, "empty file"},
		{"100 MB line", huge, 2, "longer than 16777216 bytes"},
		{"invalid UTF-8", write("latin1.jsonl", []byte("{\"text\":\"ok\"}\n{\"text\":\"caf\xe9\"}\n")), 2, "not valid UTF-8"},
		{"prose", write("prose.jsonl", []byte("Dear diary,\ntoday I trained a model.\n")), 2, "none of its 2 rows"},
		{"missing", filepath.Join(dir, "nope.jsonl"), 2, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := hone(t, "", "data", "check", tc.file)
			if code != tc.code || !strings.Contains(out+stderr, tc.msg) {
				t.Errorf("hone data check (%s) = exit %d, want %d with %q\n%s%s", tc.name, code, tc.code, tc.msg, out, stderr)
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
				t.Errorf("hone data check (%s) panicked:\n%s", tc.name, stderr)
			}
		})
	}
	// Flags that make no sense exit 2.
	if _, _, code := hone(t, "", "data", "check", tests[0].file, "--expect", "yaml"); code != 2 {
		t.Errorf("hone data check --expect yaml exited %d, want 2", code)
	}
	if _, _, code := hone(t, "", "data", "check", tests[0].file, "--format", "parquet"); code != 2 {
		t.Errorf("hone data check --format parquet exited %d, want 2", code)
	}
}

func TestDataPreview(t *testing.T) {
	llama := shared.Path(t, "tokenizers/llama3")
	file := filepath.Join(t.TempDir(), "a.jsonl")
	os.WriteFile(file, []byte(`{"messages":[{"role":"user","content":"Capital of France?"},{"role":"assistant","content":"Paris."}]}`+"\n"+
		`{"instruction":"x"}`+"\n"+
		`{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello."}]}`+"\n"), 0o644)
	out, stderr, code := hone(t, "", "data", "preview", file, "--model", llama, "-n", "2")
	if code != 0 {
		t.Fatalf("hone data preview exited %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{
		":1 (chat): 21 tokens, 3 trained",
		"<|start_header_id|>assistant<|end_header_id|>\n\n[[Paris.<|eot_id|>]]",
		":3 (chat): 18 tokens, 3 trained",
		"[[Hello.<|eot_id|>]]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("hone data preview output lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = hone(t, "", "data", "preview", file, "--model", llama, "-n", "1", "--color", "always")
	if !strings.Contains(out, "\033[1;32mParis.<|eot_id|>\033[0m") {
		t.Errorf("hone data preview --color always does not colour the trained tokens:\n%q", out)
	}
}

func TestDataPrepare(t *testing.T) {
	qwen := shared.Path(t, "tokenizers/qwen3")
	dir := t.TempDir()
	var rows, gen []string
	for i := 0; i < 40; i++ {
		rows = append(rows, `{"instruction":"Spell the number `+itoa(i)+`.","output":"It is `+itoa(i)+`."}`)
		gen = append(gen, `{"text":"General text number `+itoa(i)+` about the weather."}`)
	}
	train := filepath.Join(dir, "train.jsonl")
	mix := filepath.Join(dir, "general.jsonl")
	os.WriteFile(train, []byte(strings.Join(rows, "\n")+"\n{\"broken\n"), 0o644)
	os.WriteFile(mix, []byte(strings.Join(gen, "\n")), 0o644)
	out := filepath.Join(dir, "prepared")
	args := []string{"data", "prepare", train, "--model", qwen, "--out", out, "--max-len", "96", "--val-fraction", "0.25",
		"--mix", mix, "--mix-ratio", "0.2", "--pack", "--seed", "5"}
	stdout, stderr, code := hone(t, "", args...)
	if code != 0 {
		t.Fatalf("hone data prepare exited %d\n%s%s", code, stdout, stderr)
	}
	var m data.Manifest
	b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Inputs) != 2 || m.Inputs[0].SHA256 == "" || m.Tokenizer.SHA256 == "" || m.Template.SHA256 == "" || m.Skipped["unusable rows"] != 1 {
		t.Errorf("manifest = %s, want hashed inputs, tokenizer and template, 1 unusable row", b)
	}
	trainSeqs, err := data.ReadShard(filepath.Join(out, "train.shard"))
	if err != nil {
		t.Fatal(err)
	}
	valSeqs, err := data.ReadShard(filepath.Join(out, "val.shard"))
	if err != nil {
		t.Fatal(err)
	}
	st, sv := m.Shards[0], m.Shards[1]
	// 40 examples: 10 validation, 30 training, and 30*0.2/0.8 = 8 (rounded) general.
	if sv.Examples != 10 || st.Examples != 38 || st.Rows != len(trainSeqs) || sv.Rows != len(valSeqs) || st.Rows >= st.Examples {
		t.Errorf("shards = %+v / %+v (%d, %d rows read), want 38 packed training examples and 10 validation", st, sv, len(trainSeqs), len(valSeqs))
	}
	for _, s := range trainSeqs {
		if s.Len() > 96 || s.Seg == nil {
			t.Errorf("a training row of %d tokens, segments %v: want packed rows of at most 96", s.Len(), s.Seg != nil)
		}
	}
	// The same seed gives the same bytes.
	out2 := filepath.Join(dir, "again")
	args[6] = out2
	if _, _, code := hone(t, "", args...); code != 0 {
		t.Fatalf("second prepare exited %d", code)
	}
	a, _ := os.ReadFile(filepath.Join(out, "train.shard"))
	c, _ := os.ReadFile(filepath.Join(out2, "train.shard"))
	if !bytes.Equal(a, c) {
		t.Errorf("hone data prepare with the same seed wrote different shards")
	}
}
