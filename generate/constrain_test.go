package generate

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"hone/compute/cpu"
	"hone/internal/shared"
	"hone/model"
	"hone/tokenizer"
)

// validator compiles schema with the reference validator.
func validator(t testing.TB, schema string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		t.Fatalf("schema %s: %v", schema, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("mem:///s.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("mem:///s.json")
	if err != nil {
		t.Fatalf("schema %s: %v", schema, err)
	}
	return s
}

// validate reports why text is not one JSON value valid for s (nil: it is).
func validate(s *jsonschema.Schema, text string) error {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var probe any
	if err := dec.Decode(&probe); err != nil {
		return err
	}
	if dec.More() {
		return errTrailing
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

var errTrailing = &json.SyntaxError{}

// accepts feeds doc byte by byte and reports whether the automaton takes
// all of it and may end there.
func accepts(s *Schema, doc string) bool {
	var st state
	st.top = frame{kind: fRoot}
	st.push(frame{kind: fValue, node: s.root})
	for i := 0; i < len(doc); i++ {
		var ok bool
		if st, ok = st.step(doc[i]); !ok {
			return false
		}
	}
	return st.canEnd()
}

const personSchema = `{
  "type": "object",
  "properties": {
    "name": {"type": "string", "maxLength": 12, "minLength": 1},
    "age": {"type": "integer"},
    "score": {"type": "number"},
    "active": {"type": "boolean"},
    "kind": {"enum": ["a", "b\"c", 1, 12, null]},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "maxItems": 3, "minItems": 1},
    "nested": {"type": "object", "properties": {"x": {"type": ["string", "null"], "maxLength": 5}, "y": {"const": [1, {"b": 2}]}}, "required": ["x"], "additionalProperties": false},
    "ref": {"$ref": "#/$defs/pt"}
  },
  "required": ["name", "age", "nested"],
  "additionalProperties": false,
  "$defs": {"pt": {"type": "object", "properties": {"p": {"type": "integer"}}, "required": ["p"], "additionalProperties": false}}
}`

func TestConstraintDocuments(t *testing.T) {
	anyObj := `{"type": "object"}`
	open := `{"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": {"type": "string"}}`
	tree := `{"$defs": {"t": {"type": "object", "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/t"}}}, "required": ["v"], "additionalProperties": false}}, "$ref": "#/$defs/t"}`
	tests := []struct {
		schema, doc string
		want        bool
	}{
		{personSchema, `{"name":"bo","age":3,"nested":{"x":null}}`, true},
		{personSchema, `{ "age" : -12 , "nested" : { "x" : "hé" , "y":[1,{"b":2}] }, "name": "\u00e9\ud83d\ude00"}`, true},
		{personSchema, `{"name":"bo","age":3,"nested":{"x":"abcde"},"kind":12,"tags":["a","bcd"],"score":-0.5e+10,"active":false,"ref":{"p":0}}`, true},
		{personSchema, `{"name":"bo","age":3,"nested":{"x":"abcdef"}}`, false},        // maxLength
		{personSchema, `{"name":"","age":3,"nested":{"x":null}}`, false},              // minLength
		{personSchema, `{"name":"bo","age":3.5,"nested":{"x":null}}`, false},          // integer
		{personSchema, `{"name":"bo","nested":{"x":null}}`, false},                    // required
		{personSchema, `{"name":"bo","age":3,"nested":{"x":null},"zz":1}`, false},     // closed
		{personSchema, `{"name":"bo","name":"x","age":3,"nested":{"x":null}}`, false}, // repeated key
		{personSchema, `{"name":"bo","age":3,"nested":{"x":null},"kind":"b"}`, false}, // enum
		{personSchema, `{"name":"bo","age":3,"nested":{"x":null},"kind":"b\"c"}`, true},
		{personSchema, `{"name":"bo","age":3,"nested":{"x":null},"tags":[]}`, false},                // minItems
		{personSchema, `{"name":"bo","age":3,"nested":{"x":null},"tags":["a","b","c","d"]}`, false}, // maxItems
		{personSchema, `{"name":"\ude00","age":3,"nested":{"x":null}}`, false},                      // lone low surrogate
		{personSchema, `{"name":"\ud83dx","age":3,"nested":{"x":null}}`, false},                     // lone high surrogate
		{personSchema, "{\"name\":\"a\x01\",\"age\":3,\"nested\":{\"x\":null}}", false},             // control character
		{personSchema, "{\"name\":\"a\xff\",\"age\":3,\"nested\":{\"x\":null}}", false},             // invalid UTF-8
		{personSchema, `{"name":"bo","age":012,"nested":{"x":null}}`, false},                        // leading zero
		{personSchema, `{"name":"bo","age":3,"nested":{"x":null}} `, false},                         // trailing blank
		{anyObj, `{"a":[1,{"b":null}],"c":"\n","d":true}`, true},
		{anyObj, `[1]`, false},
		{open, `{"b":"x","a":1,"ab":"y"}`, true},
		{open, `{"a":"x"}`, false},      // a is an integer
		{open, `{"b":1}`, false},        // additional values are strings
		{open, `{"\u0061":"x"}`, false}, // no escapes in keys of an object with properties
		{tree, `{"v":1,"kids":[{"v":2},{"v":3,"kids":[]}]}`, true},
		{tree, `{"v":1,"kids":[{"kids":[]}]}`, false},
		{`{"type": "number"}`, `-0.25E-07`, true},
		{`{"type": "number"}`, `1e123`, false}, // exponent digits bounded
		{`{"type": "number"}`, `12345678901234567`, false},
		{`{"enum": [1, 12]}`, `1`, true},
		{`{"enum": [1, 12]}`, `12`, true},
		{`{"enum": [1, 12]}`, `2`, false},
		{`{"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "integer"}}]}`, `[1,2]`, true},
		{`{"type": ["integer", "null"]}`, `null`, true},
		{`{"type": "string"}`, "\"" + strings.Repeat(" ", 30) + "\"", true}, // blanks inside strings are content
		{`{"type": "array"}`, "[" + strings.Repeat(" ", maxGapWhitespace+1) + "]", false},
	}
	for _, tc := range tests {
		s, err := CompileSchema([]byte(tc.schema))
		if err != nil {
			t.Fatalf("CompileSchema(%s): %v", tc.schema, err)
		}
		if got := accepts(s, tc.doc); got != tc.want {
			t.Errorf("accepts(%.40s..., %s) = %v, want %v", tc.schema, tc.doc, got, tc.want)
		}
		if tc.want {
			if err := validate(validator(t, tc.schema), tc.doc); err != nil {
				t.Errorf("the validator rejects %s, which the automaton accepts: %v", tc.doc, err)
			}
		}
	}
	if !accepts(JSONObject(), `{"k": [true, "v", -1.5]}`) || accepts(JSONObject(), `"text"`) {
		t.Error("JSONObject must accept any object and only objects")
	}
}

func TestCompileSchemaErrors(t *testing.T) {
	tests := []struct{ schema, want string }{
		{`{"type": "string", "pattern": "a+"}`, "pattern"},
		{`{"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}}`, "properties.n"},
		{`{"anyOf": [{"type": "integer"}, {"type": "number"}]}`, "alternatives 0 and 1"},
		{`{"type": "object", "required": ["x"], "additionalProperties": false}`, `"x"`},
		{`{"$ref": "https://example.com/s.json"}`, "local"},
		{`{"$ref": "#/$defs/missing"}`, "missing"},
		{`{"type": "strung"}`, "strung"},
		{`{"type": "string", "minLength": 3, "maxLength": 2}`, "exceeds"},
		{`{"type": "array", "maxItems": -1}`, "maxItems"},
		{`false`, "admits no value"},
		{`{"type": "string"`, "not valid JSON"},
		{`{"allOf": []}`, "allOf"},
	}
	for _, tc := range tests {
		_, err := CompileSchema([]byte(tc.schema))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CompileSchema(%s) = %v, want an error mentioning %s", tc.schema, err, tc.want)
		}
	}
}

// byteVocab is every single byte as a token, some JSON-shaped merges, and
// an end-of-sequence token (the last id).
func byteVocab() ([][]byte, int32) {
	var toks [][]byte
	for b := 0; b < 256; b++ {
		toks = append(toks, []byte{byte(b)})
	}
	for _, s := range []string{`{"`, `"}`, `":`, `": "`, `",`, `", "`, `, "`, `},`, `}]`, `]}`, `[{"`, `true`, `false`, `null`,
		"\n  ", "\n", `\"`, `\u`, `\ud83d`, `\ude00`, `00`, `12`, `.5`, `e+`, `E-0`, `-1`, `name`, `age`, `"name": "`, `"age": `, `nested`,
		`"x": null}`, `kind`, `"a"`, `tags`, `["`, `"]`, `é`, "\xc3", "\xa9", "\xe2\x82", `ab`, `cd`, `hello world`, `score`, `active`, `ref`, `"p":`} {
		toks = append(toks, []byte(s))
	}
	toks = append(toks, nil) // EOS
	return toks, int32(len(toks) - 1)
}

// TestConstrainedRandomWalks walks the automaton by choosing uniformly among
// the allowed tokens: every reachable state must allow something (no dead
// ends), and every finished document must validate.
func TestConstrainedRandomWalks(t *testing.T) {
	toks, eos := byteVocab()
	v := NewVocabulary(toks, []int32{eos})
	schemas := []string{personSchema, `{"type": "object"}`, `{"type": "array", "items": {"enum": ["x", 1, true]}, "maxItems": 5}`,
		`{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": {"type": "boolean"}}`}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, src := range schemas {
		s, err := CompileSchema([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		val := validator(t, src)
		c := NewConstraint(s, v)
		finished := 0
		for walk := 0; walk < 300; walk++ {
			p := c.NewProcessor()
			var out []byte
			for step := 0; step < 400; step++ {
				m := p.Allowed()
				var allowed []int32
				for id := range toks {
					if m[id/64]&(1<<(id%64)) != 0 {
						allowed = append(allowed, int32(id))
					}
				}
				if len(allowed) == 0 {
					t.Fatalf("schema %.30s: dead end after %q", src, out)
				}
				// prefer ending and closing so walks finish
				id := allowed[rng.IntN(len(allowed))]
				if step > 200 && p.s.canEnd() {
					id = eos
				}
				if err := p.Accept(id); err != nil {
					t.Fatalf("Accept(%d) of an allowed token after %q: %v", id, out, err)
				}
				if id == eos {
					finished++
					if err := validate(val, string(out)); err != nil {
						t.Fatalf("schema %.30s: walk produced %q: %v", src, out, err)
					}
					break
				}
				out = append(out, toks[id]...)
			}
		}
		if finished == 0 {
			t.Errorf("schema %.30s: no walk finished", src)
		}
	}
}

// TestConstrainedGeneration: 1,000 generations sampled at temperature 1
// from a random tiny model under a schema are all valid JSON that
// validates.
func TestConstrainedGeneration(t *testing.T) {
	toks, eos := byteVocab()
	cfg := &model.Config{
		ModelType: "llama", Hidden: 16, Intermediate: 32, Layers: 1, Heads: 2, KVHeads: 1, HeadDim: 8,
		Vocab: len(toks), MaxPositions: 4096, RMSEps: 1e-5, BOS: 1, EOS: []int{int(eos)}, Pad: -1,
		Rope: model.Rope{Theta: 10000, Type: "default", Factor: 1},
	}
	m := model.New(cfg, model.Init(cfg, 0.4, 7))
	s, err := CompileSchema([]byte(personSchema))
	if err != nil {
		t.Fatal(err)
	}
	val := validator(t, personSchema)
	c := NewConstraint(s, NewVocabulary(toks, []int32{eos}))
	e := cpu.New(1)
	n := 1000
	if testing.Short() {
		n = 100
	}
	start := time.Now()
	total := 0
	for i := 0; i < n; i++ {
		p := c.NewProcessor()
		res, err := Generate(context.Background(), e, m, nil, []int32{int32(i % 200)}, Options{
			MaxTokens: 3000, Temperature: 1, Seed: uint64(i), StopTokens: []int32{eos}, Processors: []Processor{p},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		for _, id := range res.Tokens {
			out.Write(toks[id])
		}
		total += len(res.Tokens)
		if res.Reason != StopEOS {
			t.Fatalf("generation %d ran out of tokens: %q", i, out.String())
		}
		if err := validate(val, out.String()); err != nil {
			t.Fatalf("generation %d: %q does not validate: %v", i, out.String(), err)
		}
	}
	t.Logf("%d generations, %d tokens, %.1f µs/token", n, total, float64(time.Since(start).Microseconds())/float64(total))
}

func TestTokenBytes(t *testing.T) {
	for _, name := range []string{"llama3", "llama2", "trained-bytelevel"} {
		t.Run(name, func(t *testing.T) {
			dir := shared.Path(t, "tokenizers", name)
			tok, err := tokenizer.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			tb := TokenBytes(tok)
			for _, text := range []string{`{"name": "héllo wörld", "n": [1, 2.5e3]}`, "naïve 日本語 😀\n\ttabs"} {
				ids := tok.Encode(text, false)
				var got []byte
				for _, id := range ids {
					if tb[id] == nil {
						t.Fatalf("TokenBytes[%d] (%q) = nil", id, tok.Token(id))
					}
					got = append(got, tb[id]...)
				}
				if g := strings.TrimPrefix(string(got), " "); g != text {
					t.Errorf("concatenated token bytes = %q, want %q", g, text)
				}
			}
			for _, id := range []int32{0, 1, 2} {
				if tok.IsSpecial(id) && tb[id] != nil {
					t.Errorf("special token %d has bytes %q", id, tb[id])
				}
			}
		})
	}
}

// BenchmarkMask measures an uncached mask over a real 128k vocabulary in
// the worst state (inside a free string, where nearly every token fits).
func BenchmarkMask(b *testing.B) {
	tok, err := tokenizer.Load(shared.Path(b, "tokenizers", "llama3"))
	if err != nil {
		b.Fatal(err)
	}
	v := NewVocabulary(TokenBytes(tok), []int32{128001, 128009})
	s, _ := CompileSchema([]byte(personSchema))
	for _, tc := range []struct{ name, prefix string }{{"string", `{"name": "ab`}, {"key", `{"name": "ab", `}} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c := NewConstraint(s, v) // a fresh cache: every mask is computed
				p := c.NewProcessor()
				st := p.s
				for j := 0; j < len(tc.prefix); j++ {
					st, _ = st.step(tc.prefix[j])
				}
				p.s = st
				p.Allowed()
			}
		})
	}
}

func FuzzConstraint(f *testing.F) {
	f.Add([]byte(personSchema), []byte(`{"name":"bo","age":3,"nested":{"x":null}}`))
	f.Add([]byte(`{"type":"object"}`), []byte(`{"a":[1,"\u00e9"]}`))
	f.Add([]byte(`{"enum":[1,12,"x"]}`), []byte(`12`))
	f.Add([]byte(`{"anyOf":[{"type":"string"},{"type":"null"}]}`), []byte(`null`))
	f.Fuzz(func(t *testing.T, schema, doc []byte) {
		s, err := CompileSchema(schema)
		if err != nil {
			return
		}
		if !accepts(s, string(doc)) {
			return
		}
		if !json.Valid(doc) {
			t.Fatalf("schema %s: the automaton accepts invalid JSON %q", schema, doc)
		}
		doc2, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
		if err != nil {
			return
		}
		c := jsonschema.NewCompiler()
		if c.AddResource("mem:///s.json", doc2) != nil {
			return
		}
		vs, err := c.Compile("mem:///s.json")
		if err != nil {
			return
		}
		if err := validate(vs, string(doc)); err != nil {
			t.Fatalf("schema %s: the automaton accepts %q, which does not validate: %v", schema, doc, err)
		}
	})
}
