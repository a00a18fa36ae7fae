package plan

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hone/model"
)

// TestAdviseMatrix covers every row of the decision matrix alone, the
// combined case, and no requirement at all.
func TestAdviseMatrix(t *testing.T) {
	for _, q := range Questions {
		var r Requirements
		*q.Field(&r) = true
		a := Advise(r, "org/m")
		want := q.Points
		if a.Approach != want || len(a.Reasons) == 0 || a.Reasons[0] != q.Reason {
			t.Errorf("Advise(%s only) = %s %q, want %s with the row's reason", q.Key, a.Approach, a.Reasons, want)
		}
		if (want == FineTune) != (len(a.Next) > 0) {
			t.Errorf("Advise(%s only).Next = %q: want next commands exactly for fine-tuning", q.Key, a.Next)
		}
	}
	cases := []struct {
		name string
		r    Requirements
		want Approach
		text string
	}{
		{"knowledge and format", Requirements{NewKnowledge: true, Format: true}, Both, "you need both"},
		{"changing facts, tone, latency", Requirements{ChangingFacts: true, Tone: true, Latency: true}, Both, "retrieve the facts"},
		{"everything", Requirements{true, true, true, true, true, true, true, true, 0}, Both, "you need both"},
		{"all knowledge rows", Requirements{NewKnowledge: true, ChangingFacts: true, RealTime: true}, RAG, "nothing asks for new behaviour"},
		{"all behaviour rows", Requirements{Format: true, Style: true, Tone: true, Vocabulary: true, Latency: true}, FineTune, "house style"},
		{"nothing", Requirements{}, Prompting, "start with prompting"},
		{"few examples", Requirements{Style: true, Examples: 20}, FineTune, "only 20 examples"},
	}
	for _, c := range cases {
		a := Advise(c.r, "org/m")
		if a.Approach != c.want || !strings.Contains(strings.Join(a.Reasons, " "), c.text) {
			t.Errorf("Advise(%s) = %s %q, want %s mentioning %q", c.name, a.Approach, a.Reasons, c.want, c.text)
		}
		if c.want == Both && !strings.Contains(strings.Join(a.Next, "\n"), "hone plan --model org/m") {
			t.Errorf("Advise(%s).Next = %q, want hone plan for the model", c.name, a.Next)
		}
	}
}

func TestQuestionsComplete(t *testing.T) {
	// Every boolean of Requirements has one question, and keys are unique.
	var r Requirements
	seen := map[*bool]bool{}
	for _, q := range Questions {
		p := q.Field(&r)
		if seen[p] {
			t.Errorf("question %s shares its field", q.Key)
		}
		seen[p] = true
		if !strings.HasSuffix(q.Prompt, "?") || q.Reason == "" || (q.Points != RAG && q.Points != FineTune) {
			t.Errorf("question %s is incomplete: %+v", q.Key, q)
		}
	}
	if len(seen) != 8 {
		t.Errorf("%d questions, want 8 (3 knowledge rows, 5 behaviour rows)", len(seen))
	}
}

func TestLoadRequirements(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	r, err := LoadRequirements(write("ok.yaml", "new_knowledge: true\nformat: true\nexamples: 500\n"))
	if err != nil || !r.NewKnowledge || !r.Format || r.Tone || r.Examples != 500 {
		t.Errorf("LoadRequirements(ok) = %+v, %v", r, err)
	}
	bad := []struct{ name, body, want string }{
		{"unknown.yaml", "new_knowledge: true\nfreshness: true\n", "freshness"},
		{"type.yaml", "tone: [1]\n", "tone"},
		{"neg.yaml", "examples: -3\n", "examples"},
	}
	for _, c := range bad {
		p := write(c.name, c.body)
		if _, err := LoadRequirements(p); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("LoadRequirements(%s) = %v, want an error naming the file and %q", c.name, err, c.want)
		}
	}
}

func TestFamilies(t *testing.T) {
	var types []string
	for _, f := range Families {
		if !supported(f) {
			t.Errorf("family %s is not in model.SupportedTypes", f.ModelType)
		}
		types = append(types, f.ModelType)
		for _, m := range f.Models {
			if !strings.Contains(m.ID, "/") || m.Params == "" {
				t.Errorf("family %s: model %+v incomplete", f.ModelType, m)
			}
		}
	}
	for _, st := range model.SupportedTypes {
		if !slices.Contains(types, st) {
			t.Errorf("model type %s has no family in Families", st)
		}
	}
}
