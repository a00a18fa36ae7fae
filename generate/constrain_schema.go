package generate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Schema is a compiled JSON Schema (the subset constrained decoding
// enforces), or the schema of any JSON object (JSONObject). It is immutable
// and safe for concurrent use.
type Schema struct {
	root  *node
	nodes int // how many nodes were made (their ids are 0..nodes-1)
}

type nodeKind uint8

const (
	kObject nodeKind = iota
	kArray
	kString
	kNumber
	kInteger
	kLiteral // enum, const, true/false/null
	kUnion   // anyOf, oneOf, a list of types, or any value
)

// node is one schema position of the automaton.
type node struct {
	id   int
	kind nodeKind
	path string

	// object
	props      []string // property names, sorted
	enc        []string // their JSON encodings without the quotes
	propNodes  []*node
	required   []bool
	nRequired  int
	additional *node // nil: additionalProperties false

	// array
	items              *node
	minItems, maxItems int // maxItems -1: unbounded

	// string
	minLen, maxLen int // maxLen -1: unbounded

	// literal: canonical JSON encodings, sorted
	lits []string

	// union: alternative by first byte (-1: none)
	alts  []*node
	first [256]int8
}

// maxNumberDigits bounds the integer and fraction parts of a generated
// number and maxExpDigits its exponent, as llama.cpp's JSON grammars do, so
// that every generated number parses into a float64 and a sampled number
// cannot grow forever.
const (
	maxNumberDigits = 16
	maxExpDigits    = 2
)

// annotations are the keywords that do not constrain a value; they are
// accepted and ignored.
var annotations = map[string]bool{
	"title": true, "description": true, "default": true, "examples": true, "$schema": true,
	"$id": true, "$comment": true, "format": true, "deprecated": true, "readOnly": true,
	"writeOnly": true, "$defs": true, "definitions": true, "contentMediaType": true,
	"contentEncoding": true, "$anchor": true,
}

// keywordsFor lists the constraining keywords each type supports.
var keywordsFor = map[string][]string{
	"object":  {"properties", "required", "additionalProperties"},
	"array":   {"items", "minItems", "maxItems"},
	"string":  {"minLength", "maxLength"},
	"number":  {},
	"integer": {},
	"boolean": {},
	"null":    {},
}

type compiler struct {
	doc  any
	refs map[string]*node
	n    int
	any  *node
}

func (c *compiler) newNode(kind nodeKind, path string) *node {
	n := &node{id: c.n, kind: kind, path: path, maxItems: -1, maxLen: -1}
	c.n++
	return n
}

// CompileSchema compiles a JSON Schema for constrained decoding. The subset
// enforced: type (one or a list), properties, required,
// additionalProperties (false, true or a schema), items, minItems,
// maxItems, minLength, maxLength, enum, const, anyOf and oneOf whose
// alternatives begin with different characters, and local $ref ("#",
// "#/$defs/...", "#/definitions/..."), recursion included. Annotations
// (title, description, format, ...) are ignored; any other keyword is an
// error naming its place in the schema, since output could not be
// guaranteed to validate.
func CompileSchema(data []byte) (*Schema, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("schema: not valid JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("schema: trailing data after the JSON value")
	}
	c := &compiler{doc: doc, refs: map[string]*node{}}
	c.any = c.anyNode()
	root, err := c.ref("#", "")
	if err != nil {
		return nil, err
	}
	return &Schema{root: root, nodes: c.n}, nil
}

// JSONObject returns the schema of any JSON object (OpenAI's
// response_format json_object).
func JSONObject() *Schema {
	c := &compiler{}
	c.any = c.anyNode()
	return &Schema{root: c.any.alts[0], nodes: c.n}
}

// anyNode builds the node of any JSON value: a union over an open object, an
// array, a string, a number and the literals.
func (c *compiler) anyNode() *node {
	u := c.newNode(kUnion, "")
	obj := c.newNode(kObject, "")
	obj.additional = u
	arr := c.newNode(kArray, "")
	arr.items = u
	str := c.newNode(kString, "")
	num := c.newNode(kNumber, "")
	lit := c.newNode(kLiteral, "")
	lit.lits = []string{"false", "null", "true"}
	u.alts = []*node{obj, arr, str, num, lit}
	if err := c.fillFirst(u); err != nil {
		panic(err) // the alternatives are disjoint by construction
	}
	return u
}

// ref compiles the schema at a local JSON pointer, once: a recursive
// reference gets the node under construction.
func (c *compiler) ref(ptr, path string) (*node, error) {
	if n, ok := c.refs[ptr]; ok {
		return n, nil
	}
	target, err := c.resolve(ptr)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", where(path), err)
	}
	n := c.newNode(kUnion, path)
	c.refs[ptr] = n
	got, err := c.compile(target, path)
	if err != nil {
		return nil, err
	}
	id := n.id
	*n = *got
	n.id = id
	return n, nil
}

func (c *compiler) resolve(ptr string) (any, error) {
	if ptr != "#" && !strings.HasPrefix(ptr, "#/") {
		return nil, fmt.Errorf("$ref %q: only local references (#/...) are supported", ptr)
	}
	v := c.doc
	if ptr == "#" {
		return v, nil
	}
	for _, tok := range strings.Split(ptr[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is not inside an object", ptr, tok)
		}
		if v, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q: no %q", ptr, tok)
		}
	}
	return v, nil
}

func where(path string) string {
	if path == "" {
		return "at the root"
	}
	return "at " + path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (c *compiler) compile(v any, path string) (*node, error) {
	switch s := v.(type) {
	case bool:
		if s {
			return c.any, nil
		}
		return nil, fmt.Errorf("schema %s: the schema false admits no value", where(path))
	case map[string]any:
		return c.compileMap(s, path)
	}
	return nil, fmt.Errorf("schema %s: a schema must be an object or a boolean, not %T", where(path), v)
}

func (c *compiler) compileMap(s map[string]any, path string) (*node, error) {
	constraining := func(skip ...string) []string {
		var ks []string
	next:
		for k := range s {
			if annotations[k] {
				continue
			}
			for _, sk := range skip {
				if k == sk {
					continue next
				}
			}
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	if r, ok := s["$ref"]; ok {
		rs, ok := r.(string)
		if !ok {
			return nil, fmt.Errorf("schema %s: $ref must be a string", where(path))
		}
		if extra := constraining("$ref"); len(extra) > 0 {
			return nil, fmt.Errorf("schema %s: keywords beside $ref are not supported: %s", where(path), strings.Join(extra, ", "))
		}
		return c.ref(rs, path)
	}
	if e, ok := s["enum"]; ok {
		list, ok := e.([]any)
		if !ok || len(list) == 0 {
			return nil, fmt.Errorf("schema %s: enum must be a non-empty array", where(join(path, "enum")))
		}
		return c.literal(list, constraining("enum", "type"), path)
	}
	if v, ok := s["const"]; ok {
		return c.literal([]any{v}, constraining("const", "type"), path)
	}
	for _, kw := range []string{"anyOf", "oneOf"} {
		a, ok := s[kw]
		if !ok {
			continue
		}
		if extra := constraining(kw); len(extra) > 0 {
			return nil, fmt.Errorf("schema %s: keywords beside %s are not supported: %s", where(path), kw, strings.Join(extra, ", "))
		}
		list, ok := a.([]any)
		if !ok || len(list) == 0 {
			return nil, fmt.Errorf("schema %s: %s must be a non-empty array", where(join(path, kw)), kw)
		}
		u := c.newNode(kUnion, path)
		for i, sub := range list {
			n, err := c.compile(sub, fmt.Sprintf("%s[%d]", join(path, kw), i))
			if err != nil {
				return nil, err
			}
			u.alts = append(u.alts, n)
		}
		return u, c.fillFirst(u)
	}
	var types []string
	switch t := s["type"].(type) {
	case nil:
		if _, has := s["type"]; has {
			return nil, fmt.Errorf("schema %s: type must be a string or an array of strings", where(join(path, "type")))
		}
		switch {
		case s["properties"] != nil || s["required"] != nil || s["additionalProperties"] != nil:
			types = []string{"object"}
		case s["items"] != nil || s["minItems"] != nil || s["maxItems"] != nil:
			types = []string{"array"}
		case s["minLength"] != nil || s["maxLength"] != nil:
			types = []string{"string"}
		default:
			if extra := constraining(); len(extra) > 0 {
				return nil, fmt.Errorf("schema %s: keyword %s is not supported by constrained decoding", where(path), extra[0])
			}
			return c.any, nil
		}
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			ts, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("schema %s: type must list strings", where(join(path, "type")))
			}
			types = append(types, ts)
		}
		if len(types) == 0 {
			return nil, fmt.Errorf("schema %s: type is an empty list", where(join(path, "type")))
		}
	default:
		return nil, fmt.Errorf("schema %s: type must be a string or an array of strings", where(join(path, "type")))
	}
	allowed := map[string]bool{"type": true}
	for _, t := range types {
		kws, ok := keywordsFor[t]
		if !ok {
			return nil, fmt.Errorf("schema %s: unknown type %q", where(join(path, "type")), t)
		}
		for _, k := range kws {
			allowed[k] = true
		}
	}
	for _, k := range constraining() {
		if !allowed[k] {
			return nil, fmt.Errorf("schema %s: keyword %s is not supported by constrained decoding (for type %s)", where(path), k, strings.Join(types, ", "))
		}
	}
	if len(types) == 1 {
		return c.typed(s, types[0], path)
	}
	u := c.newNode(kUnion, path)
	for _, t := range types {
		n, err := c.typed(s, t, path)
		if err != nil {
			return nil, err
		}
		u.alts = append(u.alts, n)
	}
	return u, c.fillFirst(u)
}

func (c *compiler) literal(list []any, extra []string, path string) (*node, error) {
	if len(extra) > 0 {
		return nil, fmt.Errorf("schema %s: keywords beside enum/const are not supported: %s", where(path), strings.Join(extra, ", "))
	}
	n := c.newNode(kLiteral, path)
	seen := map[string]bool{}
	for _, v := range list {
		enc, err := canonical(v)
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", where(path), err)
		}
		if !seen[enc] {
			seen[enc] = true
			n.lits = append(n.lits, enc)
		}
	}
	sort.Strings(n.lits)
	return n, nil
}

// canonical encodes v as compact JSON without HTML escaping (object keys
// sorted), the exact text a literal must be written as.
func canonical(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func count(s map[string]any, key, path string) (int, bool, error) {
	v, ok := s[key]
	if !ok {
		return 0, false, nil
	}
	num, isNum := v.(json.Number)
	if !isNum {
		return 0, false, fmt.Errorf("schema %s: must be a non-negative integer", where(join(path, key)))
	}
	n, err := strconv.Atoi(num.String())
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("schema %s: %s must be a non-negative integer", where(join(path, key)), num)
	}
	return n, true, nil
}

func (c *compiler) typed(s map[string]any, t, path string) (*node, error) {
	switch t {
	case "boolean", "null":
		n := c.newNode(kLiteral, path)
		n.lits = []string{"false", "true"}
		if t == "null" {
			n.lits = []string{"null"}
		}
		return n, nil
	case "number":
		return c.newNode(kNumber, path), nil
	case "integer":
		return c.newNode(kInteger, path), nil
	case "string":
		n := c.newNode(kString, path)
		var err error
		if n.minLen, _, err = count(s, "minLength", path); err != nil {
			return nil, err
		}
		if m, ok, err := count(s, "maxLength", path); err != nil {
			return nil, err
		} else if ok {
			n.maxLen = m
		}
		if n.maxLen >= 0 && n.minLen > n.maxLen {
			return nil, fmt.Errorf("schema %s: minLength %d exceeds maxLength %d", where(path), n.minLen, n.maxLen)
		}
		return n, nil
	case "array":
		n := c.newNode(kArray, path)
		var err error
		if n.minItems, _, err = count(s, "minItems", path); err != nil {
			return nil, err
		}
		if m, ok, err := count(s, "maxItems", path); err != nil {
			return nil, err
		} else if ok {
			n.maxItems = m
		}
		if n.maxItems >= 0 && n.minItems > n.maxItems {
			return nil, fmt.Errorf("schema %s: minItems %d exceeds maxItems %d", where(path), n.minItems, n.maxItems)
		}
		n.items = c.any
		if it, ok := s["items"]; ok {
			if n.items, err = c.compile(it, join(path, "items")); err != nil {
				return nil, err
			}
		}
		return n, nil
	}
	// object
	n := c.newNode(kObject, path)
	n.additional = c.any
	if ap, ok := s["additionalProperties"]; ok {
		if b, isBool := ap.(bool); isBool && !b {
			n.additional = nil
		} else {
			var err error
			if n.additional, err = c.compile(ap, join(path, "additionalProperties")); err != nil {
				return nil, err
			}
		}
	}
	props := map[string]any{}
	if p, ok := s["properties"]; ok {
		if props, ok = p.(map[string]any); !ok {
			return nil, fmt.Errorf("schema %s: properties must be an object", where(join(path, "properties")))
		}
	}
	req := map[string]bool{}
	if r, ok := s["required"]; ok {
		list, ok := r.([]any)
		if !ok {
			return nil, fmt.Errorf("schema %s: required must be an array of strings", where(join(path, "required")))
		}
		for _, x := range list {
			name, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("schema %s: required must be an array of strings", where(join(path, "required")))
			}
			req[name] = true
			if _, ok := props[name]; !ok {
				if n.additional == nil {
					return nil, fmt.Errorf("schema %s: required property %q is not in properties and additionalProperties is false", where(path), name)
				}
				props[name] = nil // validated by additionalProperties
			}
		}
	}
	for name := range props {
		n.props = append(n.props, name)
	}
	sort.Strings(n.props)
	for _, name := range n.props {
		enc, _ := canonical(name)
		n.enc = append(n.enc, enc[1:len(enc)-1])
		sub := n.additional
		if props[name] != nil {
			var err error
			if sub, err = c.compile(props[name], join(join(path, "properties"), name)); err != nil {
				return nil, err
			}
		}
		n.propNodes = append(n.propNodes, sub)
		n.required = append(n.required, req[name])
		if req[name] {
			n.nRequired++
		}
	}
	return n, nil
}

// firstBytes adds the bytes a value of n can begin with.
func firstBytes(n *node, set *[256]bool, depth int) {
	if depth > 64 {
		return
	}
	switch n.kind {
	case kObject:
		set['{'] = true
	case kArray:
		set['['] = true
	case kString:
		set['"'] = true
	case kNumber, kInteger:
		set['-'] = true
		for c := '0'; c <= '9'; c++ {
			set[c] = true
		}
	case kLiteral:
		for _, l := range n.lits {
			set[l[0]] = true
		}
	case kUnion:
		for _, a := range n.alts {
			firstBytes(a, set, depth+1)
		}
	}
}

// fillFirst builds a union's first-byte table; alternatives that could
// begin with the same character are an error (the automaton is
// deterministic).
func (c *compiler) fillFirst(u *node) error {
	for i := range u.first {
		u.first[i] = -1
	}
	for i, a := range u.alts {
		var set [256]bool
		firstBytes(a, &set, 0)
		for b, ok := range set {
			if !ok {
				continue
			}
			if j := u.first[b]; j >= 0 {
				return fmt.Errorf("schema %s: alternatives %d and %d can both begin with %q; constrained decoding needs alternatives of different types", where(u.path), j, i, rune(b))
			}
			u.first[b] = int8(i)
		}
	}
	return nil
}
