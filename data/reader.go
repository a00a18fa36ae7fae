package data

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// Container is how the rows of a file are stored.
type Container string

// The containers a Reader understands.
const (
	ContainerJSONL Container = "jsonl" // one JSON object per line
	ContainerJSON  Container = "json"  // one JSON array of objects, nothing after it
	ContainerCSV   Container = "csv"   // a header row, then one row per record (TSV for .tsv)
)

// DefaultMaxRowBytes bounds one line of JSONL or CSV, or one element of a
// JSON array. A longer one makes the file unusable rather than filling the
// memory.
const DefaultMaxRowBytes = 16 << 20

// ReadOptions configure a Reader.
type ReadOptions struct {
	// Format forces a format; FormatAuto detects it from the first row
	// with known keys, and every later row is read in that format.
	Format Format
	// MaxRowBytes bounds a row (DefaultMaxRowBytes when 0).
	MaxRowBytes int
}

// Reader streams the examples of one dataset file. It holds one row in
// memory at a time, whatever the size of the file.
type Reader struct {
	name      string
	opts      ReadOptions
	container Container
	format    Format
	formatAt  int // line at which the format was detected
	g         *guard
	br        *bufio.Reader
	closer    io.Closer

	// JSONL
	line int // lines consumed so far
	// JSON array
	dec  *json.Decoder
	base int64 // file offset at which the decoder starts reading
	done bool
	// first is the first significant byte of the file.
	first int
	// CSV
	cr     *csv.Reader
	header []string

	rows, jsonRows int // rows seen, rows that were JSON objects
}

// Open opens a dataset file for reading; Close releases it.
func Open(path string, opts ReadOptions) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, &UnusableError{File: path, Reason: "is a directory, not a dataset file"}
	}
	r, err := NewReader(f, path, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads a dataset from r; name (a path) appears in problems and
// its extension chooses the container: CSV for .csv and .tsv, JSON Lines
// for .jsonl and .ndjson (read line by line whatever the first line holds:
// a line that is an array is a problem of that line). Other files (.json
// and the rest) are a JSON array when their first character is '[' (and
// anything but white space after the array is a problem), else JSON
// Lines. It returns an *UnusableError for an empty or binary file.
func NewReader(r io.Reader, name string, opts ReadOptions) (*Reader, error) {
	if opts.MaxRowBytes <= 0 {
		opts.MaxRowBytes = DefaultMaxRowBytes
	}
	rd := &Reader{name: name, opts: opts, format: opts.Format}
	rd.g = &guard{r: r, name: name, max: opts.MaxRowBytes, line: 1}
	rd.br = bufio.NewReaderSize(rd.g, 64<<10)
	// Skip a UTF-8 byte order mark and find the first significant byte.
	if b, err := rd.br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		rd.br.Discard(3)
	}
	first, err := firstByte(rd.br)
	if err != nil {
		return nil, err
	}
	if first < 0 {
		return nil, &UnusableError{File: name, Reason: "empty file: no rows"}
	}
	rd.first = first
	ext := strings.ToLower(filepath.Ext(name))
	switch {
	case ext == ".csv" || ext == ".tsv":
		rd.container = ContainerCSV
		rd.cr = csv.NewReader(rd.br)
		if ext == ".tsv" {
			rd.cr.Comma = '\t'
		}
		rd.cr.ReuseRecord = true
		h, err := rd.cr.Read()
		if err != nil {
			if ue := unusable(err); ue != nil {
				return nil, ue
			}
			return nil, &UnusableError{File: name, Line: 1, Reason: fmt.Sprintf("no CSV header row: %v", err)}
		}
		seen := map[string]bool{}
		for i, c := range h {
			c = strings.TrimSpace(c)
			if c == "" || seen[c] {
				return nil, &UnusableError{File: name, Line: 1, Reason: fmt.Sprintf("CSV header: column %d is empty or repeated (%q)", i+1, c)}
			}
			seen[c] = true
			rd.header = append(rd.header, c)
		}
		rd.cr.FieldsPerRecord = len(h)
	case first == '[' && ext != ".jsonl" && ext != ".ndjson":
		rd.container = ContainerJSON
		rd.g.array = true
		rd.base = rd.g.off - int64(rd.br.Buffered())
		rd.dec = json.NewDecoder(rd.br)
		if _, err := rd.dec.Token(); err != nil {
			return nil, rd.fail(err)
		}
	default:
		rd.container = ContainerJSONL
	}
	return rd, nil
}

// firstByte returns the first byte that is not white space, without
// consuming it, or -1 at the end of the input.
func firstByte(br *bufio.Reader) (int, error) {
	for {
		b, err := br.Peek(1)
		if err == io.EOF {
			return -1, nil
		}
		if err != nil {
			if ue := unusable(err); ue != nil {
				return 0, ue
			}
			return 0, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			br.Discard(1)
		default:
			return int(b[0]), nil
		}
	}
}

// Close closes the file of a Reader made by Open.
func (r *Reader) Close() error {
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// Container returns how the file stores its rows.
func (r *Reader) Container() Container { return r.container }

// Format returns the format of the rows: the one forced, or the one
// detected so far (FormatAuto before the first row with known keys).
func (r *Reader) Format() Format { return r.format }

// Rows returns how many rows have been read, good or bad.
func (r *Reader) Rows() int { return r.rows }

// Next reads the next row. It returns the example (nil when the row cannot
// be used) and the row's problems; io.EOF after the last row; an
// *UnusableError when the file turns out not to be a dataset (binary or
// invalid UTF-8 bytes, a row over the size limit, no row that is JSON);
// or an I/O error.
func (r *Reader) Next() (*Example, []Problem, error) {
	var (
		row  map[string]json.RawMessage
		line int
		prob *Problem
		err  error
	)
	switch r.container {
	case ContainerJSONL:
		row, line, prob, err = r.nextJSONL()
	case ContainerJSON:
		row, line, prob, err = r.nextArray()
	case ContainerCSV:
		row, line, prob, err = r.nextCSV()
	}
	if err == io.EOF && r.rows > 0 && r.jsonRows == 0 && r.container != ContainerCSV {
		reason := fmt.Sprintf("none of its %d rows is a JSON object: not a JSONL or JSON dataset", r.rows)
		if r.container == ContainerJSONL && r.first == '[' {
			reason += " (a JSON Lines file holds one object per line; for a JSON array, name the file .json)"
		}
		return nil, nil, &UnusableError{File: r.name, Reason: reason}
	}
	if err != nil {
		return nil, nil, err
	}
	if prob != nil {
		return nil, []Problem{*prob}, nil
	}
	ex, probs := r.parse(row, line)
	return ex, probs, nil
}

// fail turns a read error into the error Next returns.
func (r *Reader) fail(err error) error {
	if ue := unusable(err); ue != nil {
		return ue
	}
	var se *json.SyntaxError
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &UnusableError{File: r.name, Line: r.g.line, Reason: "not a JSON array: the file ends inside it"}
	}
	if errors.As(err, &se) {
		return &UnusableError{File: r.name, Line: r.g.lineAt(r.base + se.Offset), Reason: fmt.Sprintf("not a JSON array: %v", err)}
	}
	return fmt.Errorf("%s: %w", r.name, err)
}

func unusable(err error) *UnusableError {
	var ue *UnusableError
	if errors.As(err, &ue) {
		return ue
	}
	return nil
}

func (r *Reader) nextJSONL() (map[string]json.RawMessage, int, *Problem, error) {
	for {
		b, err := r.readLine()
		if err != nil {
			return nil, 0, nil, err
		}
		r.line++
		r.g.markRow(r.g.off)
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		r.rows++
		row, p := r.decodeObject(b, r.line)
		if p != nil && r.rows == 1 && b[0] == '[' {
			p.Message += " (a JSON Lines file holds one object per line; for a JSON array, name the file .json)"
		}
		return row, r.line, p, nil
	}
}

// readLine returns the next line without its newline, io.EOF at the end.
func (r *Reader) readLine() ([]byte, error) {
	b, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// A long line: gather it (the guard bounds its length).
		buf := append([]byte(nil), b...)
		for err == bufio.ErrBufferFull {
			b, err = r.br.ReadSlice('\n')
			buf = append(buf, b...)
		}
		b = buf
	}
	if err == io.EOF && len(b) > 0 {
		err = nil
	}
	if err != nil {
		if ue := unusable(err); ue != nil {
			return nil, ue
		}
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%s: %w", r.name, err)
	}
	return b, nil
}

// decodeObject decodes one row, which must be a JSON object.
func (r *Reader) decodeObject(b []byte, line int) (map[string]json.RawMessage, *Problem) {
	var row map[string]json.RawMessage
	if err := json.Unmarshal(b, &row); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			r.jsonRows++
			return nil, &Problem{File: r.name, Line: line, Kind: KindMalformedJSON, Message: fmt.Sprintf("the row is a JSON %s, not an object", ute.Value)}
		}
		return nil, &Problem{File: r.name, Line: line, Kind: KindMalformedJSON, Message: jsonMessage(b, err)}
	}
	r.jsonRows++
	if row == nil {
		return nil, &Problem{File: r.name, Line: line, Kind: KindMalformedJSON, Message: "the row is null, not an object"}
	}
	return row, nil
}

// jsonMessage describes a JSON syntax error with its column.
func jsonMessage(b []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("malformed JSON at column %d: %v", utf8.RuneCount(b[:min(int(se.Offset), len(b))])+1, strings.TrimPrefix(se.Error(), "json: "))
	}
	return "malformed JSON: " + strings.TrimPrefix(err.Error(), "json: ")
}

func (r *Reader) nextArray() (map[string]json.RawMessage, int, *Problem, error) {
	if r.done {
		return nil, 0, nil, io.EOF
	}
	if !r.dec.More() {
		r.done = true
		if _, err := r.dec.Token(); err != nil { // the closing bracket
			if r.rows == 0 {
				return nil, 0, nil, r.fail(err)
			}
			line := r.g.lineAt(r.base + r.dec.InputOffset())
			return nil, line, &Problem{File: r.name, Line: line, Kind: KindMalformedJSON,
				Message: fmt.Sprintf("the JSON array is not closed: %v", err)}, nil
		}
		return r.afterArray()
	}
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		r.done = true
		if ue := unusable(err); ue != nil {
			return nil, 0, nil, ue
		}
		if r.rows == 0 {
			return nil, 0, nil, r.fail(err)
		}
		r.rows++
		line := r.g.lineAt(r.base + r.dec.InputOffset())
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line = r.g.lineAt(r.base + se.Offset)
		}
		return nil, line, &Problem{File: r.name, Line: line, Kind: KindMalformedJSON,
			Message: fmt.Sprintf("malformed JSON (%s); the rest of the array cannot be read", strings.TrimPrefix(err.Error(), "json: "))}, nil
	}
	start := r.base + r.dec.InputOffset() - int64(len(raw))
	line := r.g.lineAt(start)
	r.g.markRow(r.base + r.dec.InputOffset())
	r.rows++
	row, p := r.decodeObject(raw, line)
	return row, line, p, nil
}

// afterArray checks that nothing but white space follows the closing
// bracket of the array: rows after it would otherwise be dropped without
// a word. It returns a problem at the line of the first other byte, or
// io.EOF.
func (r *Reader) afterArray() (map[string]json.RawMessage, int, *Problem, error) {
	off := r.base + r.dec.InputOffset()
	rest := bufio.NewReader(io.MultiReader(r.dec.Buffered(), r.br))
	for {
		b, err := rest.ReadByte()
		if err == io.EOF {
			return nil, 0, nil, io.EOF
		}
		if err != nil {
			if ue := unusable(err); ue != nil {
				return nil, 0, nil, ue
			}
			return nil, 0, nil, fmt.Errorf("%s: %w", r.name, err)
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			off++
			continue
		}
		line := r.g.lineAt(off)
		return nil, line, &Problem{File: r.name, Line: line, Kind: KindMalformedJSON,
			Message: fmt.Sprintf("content after the end of the JSON array (byte %d): a .json file holds one array and nothing after it; this content is not read", off+1)}, nil
	}
}

// csvJSONColumns are the CSV columns whose cells hold JSON (lists).
var csvJSONColumns = map[string]bool{"messages": true, "conversations": true, "history": true, "tools": true}

func (r *Reader) nextCSV() (map[string]json.RawMessage, int, *Problem, error) {
	rec, err := r.cr.Read()
	if err == io.EOF {
		return nil, 0, nil, io.EOF
	}
	r.rows++
	if err != nil {
		if ue := unusable(err); ue != nil {
			return nil, 0, nil, ue
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, pe.StartLine, &Problem{File: r.name, Line: pe.StartLine, Kind: KindMalformedCSV, Message: strings.TrimPrefix(pe.Err.Error(), "csv: ")}, nil
		}
		return nil, 0, nil, fmt.Errorf("%s: %w", r.name, err)
	}
	line, _ := r.cr.FieldPos(0)
	r.g.markRow(r.g.off)
	r.jsonRows++
	row := make(map[string]json.RawMessage, len(rec))
	for i, v := range rec {
		col := r.header[i]
		if csvJSONColumns[col] {
			if strings.TrimSpace(v) == "" {
				continue
			}
			if !json.Valid([]byte(v)) {
				return nil, line, &Problem{File: r.name, Line: line, Kind: KindMalformedJSON, Message: fmt.Sprintf("column %q: the cell is not valid JSON", col)}, nil
			}
			row[col] = json.RawMessage(v)
			continue
		}
		row[col], _ = json.Marshal(v)
	}
	return row, line, nil, nil
}

// guard sits between the file and the decoders. It rejects what is not
// text (NUL bytes, invalid UTF-8), bounds the size of a row, and records
// where lines start so that byte offsets become line numbers.
type guard struct {
	r     io.Reader
	name  string
	max   int
	array bool // bound the bytes since the last row mark, not the line length

	off     int64   // bytes read so far
	line    int     // current line (1-based)
	lineLen int     // bytes since the last newline
	mark    int64   // offset of the last row boundary (array mode)
	nls     []int64 // offsets of newlines not yet pruned
	pruned  int     // newlines dropped from nls
	carry   []byte  // an incomplete UTF-8 sequence at the end of the last read
	err     error
}

// Read reads from the file and checks what it read.
func (g *guard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	chunk := p[:n]
	if i := bytes.IndexByte(chunk, 0); i >= 0 {
		return g.stop(chunk, i, "contains NUL bytes: a binary file, not a text dataset")
	}
	// UTF-8: complete a character the previous read cut short, keep one
	// this read cuts short for the next.
	body := chunk
	if len(g.carry) > 0 && n > 0 {
		seq := append(append([]byte(nil), g.carry...), chunk[:min(n, utf8.UTFMax)]...)
		if !utf8.FullRune(seq) {
			g.carry = seq
			body = nil
		} else {
			r, size := utf8.DecodeRune(seq)
			if r == utf8.RuneError && size <= 1 {
				return g.stop(chunk, 0, "is not valid UTF-8 text")
			}
			body = chunk[size-len(g.carry):]
			g.carry = g.carry[:0]
		}
	}
	for j := len(body) - 1; j >= 0 && j >= len(body)-utf8.UTFMax; j-- {
		if utf8.RuneStart(body[j]) {
			if !utf8.FullRune(body[j:]) {
				g.carry = append(g.carry[:0], body[j:]...)
				body = body[:j]
			}
			break
		}
	}
	if !utf8.Valid(body) {
		i := len(chunk) - len(body)
		for k := 0; k < len(body); {
			r, size := utf8.DecodeRune(body[k:])
			if r == utf8.RuneError && size <= 1 {
				i += k
				break
			}
			k += size
		}
		return g.stop(chunk, i, "is not valid UTF-8 text")
	}
	// Lines and row sizes.
	rest := chunk
	lines, lineLen, nls := 0, g.lineLen, len(g.nls)
	for {
		k := bytes.IndexByte(rest, '\n')
		seg := len(rest)
		if k >= 0 {
			seg = k
		}
		if !g.array && lineLen+seg > g.max {
			g.nls = g.nls[:nls]
			return g.stop(chunk, len(chunk)-len(rest), fmt.Sprintf("line is longer than %d bytes (the row size limit)", g.max))
		}
		if k < 0 {
			lineLen += seg
			break
		}
		g.nls = append(g.nls, g.off+int64(len(chunk)-len(rest)+k))
		lines++
		lineLen = 0
		rest = rest[k+1:]
	}
	g.line += lines
	g.lineLen = lineLen
	if g.array && g.off+int64(n)-g.mark > int64(g.max) {
		return g.stop(chunk, n, fmt.Sprintf("an element of the JSON array is longer than %d bytes (the row size limit)", g.max))
	}
	g.off += int64(n)
	if err == io.EOF && len(g.carry) > 0 {
		g.err = &UnusableError{File: g.name, Line: g.line, Reason: "is not valid UTF-8 text (a character cut short at the end)"}
		return n, g.err
	}
	return n, err
}

// stop fails the read at byte i of chunk, on the line of that byte. The
// chunk is not delivered: the file is unusable.
func (g *guard) stop(chunk []byte, i int, reason string) (int, error) {
	line := g.line + bytes.Count(chunk[:min(i, len(chunk))], []byte{'\n'})
	g.err = &UnusableError{File: g.name, Line: line, Reason: reason}
	return 0, g.err
}

// markRow records that a row ended at offset off: the size limit counts
// from there, and the newlines before it are no longer needed.
func (g *guard) markRow(off int64) {
	g.mark = off
	k := sort.Search(len(g.nls), func(i int) bool { return g.nls[i] >= off })
	if k > 4096 || (k > 0 && k == len(g.nls)) {
		g.pruned += k
		g.nls = append(g.nls[:0], g.nls[k:]...)
	}
}

// lineAt returns the 1-based line of byte offset off (not before the last
// markRow).
func (g *guard) lineAt(off int64) int {
	k := sort.Search(len(g.nls), func(i int) bool { return g.nls[i] >= off })
	return g.pruned + k + 1
}

// DetectFormat reads the start of a file until a row reveals its format
// (at most 1000 rows); FormatAuto when none does.
func DetectFormat(path string, opts ReadOptions) (Format, error) {
	r, err := Open(path, opts)
	if err != nil {
		return FormatAuto, err
	}
	defer r.Close()
	for i := 0; i < 1000 && r.Format() == FormatAuto; i++ {
		if _, _, err := r.Next(); err == io.EOF {
			break
		} else if err != nil {
			return FormatAuto, err
		}
	}
	return r.Format(), nil
}
