package eval

import (
	"math"
	"slices"
	"testing"
)

func TestExactMatch(t *testing.T) {
	for _, c := range []struct {
		pred, ref string
		want      bool
	}{
		{" yes\n", "yes", true},
		{"yes", "Yes", false},
		{"yes.", "yes", false},
		{"", "  ", true},
	} {
		if got := ExactMatch(c.pred, c.ref); got != c.want {
			t.Errorf("ExactMatch(%q, %q) = %v, want %v", c.pred, c.ref, got, c.want)
		}
	}
}

func TestRougeL(t *testing.T) {
	for _, c := range []struct {
		pred, ref string
		want      float64
	}{
		// LCS 3 of 3 and 6 words: precision 1, recall 1/2, F1 2/3
		{"the cat sat", "the cat sat on the mat", 2.0 / 3},
		// a subsequence, not a substring: LCS "a b d" = 3 of 4 and 4
		{"a b c d", "a c b d", 0.75},
		// case and punctuation do not count
		{"Hello, World!", "hello world", 1},
		{"", "", 1},
		{"", "something", 0},
		{"x y", "z w", 0},
		// LCS 2 ("b c") of 3 and 5 words: precision 2/3, recall 2/5, F1 1/2
		{"a b c", "b x c y z", 0.5},
	} {
		if got := RougeL(c.pred, c.ref); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("RougeL(%q, %q) = %v, want %v", c.pred, c.ref, got, c.want)
		}
	}
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	v, err := ParseJSON(s)
	if err != nil {
		t.Fatalf("ParseJSON(%q): %v", s, err)
	}
	return v
}

func TestParseJSON(t *testing.T) {
	for _, s := range []string{`{"a": 1}`, " [1, 2]\n", `"x"`, `3.5`} {
		if _, err := ParseJSON(s); err != nil {
			t.Errorf("ParseJSON(%q): %v", s, err)
		}
	}
	for _, s := range []string{``, `{"a": 1} x`, `1 2`, `{"a": 1}{}`, `{"a":`, "```json\n{}\n```"} {
		if _, err := ParseJSON(s); err == nil {
			t.Errorf("ParseJSON(%q) accepted it", s)
		}
	}
}

func TestFieldAccuracy(t *testing.T) {
	ref := mustJSON(t, `{"name": "Ann", "age": 30, "tags": ["x", 1.0], "addr": {"city": "Oslo", "zip": 150}}`)
	for _, c := range []struct {
		pred  string
		match int
	}{
		// trimmed, case-insensitive strings; numbers by value, nested too
		{`{"name": " ann ", "age": 30.0, "tags": ["X", 1], "addr": {"zip": 1.5e2, "city": "oslo"}, "extra": true}`, 4},
		{`{"name": "Ann", "age": "30", "tags": ["x"], "addr": {"city": "Oslo"}}`, 1},
		{`{"name": "Bob", "age": 31, "tags": ["x", 1, 2], "addr": {"city": "Oslo", "zip": 150, "c": 1}}`, 0},
		{`["Ann", 30]`, 0},
		{`{}`, 0},
	} {
		m, n := FieldAccuracy(mustJSON(t, c.pred), ref)
		if m != c.match || n != 4 {
			t.Errorf("FieldAccuracy(%s) = %d of %d, want %d of 4", c.pred, m, n, c.match)
		}
	}
	// a prediction that is not JSON at all still counts the reference's fields
	if m, n := FieldAccuracy(nil, ref); m != 0 || n != 4 {
		t.Errorf("FieldAccuracy(nil) = %d of %d, want 0 of 4", m, n)
	}
	// a reference that is not an object has no fields
	if m, n := FieldAccuracy(ref, mustJSON(t, `[1]`)); m != 0 || n != 0 {
		t.Errorf("FieldAccuracy(array reference) = %d of %d, want 0 of 0", m, n)
	}
}

func TestScores(t *testing.T) {
	schema, err := CompileSchema([]byte(`{"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}`), "schema.json")
	if err != nil {
		t.Fatal(err)
	}
	s := Scores{ExpectJSON: true}
	ref := `{"a": 1, "b": "x"}`
	s.Add(`{"a": 1, "b": "X"}`, ref, schema)   // valid, fits the schema, 2 of 2 fields
	s.Add(`{"a": "1", "b": "x"}`, ref, schema) // valid, breaks the schema, 1 of 2
	s.Add(`{"a": 1,`, ref, schema)             // not JSON, 0 of 2
	s.Add(ref, ref, schema)                    // exact, 2 of 2
	want := map[string]float64{
		"json_valid":     3.0 / 4,
		"schema_valid":   2.0 / 4,
		"field_accuracy": 5.0 / 8,
		"exact_match":    1.0 / 4,
	}
	got := s.Rates()
	for k, w := range want {
		if math.Abs(got[k]-w) > 1e-12 {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	if r := got["rouge_l"]; r <= 0.25 || r >= 1 {
		t.Errorf("rouge_l = %v, want between the one exact match's share and 1", r)
	}
	names := MetricNames(got)
	if !slices.Equal(names, []string{"json_valid", "schema_valid", "field_accuracy", "exact_match", "rouge_l"}) {
		t.Errorf("MetricNames = %v", names)
	}
	// without JSON expected, only the text metrics apply
	plain := Scores{}
	plain.Add("a b", "a b", nil)
	if r := plain.Rates(); len(r) != 2 || r["exact_match"] != 1 || r["rouge_l"] != 1 {
		t.Errorf("text-only Rates = %v", r)
	}
}
