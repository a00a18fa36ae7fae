package data

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the reader as JSONL, JSON and CSV:
// it must never panic, every problem and unusable error must carry a line
// that exists in the input, and every row gives either an example or
// problems, never both nor neither.
func FuzzReader(f *testing.F) {
	seeds := []string{
		`{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello","weight":1}]}`,
		`{"conversations":[{"from":"human","value":"x"},{"from":"function_call","value":"{\"name\":\"f\",\"arguments\":{}}"},{"from":"gpt","value":"y"}],"tools":"[{}]"}`,
		`{"instruction":"i","input":"x","output":"o","history":[["a","b"]]}`,
		`[{"prompt":"p","completion":"c"},` + "\n" + `{"text":"t"}]`,
		"instruction,output\n\"a\nb\",c\n",
		"{\"text\":\"caf\xc3\xa9\"}\n\xff",
		"\ufeff[\n]",
		`{"messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{"}}]}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(2))
	}
	f.Fuzz(func(t *testing.T, b []byte, kind uint8) {
		name := []string{"f.jsonl", "f.json", "f.csv"}[kind%3]
		lines := bytes.Count(b, []byte{'\n'}) + 1
		r, err := NewReader(bytes.NewReader(b), name, ReadOptions{MaxRowBytes: 1 << 12})
		checkLine := func(line int, what string) {
			if line < 0 || line > lines {
				t.Fatalf("%s at line %d of %d", what, line, lines)
			}
		}
		var ue *UnusableError
		if err != nil {
			if !errors.As(err, &ue) {
				t.Fatalf("NewReader = %v, want an *UnusableError", err)
			}
			checkLine(ue.Line, "unusable")
			return
		}
		for i := 0; i < 10000; i++ {
			ex, probs, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.As(err, &ue) {
					t.Fatalf("Next = %v, want an *UnusableError", err)
				}
				checkLine(ue.Line, "unusable")
				return
			}
			for _, p := range probs {
				checkLine(p.Line, "problem")
				if p.Line == 0 || p.Message == "" || strings.ContainsRune(p.Message, '\n') && p.Kind != KindMalformedJSON {
					t.Fatalf("problem %+v: want a line and a one-line message", p)
				}
			}
			if ex != nil {
				checkLine(ex.Line, "example")
				if len(probs) > 0 {
					t.Fatalf("a row with both an example and problems: %v", probs)
				}
				if !ex.IsText() && len(ex.Weights) != len(ex.Messages) {
					t.Fatalf("example with %d messages and %d weights", len(ex.Messages), len(ex.Weights))
				}
			} else if len(probs) == 0 {
				t.Fatalf("a row with neither an example nor a problem")
			}
		}
		t.Fatalf("more than 10000 rows from %d bytes", len(b))
	})
}
