package data

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadPlainText(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) string {
		p := filepath.Join(dir, "general.txt")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := write("\ufeffOnce upon a time.\r\nThe end.\n\n\n  \nA second story\nin two lines.")
	exs, err := ReadPlainText(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ex := range exs {
		got = append(got, summary(ex))
	}
	want := []string{"1 text:Once upon a time.\nThe end.", "6 text:A second story\nin two lines."}
	if !reflect.DeepEqual(got, want) || exs[0].File != p || !exs[0].IsText() {
		t.Errorf("ReadPlainText = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		content string
		line    int
		reason  string
	}{
		{"", 0, "empty"},
		{"\n \n", 0, "empty"},
		{"text\nbin\x00ary\n", 2, "NUL"},
		{"ok\n\nbad \xc3\x28\n", 3, "UTF-8"},
		{"short\n" + strings.Repeat("x", 100) + "\n", 2, "longer than 50"},
	} {
		_, err := ReadPlainText(write(tc.content), 50)
		var ue *UnusableError
		if !errors.As(err, &ue) || ue.Line != tc.line || !strings.Contains(ue.Reason, tc.reason) || ue.File != p {
			t.Errorf("ReadPlainText(%q) = %v, want unusable at line %d (%s)", tc.content, err, tc.line, tc.reason)
		}
	}
	if IsDatasetFile("a.txt") || !IsDatasetFile("a.JSONL") || !IsDatasetFile("b.csv") {
		t.Error("IsDatasetFile: .txt is plain text, .JSONL and .csv are datasets")
	}
}

// TestLoadPrepared: a prepared folder loads as Prepare wrote it, and a
// shard changed afterwards is refused.
func TestLoadPrepared(t *testing.T) {
	tok, tmpl, _ := sharedTokenizer(t, "llama3")
	dir := t.TempDir()
	var b strings.Builder
	for i := 0; i < 10; i++ {
		b.WriteString(`{"messages":[{"role":"user","content":"q` + strings.Repeat("x", i) + `"},{"role":"assistant","content":"a"}]}` + "\n")
	}
	train := filepath.Join(dir, "train.jsonl")
	os.WriteFile(train, []byte(b.String()), 0o644)
	out := filepath.Join(dir, "prepared")
	res, err := Prepare(PrepareConfig{Train: []string{train}, ValFraction: 0.2, Template: tmpl, Tokenizer: tok, MaxLen: 256, Pack: true, Out: out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !IsPrepared(out) || IsPrepared(dir) || IsPrepared(train) {
		t.Errorf("IsPrepared: want true only for the prepared folder")
	}
	m, tr, val, err := LoadPrepared(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tr, res.Train) || !reflect.DeepEqual(val, res.Val) || m.Template != TemplateRefOf(tmpl) {
		t.Errorf("LoadPrepared differs from what Prepare wrote")
	}
	shard := filepath.Join(out, "val.shard")
	data, _ := os.ReadFile(shard)
	os.WriteFile(shard, append(data, 0), 0o644)
	if _, _, _, err := LoadPrepared(out); err == nil || !strings.Contains(err.Error(), "val.shard") {
		t.Errorf("LoadPrepared(changed shard) = %v, want an error naming it", err)
	}
}
