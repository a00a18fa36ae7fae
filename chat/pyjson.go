package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ardanlabs/jinja"
)

// decodeOrdered decodes one JSON document into a template value, keeping the
// key order of every object (Python dicts are ordered, and chat templates
// print tool schemas with tojson, so key order reaches the prompt). Integers
// stay integers and numbers with a fraction or exponent become floats, as in
// Python's json.loads.
func decodeOrdered(data []byte) (jinja.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return jinja.Undefined(), err
	}
	if _, err := dec.Token(); err != io.EOF {
		return jinja.Undefined(), errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (jinja.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return jinja.Undefined(), err
	}
	switch t := tok.(type) {
	case nil:
		return jinja.None(), nil
	case bool:
		return jinja.NewBool(t), nil
	case string:
		return jinja.NewString(t), nil
	case json.Number:
		return numberValue(t)
	case json.Delim:
		switch t {
		case '[':
			items := []jinja.Value{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return jinja.Undefined(), err
				}
				items = append(items, v)
			}
			if _, err := dec.Token(); err != nil {
				return jinja.Undefined(), err
			}
			return jinja.NewList(items), nil
		case '{':
			d := jinja.NewDict()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return jinja.Undefined(), err
				}
				k, ok := kt.(string)
				if !ok {
					return jinja.Undefined(), fmt.Errorf("object key %v is not a string", kt)
				}
				v, err := decodeValue(dec)
				if err != nil {
					return jinja.Undefined(), err
				}
				d.AsDict().Set(k, v)
			}
			if _, err := dec.Token(); err != nil {
				return jinja.Undefined(), err
			}
			return d, nil
		}
	}
	return jinja.Undefined(), fmt.Errorf("unexpected JSON token %v", tok)
}

// numberValue converts a JSON number the way Python's json module does:
// integers (no '.', 'e' or 'E') stay integers, everything else is a float.
func numberValue(n json.Number) (jinja.Value, error) {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return jinja.NewInt(i), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return jinja.Undefined(), fmt.Errorf("number %s: %w", s, err)
	}
	return jinja.NewFloat(f), nil
}

// toValue converts a Go value to a template value. json.RawMessage and
// []byte are decoded as JSON with key order kept; jinja.Value passes through;
// anything else is marshalled with encoding/json and decoded again, so
// structs keep their field order and maps get encoding/json's sorted keys.
func toValue(v any) (jinja.Value, error) {
	switch t := v.(type) {
	case jinja.Value:
		return t, nil
	case json.RawMessage:
		return decodeOrdered(t)
	case []byte:
		return decodeOrdered(t)
	case nil:
		return jinja.None(), nil
	case string:
		return jinja.NewString(t), nil
	case bool:
		return jinja.NewBool(t), nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return jinja.Undefined(), err
	}
	return decodeOrdered(data)
}

// pyDumps encodes v as Python's json.dumps(v, ensure_ascii=ensureASCII,
// indent=indent, separators=(itemSep, keySep), sort_keys=sortKeys) does.
// indent < 0 means None. Hugging Face's tojson filter is json.dumps with
// ensure_ascii=False.
type pyDumps struct {
	ensureASCII bool
	indent      string // "" with hasIndent false means no indentation
	hasIndent   bool
	itemSep     string
	keySep      string
	sortKeys    bool
}

func (p *pyDumps) encode(sb *strings.Builder, v jinja.Value, depth int) error {
	if depth > 1000 {
		return errors.New("tojson: value nested too deeply")
	}
	if sb.Len() > maxOutput {
		return fmt.Errorf("tojson: %w", errOutput)
	}
	switch {
	case v.IsUndefined(), v.IsNone():
		sb.WriteString("null")
	case v.IsBool():
		if v.AsBool() {
			sb.WriteString("true")
		} else {
			sb.WriteString("false")
		}
	case v.IsInt():
		sb.WriteString(strconv.FormatInt(v.AsInt(), 10))
	case v.IsFloat():
		f := v.AsFloat()
		switch {
		case math.IsNaN(f):
			sb.WriteString("NaN")
		case math.IsInf(f, 1):
			sb.WriteString("Infinity")
		case math.IsInf(f, -1):
			sb.WriteString("-Infinity")
		default:
			sb.WriteString(pyFloatRepr(f))
		}
	case v.IsString():
		pyQuote(sb, v.AsString(), p.ensureASCII)
	case v.IsList():
		items := v.AsList().Items
		if len(items) == 0 {
			sb.WriteString("[]")
			return nil
		}
		sb.WriteByte('[')
		for i, it := range items {
			if i > 0 {
				sb.WriteString(p.itemSep)
			}
			p.newline(sb, depth+1)
			if err := p.encode(sb, it, depth+1); err != nil {
				return err
			}
		}
		p.newline(sb, depth)
		sb.WriteByte(']')
	case v.IsDict():
		d := v.AsDict()
		if d.Len() == 0 {
			sb.WriteString("{}")
			return nil
		}
		keys := d.OrderedKeys()
		if p.sortKeys {
			sort.Strings(keys)
		}
		sb.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				sb.WriteString(p.itemSep)
			}
			p.newline(sb, depth+1)
			pyQuote(sb, k, p.ensureASCII)
			sb.WriteString(p.keySep)
			val, _ := d.Get(k)
			if err := p.encode(sb, val, depth+1); err != nil {
				return err
			}
		}
		p.newline(sb, depth)
		sb.WriteByte('}')
	default:
		return fmt.Errorf("tojson: object of kind %s is not JSON serializable", safeString(v))
	}
	return nil
}

func (p *pyDumps) newline(sb *strings.Builder, depth int) {
	if !p.hasIndent {
		return
	}
	sb.WriteByte('\n')
	for range depth {
		sb.WriteString(p.indent)
	}
}

// pyFloatRepr formats f as Python's repr(float): the shortest digits that
// round-trip, in fixed notation with at least one fractional digit when
// 1e-4 <= |f| < 1e16, otherwise as d.ddde+XX.
func pyFloatRepr(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddddde±XX
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	var out string
	if exp >= -4 && exp < 16 {
		if exp < 0 {
			out = "0." + strings.Repeat("0", -exp-1) + digits
		} else if len(digits) <= exp+1 {
			out = digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
		} else {
			out = digits[:exp+1] + "." + digits[exp+1:]
		}
	} else {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		sign := "+"
		if exp < 0 {
			sign = "-"
			exp = -exp
		}
		out = fmt.Sprintf("%se%s%02d", m, sign, exp)
	}
	if neg {
		out = "-" + out
	}
	return out
}

const hexDigits = "0123456789abcdef"

// pyQuote writes s as a JSON string the way Python's json module does:
// only '"', '\\' and control characters are escaped (\n, \r, \t, \b, \f by
// name, the rest as \u00xx); with ensureASCII every non-ASCII character is
// written as \uxxxx (surrogate pairs above U+FFFF). Invalid UTF-8 bytes are
// written as U+FFFD, since a Python str cannot hold them.
func pyQuote(sb *strings.Builder, s string, ensureASCII bool) {
	sb.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			sb.WriteString(`\"`)
		case '\\':
			sb.WriteString(`\\`)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		case '\b':
			sb.WriteString(`\b`)
		case '\f':
			sb.WriteString(`\f`)
		default:
			switch {
			case r < 0x20:
				writeU(sb, r)
			case r < utf8.RuneSelf || !ensureASCII:
				sb.WriteRune(r)
			case r > 0xFFFF:
				r -= 0x10000
				writeU(sb, 0xD800+(r>>10))
				writeU(sb, 0xDC00+(r&0x3FF))
			default:
				writeU(sb, r)
			}
		}
	}
	sb.WriteByte('"')
}

func writeU(sb *strings.Builder, r rune) {
	sb.WriteString(`\u`)
	sb.WriteByte(hexDigits[(r>>12)&0xF])
	sb.WriteByte(hexDigits[(r>>8)&0xF])
	sb.WriteByte(hexDigits[(r>>4)&0xF])
	sb.WriteByte(hexDigits[r&0xF])
}

// filterToJSON is the tojson filter of transformers' chat-template
// environment: json.dumps(x, ensure_ascii=False, indent=indent,
// separators=separators, sort_keys=sort_keys). Positional indent is
// accepted as in the Python signature tojson(x, ensure_ascii, indent,
// separators, sort_keys).
//
// The output is bounded like a rendering's (maxOutput), and the indent to
// maxIndent characters.
func filterToJSON(args []jinja.Value, kwargs map[string]jinja.Value) (jinja.Value, error) {
	if len(args) == 0 {
		return jinja.Undefined(), errors.New("tojson: missing value")
	}
	p := pyDumps{itemSep: ", ", keySep: ": "}
	get := func(pos int, name string) (jinja.Value, bool) {
		if v, ok := kwargs[name]; ok {
			return v, true
		}
		if pos < len(args) {
			return args[pos], true
		}
		return jinja.Undefined(), false
	}
	if v, ok := get(1, "ensure_ascii"); ok {
		p.ensureASCII = v.IsTruthy()
	}
	if v, ok := get(2, "indent"); ok && !v.IsNone() && !v.IsUndefined() {
		p.hasIndent = true
		p.itemSep = ","
		switch {
		case v.IsInt():
			if v.AsInt() > maxIndent {
				return jinja.Undefined(), fmt.Errorf("tojson: indent %d is longer than %d: %w", v.AsInt(), maxIndent, ErrLimit)
			}
			p.indent = strings.Repeat(" ", max(0, int(v.AsInt())))
		case v.IsString():
			if len(v.AsString()) > maxIndent {
				return jinja.Undefined(), fmt.Errorf("tojson: an indent of %d bytes is longer than %d: %w", len(v.AsString()), maxIndent, ErrLimit)
			}
			p.indent = v.AsString()
		default:
			return jinja.Undefined(), fmt.Errorf("tojson: indent must be an integer or a string, not %s", safeString(v))
		}
	}
	if v, ok := get(3, "separators"); ok && !v.IsNone() && !v.IsUndefined() {
		if !v.IsList() || v.AsList().Len() != 2 || !v.AsList().Get(0).IsString() || !v.AsList().Get(1).IsString() {
			return jinja.Undefined(), errors.New("tojson: separators must be a pair of strings")
		}
		p.itemSep = v.AsList().Get(0).AsString()
		p.keySep = v.AsList().Get(1).AsString()
	}
	if v, ok := get(4, "sort_keys"); ok {
		p.sortKeys = v.IsTruthy()
	}
	var sb strings.Builder
	if err := p.encode(&sb, args[0], 0); err != nil {
		return jinja.Undefined(), err
	}
	return jinja.NewString(sb.String()), nil
}
