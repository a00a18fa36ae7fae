package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"hone/tensor"
)

// MaxHeaderBytes is the largest JSON header Open accepts (100 MiB). The
// reference implementation's limit is 100 MB; a real checkpoint's header is a
// few hundred kilobytes, so anything near the limit is a corrupt length.
const MaxHeaderBytes = 100 << 20

// metadataKey is the reserved header key that holds string-to-string metadata.
const metadataKey = "__metadata__"

// dtypeBits gives the element width in bits of every dtype the safetensors
// format defines. A file that uses any of them opens; only the ones hone's
// tensor package represents can be read as tensors.
var dtypeBits = map[string]int{
	"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
	"I16": 16, "U16": 16, "F16": 16, "BF16": 16,
	"I32": 32, "U32": 32, "F32": 32,
	"I64": 64, "U64": 64, "F64": 64,
	"F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}

// TensorInfo describes one tensor of a file as its header states it, without
// touching the tensor's data.
type TensorInfo struct {
	// DType is the element type as safetensors spells it ("BF16", "F32",
	// "BOOL", ...); it may name a type hone cannot read (see TensorDType).
	DType string
	// Shape is the tensor's shape; empty for a scalar.
	Shape []int
	// Begin and End are the byte offsets of the data within the data
	// section, which follows the header.
	Begin, End int64
}

// Bytes returns the size of the tensor's data in bytes.
func (ti TensorInfo) Bytes() int64 { return ti.End - ti.Begin }

// Numel returns the number of elements.
func (ti TensorInfo) Numel() int64 {
	n := int64(1)
	for _, d := range ti.Shape {
		n *= int64(d)
	}
	return n
}

// TensorDType returns the tensor package's dtype for the tensor, or an error
// when hone has no such element type (BOOL, I16, U16, U32, U64, the 8-bit
// and smaller floats).
func (ti TensorInfo) TensorDType() (tensor.DType, error) {
	dt, err := tensor.ParseDType(ti.DType)
	if err != nil || dt.Size()*8 != dtypeBits[ti.DType] {
		return 0, fmt.Errorf("unsupported dtype %s (hone reads %s)", ti.DType, supportedList())
	}
	return dt, nil
}

func supportedList() string {
	var s []string
	for name := range dtypeBits {
		if dt, err := tensor.ParseDType(name); err == nil && dt.Size()*8 == dtypeBits[name] {
			s = append(s, name)
		}
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

// header is a parsed and validated safetensors header.
type header struct {
	dataStart int64 // offset of the data section in the file: 8 + header length
	infos     map[string]TensorInfo
	names     []string // sorted
	meta      map[string]string
}

// parseHeader parses and validates the header of a safetensors file of which
// buf holds at least the first 8+N bytes; fileSize is the whole file's size.
// Every error is prefixed with name.
func parseHeader(name string, buf []byte, fileSize int64) (*header, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
	}
	if fileSize < 8 || len(buf) < 8 {
		return nil, fail("file is %d bytes, too short for the 8-byte header length", fileSize)
	}
	n := binary.LittleEndian.Uint64(buf)
	if n > MaxHeaderBytes {
		return nil, fail("header length %d exceeds the %d-byte limit (corrupt or not a safetensors file)", n, MaxHeaderBytes)
	}
	if int64(n) > fileSize-8 {
		return nil, fail("header length %d runs past the end of the %d-byte file (truncated?)", n, fileSize)
	}
	if uint64(len(buf)-8) < n {
		return nil, fail("header length %d but only %d header bytes available", n, len(buf)-8)
	}
	h := &header{dataStart: 8 + int64(n), infos: map[string]TensorInfo{}}
	dataLen := fileSize - h.dataStart
	js := buf[8 : 8+n]
	if !utf8.Valid(js) {
		return nil, fail("header is not valid UTF-8")
	}
	if t := bytes.TrimLeft(js, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, fail("header is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	if _, err := dec.Token(); err != nil {
		return nil, fail("header is not valid JSON: %v", err)
	}
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fail("header is not valid JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fail("header is not valid JSON: object key %v", tok)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fail("header is not valid JSON: value of %q: %v", key, err)
		}
		if key == metadataKey {
			if seenMeta {
				return nil, fail("%s appears twice in the header", metadataKey)
			}
			seenMeta = true
			if h.meta, err = parseMetadata(raw); err != nil {
				return nil, fail("%s: %v", metadataKey, err)
			}
			continue
		}
		if _, dup := h.infos[key]; dup {
			return nil, fail("tensor %q appears twice in the header", key)
		}
		ti, err := parseEntry(raw, dataLen)
		if err != nil {
			return nil, fail("tensor %q: %v", key, err)
		}
		h.infos[key] = ti
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fail("header is not valid JSON: %v", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, fail("header is not valid JSON after the object: %v", err)
		}
		return nil, fail("header has data after the JSON object: %v", tok)
	}
	if err := h.checkLayout(dataLen); err != nil {
		return nil, fail("%v", err)
	}
	return h, nil
}

func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	if string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errors.New("not a JSON object of strings")
	}
	meta := make(map[string]string, len(m))
	for k, v := range m {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("value of %q is %s, not a string", k, abbrev(v))
		}
		meta[k] = s
	}
	return meta, nil
}

// parseEntry parses {"dtype": ..., "shape": [...], "data_offsets": [b, e]}
// and checks it against a data section of dataLen bytes.
func parseEntry(raw json.RawMessage, dataLen int64) (TensorInfo, error) {
	var ti TensorInfo
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return ti, fmt.Errorf("entry is %s, not an object", abbrev(raw))
	}
	for _, k := range []string{"dtype", "shape", "data_offsets"} {
		if _, ok := m[k]; !ok {
			return ti, fmt.Errorf("missing %q", k)
		}
	}
	if err := json.Unmarshal(m["dtype"], &ti.DType); err != nil {
		return ti, fmt.Errorf("dtype is %s, not a string", abbrev(m["dtype"]))
	}
	bits, ok := dtypeBits[ti.DType]
	if !ok {
		return ti, fmt.Errorf("unknown dtype %q", ti.DType)
	}
	shape, err := intList(m["shape"], "shape")
	if err != nil {
		return ti, err
	}
	ti.Shape = make([]int, len(shape))
	numel, zero := uint64(1), false
	for i, d := range shape {
		if d < 0 {
			return ti, fmt.Errorf("shape %s has a negative dimension", fmtInts(shape))
		}
		if d > math.MaxInt {
			return ti, fmt.Errorf("shape %s is too large", fmtInts(shape))
		}
		ti.Shape[i] = int(d)
		zero = zero || d == 0
	}
	if zero {
		numel = 0
	} else {
		for _, d := range shape {
			if numel > math.MaxInt64/64/uint64(d) {
				return ti, fmt.Errorf("shape %s is too large", fmtInts(shape))
			}
			numel *= uint64(d)
		}
	}
	if numel*uint64(bits)%8 != 0 {
		return ti, fmt.Errorf("shape %s of %d-bit %s does not fill whole bytes", fmtInts(shape), bits, ti.DType)
	}
	need := int64(numel * uint64(bits) / 8)
	offs, err := intList(m["data_offsets"], "data_offsets")
	if err != nil {
		return ti, err
	}
	if len(offs) != 2 {
		return ti, fmt.Errorf("data_offsets %s must hold two numbers, [begin,end]", fmtInts(offs))
	}
	ti.Begin, ti.End = offs[0], offs[1]
	switch {
	case ti.Begin < 0 || ti.End < 0:
		return ti, fmt.Errorf("data_offsets %s are negative", fmtInts(offs))
	case ti.End < ti.Begin:
		return ti, fmt.Errorf("data_offsets %s run backwards", fmtInts(offs))
	case ti.End > dataLen:
		return ti, fmt.Errorf("data_offsets %s run past the %d-byte data section (truncated?)", fmtInts(offs), dataLen)
	case ti.End-ti.Begin != need:
		return ti, fmt.Errorf("data_offsets %s hold %d bytes, shape %s %s needs %d", fmtInts(offs), ti.End-ti.Begin, fmtInts(shape), ti.DType, need)
	}
	return ti, nil
}

// checkLayout sorts the names and checks that the tensors tile the data
// section exactly: no overlap, no unclaimed bytes (as the reference
// implementation requires).
func (h *header) checkLayout(dataLen int64) error {
	h.names = make([]string, 0, len(h.infos))
	for name := range h.infos {
		h.names = append(h.names, name)
	}
	slices.Sort(h.names)
	byOff := slices.Clone(h.names)
	slices.SortStableFunc(byOff, func(a, b string) int {
		ia, ib := h.infos[a], h.infos[b]
		if ia.Begin != ib.Begin {
			return cmpInt(ia.Begin, ib.Begin)
		}
		return cmpInt(ia.End, ib.End)
	})
	var end int64
	prev, havePrev := "", false
	for _, name := range byOff {
		ti := h.infos[name]
		if ti.Begin < end {
			p := h.infos[prev]
			return fmt.Errorf("tensor %q: data_offsets [%d,%d] overlap tensor %q [%d,%d]", name, ti.Begin, ti.End, prev, p.Begin, p.End)
		}
		if ti.Begin > end {
			return fmt.Errorf("data section bytes [%d,%d) belong to no tensor (before tensor %q)", end, ti.Begin, name)
		}
		if ti.End > ti.Begin || !havePrev {
			end, prev, havePrev = ti.End, name, true
		}
	}
	if end != dataLen {
		return fmt.Errorf("data section is %d bytes but the tensors end at %d (trailing bytes belong to no tensor)", dataLen, end)
	}
	return nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// intList parses a JSON array of integers, strictly: no fractions, exponents
// or quoted numbers.
func intList(raw json.RawMessage, what string) ([]int64, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return nil, fmt.Errorf("%s is %s, not an array of integers", what, abbrev(raw))
	}
	out := make([]int64, len(items))
	for i, it := range items {
		v, err := strconv.ParseInt(string(bytes.TrimSpace(it)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s[%d] is %s, not a 64-bit integer", what, i, abbrev(it))
		}
		out[i] = v
	}
	return out, nil
}

func fmtInts(v []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(x, 10))
	}
	b.WriteByte(']')
	return b.String()
}

func abbrev(raw []byte) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}
