package corpus

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
)

// encodeLine writes v as one JSON line without HTML escaping.
func encodeLine(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteStories writes one {"text": story} line per story.
func WriteStories(w io.Writer, stories []string) error {
	for _, s := range stories {
		if err := encodeLine(w, struct {
			Text string `json:"text"`
		}{s}); err != nil {
			return err
		}
	}
	return nil
}

// WriteExtraction writes one {"messages": [system, user, assistant]} line
// per example (see Example.Messages).
func WriteExtraction(w io.Writer, examples []Example) error {
	for _, e := range examples {
		if err := encodeLine(w, struct {
			Messages []Message `json:"messages"`
		}{e.Messages()}); err != nil {
			return err
		}
	}
	return nil
}

// Texts reads training text from files for the tokenizer trainer. A file
// ending in .jsonl holds one JSON object per line: its "text" string, or
// the contents of its "messages" joined by newlines, is one text; blank
// lines are skipped. Any other file gives one text per line, as Hugging
// Face tokenizers reads text files. Reading stops at the first error, which
// err returns afterwards, naming the file and line.
func Texts(paths ...string) (texts iter.Seq[string], err func() error) {
	var first error
	seq := func(yield func(string) bool) {
		for _, path := range paths {
			if !readTexts(path, yield, &first) || first != nil {
				return
			}
		}
	}
	return seq, func() error { return first }
}

// readTexts yields the texts of one file; it returns false when the
// consumer stopped.
func readTexts(path string, yield func(string) bool, errp *error) bool {
	f, err := os.Open(path)
	if err != nil {
		*errp = err
		return true
	}
	defer f.Close()
	jsonl := strings.EqualFold(filepath.Ext(path), ".jsonl")
	r := bufio.NewReaderSize(f, 1<<20)
	for line := 1; ; line++ {
		raw, err := r.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			*errp = fmt.Errorf("%s: line %d: %v", path, line, err)
			return true
		}
		if raw == "" && err != nil {
			return true
		}
		text := strings.TrimSuffix(strings.TrimSuffix(raw, "\n"), "\r")
		if jsonl {
			if strings.TrimSpace(text) == "" {
				if err != nil {
					return true
				}
				continue
			}
			t, perr := lineText(text)
			if perr != nil {
				*errp = fmt.Errorf("%s: line %d: %v", path, line, perr)
				return true
			}
			text = t
		}
		if text != "" && !yield(text) {
			return false
		}
		if err != nil {
			return true
		}
	}
}

// lineText returns the text of one JSONL record.
func lineText(line string) (string, error) {
	var rec struct {
		Text     *string   `json:"text"`
		Messages []Message `json:"messages"`
	}
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		return "", fmt.Errorf("not a JSON object: %v", err)
	}
	switch {
	case rec.Text != nil:
		return *rec.Text, nil
	case len(rec.Messages) > 0:
		parts := make([]string, len(rec.Messages))
		for i, m := range rec.Messages {
			parts[i] = m.Content
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", errors.New(`has neither "text" nor "messages"`)
}
