package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"unicode"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Schema is a compiled JSON Schema.
type Schema struct {
	s    *jsonschema.Schema
	Path string
}

// LoadSchema compiles the JSON Schema in path.
func LoadSchema(path string) (*Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return CompileSchema(data, path)
}

// CompileSchema compiles a JSON Schema document; name is used in errors.
func CompileSchema(data []byte, name string) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: not valid JSON: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	url := "file:///" + strings.TrimPrefix(name, "/")
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid JSON Schema: %w", name, err)
	}
	return &Schema{s: s, Path: name}, nil
}

// Validate reports whether text is JSON that satisfies the schema, with the
// first reason when it is not.
func (s *Schema) Validate(text string) error {
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	if err := s.s.Validate(v); err != nil {
		return err
	}
	return nil
}

// ValidateValue validates an already decoded JSON value.
func (s *Schema) ValidateValue(v any) error { return s.s.Validate(v) }

// ParseJSON decodes text as exactly one JSON value (surrounding white space
// allowed, nothing else).
func ParseJSON(text string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("text after the JSON value")
	}
	var rest any
	if err := dec.Decode(&rest); err == nil {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

// ExactMatch reports whether prediction equals reference after trimming
// surrounding white space.
func ExactMatch(pred, ref string) bool { return strings.TrimSpace(pred) == strings.TrimSpace(ref) }

// FieldAccuracy compares two JSON objects field by field: it returns how
// many of the reference's top-level fields the prediction has with an
// equal value (numbers compared by value, strings trimmed and
// case-insensitive, nested arrays and objects by the same rules), and how
// many fields the reference has. A prediction
// that is not an object matches nothing.
func FieldAccuracy(pred, ref any) (match, total int) {
	r, ok := ref.(map[string]any)
	if !ok {
		return 0, 0
	}
	p, _ := pred.(map[string]any)
	for k, rv := range r {
		total++
		if pv, ok := p[k]; ok && sameValue(pv, rv) {
			match++
		}
	}
	return match, total
}

// sameValue reports whether two decoded JSON values are equal as
// FieldAccuracy counts them: strings trimmed and case-insensitive, numbers
// by value, arrays element by element and objects key by key with the same
// rules all the way down.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && strings.EqualFold(strings.TrimSpace(x), strings.TrimSpace(y))
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		fa, ea := x.Float64()
		fb, eb := y.Float64()
		return ea == nil && eb == nil && fa == fb
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// words splits text into lower-case word and punctuation tokens for ROUGE.
func words(s string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			cur.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	return out
}

// RougeL returns the ROUGE-L F1 score of a prediction against a reference:
// the longest common subsequence of their words, as precision and recall.
func RougeL(pred, ref string) float64 {
	p, r := words(pred), words(ref)
	if len(p) == 0 || len(r) == 0 {
		if len(p) == len(r) {
			return 1
		}
		return 0
	}
	prev := make([]int, len(r)+1)
	cur := make([]int, len(r)+1)
	for i := 1; i <= len(p); i++ {
		for j := 1; j <= len(r); j++ {
			if p[i-1] == r[j-1] {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(prev[j], cur[j-1])
			}
		}
		prev, cur = cur, prev
	}
	lcs := float64(prev[len(r)])
	if lcs == 0 {
		return 0
	}
	prec, rec := lcs/float64(len(p)), lcs/float64(len(r))
	return 2 * prec * rec / (prec + rec)
}

// Scores accumulates the task metrics over a set of predictions.
type Scores struct {
	N           int     `json:"n"`
	Exact       int     `json:"exact_match"`
	JSONValid   int     `json:"json_valid"`
	SchemaValid int     `json:"schema_valid"`
	FieldsRight int     `json:"fields_right"`
	FieldsTotal int     `json:"fields_total"`
	RougeLSum   float64 `json:"rouge_l_sum"`
	HasSchema   bool    `json:"has_schema"`
	ExpectJSON  bool    `json:"expect_json"`
}

// Add scores one prediction against its reference.
func (s *Scores) Add(pred, ref string, schema *Schema) {
	s.N++
	if ExactMatch(pred, ref) {
		s.Exact++
	}
	s.RougeLSum += RougeL(pred, ref)
	if !s.ExpectJSON {
		return
	}
	pv, err := ParseJSON(pred)
	if err == nil {
		s.JSONValid++
		if schema != nil {
			s.HasSchema = true
			if v, err := jsonschema.UnmarshalJSON(strings.NewReader(pred)); err == nil && schema.ValidateValue(v) == nil {
				s.SchemaValid++
			}
		}
	} else if schema != nil {
		s.HasSchema = true
	}
	if rv, err := ParseJSON(ref); err == nil {
		m, t := FieldAccuracy(pv, rv)
		s.FieldsRight += m
		s.FieldsTotal += t
	}
}

func rate(a, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(a) / float64(n)
}

// Rates returns each metric as a fraction (ROUGE-L as its mean), keyed by
// name, only for the metrics that apply.
func (s *Scores) Rates() map[string]float64 {
	m := map[string]float64{
		"exact_match": rate(s.Exact, s.N),
		"rouge_l":     s.RougeLSum / float64(max(1, s.N)),
	}
	if s.ExpectJSON {
		m["json_valid"] = rate(s.JSONValid, s.N)
		m["field_accuracy"] = rate(s.FieldsRight, s.FieldsTotal)
	}
	if s.HasSchema {
		m["schema_valid"] = rate(s.SchemaValid, s.N)
	}
	return m
}

// MetricNames returns the keys of Rates in a stable display order.
func MetricNames(rates map[string]float64) []string {
	order := map[string]int{"json_valid": 0, "schema_valid": 1, "field_accuracy": 2, "exact_match": 3, "rouge_l": 4}
	var names []string
	for k := range rates {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
	return names
}
