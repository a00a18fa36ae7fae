package data

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// IsDatasetFile reports whether a path names a dataset file by its
// extension (.jsonl, .ndjson, .json, .csv, .tsv), as opposed to plain text.
func IsDatasetFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json", ".csv", ".tsv":
		return true
	}
	return false
}

// ReadPlainText reads a plain UTF-8 text file as text examples: one
// document per paragraph, paragraphs being separated by blank lines (a
// file without blank lines is one document). Each example's Line is the
// line on which its paragraph starts; line breaks inside a paragraph are
// kept. It returns an *UnusableError for a file that is empty, binary,
// not UTF-8, or has a line longer than maxLine bytes
// (DefaultMaxRowBytes when 0).
func ReadPlainText(path string, maxLine int) ([]*Example, error) {
	if maxLine <= 0 {
		maxLine = DefaultMaxRowBytes
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, &UnusableError{File: path, Reason: "is a directory, not a text file"}
	}
	var (
		out   []*Example
		para  []string
		start int
	)
	flush := func() {
		if len(para) > 0 {
			out = append(out, &Example{File: path, Line: start, Format: FormatText, Text: strings.Join(para, "\n")})
			para = para[:0]
		}
	}
	br := bufio.NewReaderSize(f, 64<<10)
	for line := 1; ; line++ {
		b, err := readTextLine(br, maxLine)
		if err != nil && !errors.Is(err, io.EOF) {
			var ue *UnusableError
			if errors.As(err, &ue) {
				ue.File, ue.Line = path, line
				return nil, ue
			}
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if b == nil && err != nil {
			break
		}
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\ufeff"))
		}
		if bytes.IndexByte(b, 0) >= 0 {
			return nil, &UnusableError{File: path, Line: line, Reason: "contains NUL bytes: a binary file, not text"}
		}
		if !utf8.Valid(b) {
			return nil, &UnusableError{File: path, Line: line, Reason: "is not valid UTF-8 text"}
		}
		text := strings.TrimRight(string(b), "\r\n")
		if strings.TrimSpace(text) == "" {
			flush()
		} else {
			if len(para) == 0 {
				start = line
			}
			para = append(para, text)
		}
		if err != nil {
			break
		}
	}
	flush()
	if len(out) == 0 {
		return nil, &UnusableError{File: path, Reason: "empty file: no text"}
	}
	return out, nil
}

// readTextLine returns the next line with its newline; nil and io.EOF at
// the end, the last line and io.EOF when it has no newline.
func readTextLine(br *bufio.Reader, maxLine int) ([]byte, error) {
	var line []byte
	for {
		b, err := br.ReadSlice('\n')
		line = append(line, b...)
		if len(line) > maxLine {
			return nil, &UnusableError{Reason: fmt.Sprintf("line is longer than %d bytes (the row size limit)", maxLine)}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(line) == 0:
			return nil, io.EOF
		}
		return line, err
	}
}
