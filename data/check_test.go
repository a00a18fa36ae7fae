package data

import (
	"fmt"
	"strings"
	"testing"
)

// problemList writes problems as "file:line kind [other_line]".
func problemList(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		s := fmt.Sprintf("%s:%d %s", p.File[strings.LastIndex(p.File, "/")+1:], p.Line, p.Kind)
		if p.OtherLine > 0 {
			s += fmt.Sprintf(" %s:%d", p.OtherFile[strings.LastIndex(p.OtherFile, "/")+1:], p.OtherLine)
		}
		out = append(out, s)
	}
	return out
}

// TestCheckDoctor checks the fixture that has one bad line of each kind.
func TestCheckDoctor(t *testing.T) {
	tok, tmpl, _ := sharedTokenizer(t, "qwen3")
	schema, err := LoadSchema("testdata/doctor/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := CheckFiles([]string{"testdata/doctor/train.jsonl"}, []string{"testdata/doctor/val.jsonl"},
		CheckOptions{Template: tmpl, Tokenizer: tok, MaxLen: 128, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"train.jsonl:2 malformed-json",
		"train.jsonl:3 empty-field",
		"train.jsonl:4 missing-field",
		"train.jsonl:5 unknown-role",
		"train.jsonl:6 no-assistant-end",
		"train.jsonl:7 duplicate train.jsonl:1",
		"train.jsonl:9 near-duplicate train.jsonl:8",
		"train.jsonl:10 conflict train.jsonl:1",
		"train.jsonl:11 too-long",
		"train.jsonl:12 untrained",
		"train.jsonl:13 render",
		"train.jsonl:14 invalid-json",
		"train.jsonl:15 schema-violation",
		"train.jsonl:16 unknown-format",
		"val.jsonl:2 overlap train.jsonl:17",
	}
	got := problemList(rep.Problems)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("CheckFiles(doctor) problems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		for _, p := range rep.Problems {
			t.Log(p)
		}
	}
	if rep.Clean() {
		t.Errorf("Report.Clean() = true, want false")
	}
	f := rep.Files[0]
	if f.Rows != 17 || f.Format != FormatChat || f.Container != ContainerJSONL || f.Problems != 14 {
		t.Errorf("file report = %+v, want 17 rows of chat JSONL with 14 problems", f)
	}
	// Statistics cover the examples that render and fit: 1, 7, 8, 9,
	// 10, 14, 15, 17 (duplicates still train, so they count).
	st := rep.Train
	if !st.Tokenized || st.Examples != 8 || st.Total.N != 8 || st.TrainedTokens <= 0 || st.TrainedTokens >= st.Tokens {
		t.Errorf("train stats = %+v, want 8 tokenized examples, some tokens trained", st)
	}
	if share := float64(st.TrainedTokens) / float64(st.Tokens); share != st.TrainedShare {
		t.Errorf("TrainedShare = %v, want %v", st.TrainedShare, share)
	}
}

func TestCheckWithoutTokenizer(t *testing.T) {
	content := strings.Join([]string{
		`{"instruction":"Add 2 and 3.","output":"5"}`,
		`{"instruction":"add 2 and 3","output":"5."}`,
		`{"instruction":"Add 2 and 3.","output":"6"}`,
		`{"instruction":"Add 2 and 3.","input":"carefully","output":"5"}`,
	}, "\n")
	c := NewChecker(CheckOptions{})
	if _, err := c.CheckReader(strings.NewReader(content), "a.jsonl", false); err != nil {
		t.Fatal(err)
	}
	rep := c.Report()
	want := []string{"a.jsonl:2 duplicate a.jsonl:1", "a.jsonl:3 conflict a.jsonl:1"}
	if got := problemList(rep.Problems); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("check(alpaca) = %v, want %v", got, want)
	}
	if rep.Train.Tokenized || rep.Train.Examples != 4 {
		t.Errorf("stats = %+v, want 4 examples, not tokenized", rep.Train)
	}
}

func TestCheckExpectJSON(t *testing.T) {
	tests := []struct {
		target string
		kind   Kind
	}{
		{`{"a": 1}`, ""},
		{` [1, 2] `, ""},
		{`{"a": 1} trailing`, KindInvalidJSON},
		{`{"a": }`, KindInvalidJSON},
		{`plain words`, KindInvalidJSON},
	}
	for _, tc := range tests {
		kind, msg := checkJSON(tc.target, nil)
		if kind != tc.kind {
			t.Errorf("checkJSON(%q) = %s %q, want %q", tc.target, kind, msg, tc.kind)
		}
	}
	schema, err := CompileSchema([]byte(`{"type":"object","required":["name","age"],"properties":{"age":{"type":"integer","minimum":0}}}`), "s.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target string
		kind   Kind
		msg    string
	}{
		{`{"name":"Bo","age":7}`, "", ""},
		{`{"name":"Bo","age":-1}`, KindSchemaViolation, "at /age"},
		{`{"name":"Bo"}`, KindSchemaViolation, "age"},
		{`"Bo"`, KindSchemaViolation, "object"},
	} {
		kind, msg := checkJSON(tc.target, schema)
		if kind != tc.kind || !strings.Contains(msg, tc.msg) {
			t.Errorf("checkJSON(%q, schema) = %s %q, want %q containing %q", tc.target, kind, msg, tc.kind, tc.msg)
		}
	}
	if _, err := CompileSchema([]byte(`{"type": 5}`), "bad.json"); err == nil {
		t.Errorf("CompileSchema(type 5) = nil error, want one")
	}
}

func TestCheckUnusableFile(t *testing.T) {
	c := NewChecker(CheckOptions{})
	// Rows first (more than the reader buffers at once), binary after.
	var b strings.Builder
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&b, "{\"text\":\"row number %d of the file\"}\n", i)
	}
	b.WriteString("\x00\x00binary")
	fr, err := c.CheckReader(strings.NewReader(b.String()), "b.jsonl", false)
	if err != nil {
		t.Fatal(err)
	}
	rep := c.Report()
	if fr.Unusable == "" || rep.Unusable != 1 || len(rep.Problems) != 0 || rep.Clean() {
		t.Errorf("check(binary) = %+v, report %+v, want unusable and no problems", fr, rep)
	}
	// The rows read before the damage are forgotten: a later file with the
	// same row has no duplicate.
	if _, err := c.CheckReader(strings.NewReader("{\"text\":\"row number 0 of the file\"}\n"), "c.jsonl", false); err != nil {
		t.Fatal(err)
	}
	if rep := c.Report(); len(rep.Problems) != 0 || len(rep.Kinds) != 0 {
		t.Errorf("check after an unusable file = %v, want no problems", rep.Problems)
	}
}

func TestNearDuplicates(t *testing.T) {
	base := strings.Fields("the quick brown fox jumps over the lazy dog while the farmer feeds the hens and counts the eggs in the barn before the storm arrives from the hills")
	variant := func(change map[int]string) string {
		w := append([]string(nil), base...)
		for i, s := range change {
			w[i] = s
		}
		return strings.Join(w, " ")
	}
	var a, b [numHashes]uint32
	tests := []struct {
		name string
		text string
		near bool
	}{
		{"same", variant(nil), true},
		{"one word", variant(map[int]string{20: "chickens"}), true},
		{"many words", variant(map[int]string{1: "slow", 4: "walks", 8: "cat", 12: "eats", 16: "rice", 20: "milk", 24: "house", 28: "rain"}), false},
		{"unrelated", "a completely different sentence about compilers and register allocation in modern optimising toolchains", false},
	}
	signature(Normalize(variant(nil)), &a)
	for _, tc := range tests {
		if !signature(Normalize(tc.text), &b) {
			t.Fatalf("signature(%s) = too short", tc.name)
		}
		s := similarity(short(&a, nil), short(&b, nil))
		if (s >= 0.7) != tc.near {
			t.Errorf("similarity(%s) = %.2f, want near %v", tc.name, s, tc.near)
		}
	}
	if signature("too short", &b) {
		t.Errorf("signature(2 words) = comparable, want too short")
	}
}

// TestSimilarityEstimate compares the MinHash estimate with the true
// Jaccard similarity of the word 3-shingles over pairs from identical to
// unrelated.
func TestSimilarityEstimate(t *testing.T) {
	words := func(seed, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("w%d", (seed*7919+i*104729)%100003)
		}
		return out
	}
	shingles := func(ws []string) map[string]bool {
		m := map[string]bool{}
		for i := 0; i+shingleN <= len(ws); i++ {
			m[strings.Join(ws[i:i+shingleN], " ")] = true
		}
		return m
	}
	var sumErr float64
	pairs := 0
	for seed := 1; seed <= 20; seed++ {
		base := words(seed, 80)
		for k := 0; k <= 40; k += 4 {
			other := append([]string(nil), base...)
			for j := 0; j < k; j++ {
				other[(j*37+seed)%len(other)] = fmt.Sprintf("x%d_%d", seed, j)
			}
			sa, sb := shingles(base), shingles(other)
			inter := 0
			for s := range sa {
				if sb[s] {
					inter++
				}
			}
			truth := float64(inter) / float64(len(sa)+len(sb)-inter)
			var a, b [numHashes]uint32
			signature(strings.Join(base, " "), &a)
			signature(strings.Join(other, " "), &b)
			est := similarity(short(&a, nil), short(&b, nil))
			if d := est - truth; d > 0.16 || d < -0.16 {
				t.Errorf("similarity(seed %d, %d words changed) = %.3f, true Jaccard %.3f", seed, k, est, truth)
			}
			if est < 0 || est > 1 {
				t.Errorf("similarity = %v, outside [0, 1]", est)
			}
			sumErr += max(est-truth, truth-est)
			pairs++
		}
	}
	if mean := sumErr / float64(pairs); mean > 0.04 {
		t.Errorf("mean absolute error of the similarity estimate = %.3f over %d pairs, want <= 0.04", mean, pairs)
	}
}
