package corpus

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestStoriesDeterministic(t *testing.T) {
	a, b := Stories(7, 50), Stories(7, 50)
	if !slices.Equal(a, b) {
		t.Fatal("Stories(7, 50) differs between two calls")
	}
	if got := Stories(7, 10); !slices.Equal(got, a[:10]) {
		t.Error("Stories(7, 10) is not the first 10 of Stories(7, 50)")
	}
	if other := Stories(8, 50); slices.Equal(other, a) {
		t.Error("Stories(8, 50) = Stories(7, 50), want different stories for another seed")
	}
	var x, y bytes.Buffer
	if err := WriteStories(&x, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteStories(&y, Stories(7, 50)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x.Bytes(), y.Bytes()) {
		t.Error("WriteStories bytes differ for the same seed")
	}
	// A fixed story pins the generator: changing it changes the committed data.
	if got, want := Stories(1, 1)[0][:48], "There once was a fox that lived in the park. Eve"; got != want {
		t.Errorf("Stories(1, 1)[0] starts %q, want %q", got, want)
	}
}

var sentenceEnd = regexp.MustCompile(`[.!?]"?\s+`)

func TestStoriesVaried(t *testing.T) {
	stories := Stories(3, 1000)
	distinct := map[string]bool{}
	sentences := map[string]bool{}
	words := map[string]bool{}
	paragraphs := map[int]int{}
	for _, s := range stories {
		distinct[s] = true
		paragraphs[strings.Count(s, "\n\n")+1]++
		for _, sent := range sentenceEnd.Split(s, -1) {
			sentences[sent] = true
		}
		for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') }) {
			words[strings.ToLower(w)] = true
		}
	}
	if len(distinct) != len(stories) {
		t.Errorf("%d distinct stories of %d", len(distinct), len(stories))
	}
	if len(sentences) < 3000 {
		t.Errorf("%d distinct sentences in 1000 stories, want at least 3000", len(sentences))
	}
	if len(words) < 400 {
		t.Errorf("%d distinct words in 1000 stories, want at least 400", len(words))
	}
	for n := 3; n <= 5; n++ {
		if paragraphs[n] == 0 {
			t.Errorf("no story has %d paragraphs (%v)", n, paragraphs)
		}
	}
	dialogue := 0
	for _, s := range stories {
		if strings.Contains(s, "\"") {
			dialogue++
		}
	}
	if dialogue < 300 || dialogue > 950 {
		t.Errorf("%d of 1000 stories have dialogue, want some but not all", dialogue)
	}
	for _, n := range names {
		if !words[strings.ToLower(n)] {
			t.Errorf("name %q never appears", n)
		}
	}
}

// occurrences returns the values of list that appear in s as whole words.
func occurrences(s string, list []string) []string {
	var out []string
	for _, v := range list {
		if regexp.MustCompile(`\b` + regexp.QuoteMeta(v) + `\b`).MatchString(s) {
			out = append(out, v)
		}
	}
	return out
}

func TestExtractionFactsStated(t *testing.T) {
	placeNames := make([]string, len(places))
	for i, p := range places {
		placeNames[i] = p.name
	}
	examples := Extraction(11, 600)
	phrasings := map[string]bool{}
	for i, e := range examples {
		f := e.Facts
		for _, c := range []struct {
			field, value string
			list         []string
		}{
			{"name", f.Name, names},
			{"place", f.Place, placeNames},
			{"object", f.Object, objects},
			{"colour", f.Colour, colours},
			{"mood", f.Mood, moods},
		} {
			got := occurrences(e.Story, c.list)
			if !slices.Equal(got, []string{c.value}) {
				t.Errorf("example %d: %s values in the story = %q, want only %q\n%s", i, c.field, got, c.value, e.Story)
			}
		}
		// The sentence shape that states the mood, with the values blanked.
		for _, sent := range sentenceEnd.Split(e.Story, -1) {
			if strings.Contains(sent, f.Mood) {
				phrasings[strings.NewReplacer(f.Mood, "M", f.Name, "N").Replace(sent)] = true
			}
		}
	}
	if len(phrasings) < 10 {
		t.Errorf("the mood is stated in %d ways, want varied phrasings", len(phrasings))
	}
	seen := map[string]bool{}
	for _, e := range examples {
		if seen[e.Story] {
			t.Fatalf("story given twice: %q", e.Story)
		}
		seen[e.Story] = true
	}
	if got := Extraction(11, 100); !slices.EqualFunc(got, examples[:100], func(a, b Example) bool { return a == b }) {
		t.Error("Extraction(11, 100) is not the first 100 of Extraction(11, 600)")
	}
}

func TestFactsJSON(t *testing.T) {
	f := Facts{Name: "Mia", Place: "park", Object: "kite", Colour: "red", Mood: "happy"}
	want := `{"name":"Mia","place":"park","object":"kite","colour":"red","mood":"happy"}`
	if got := f.JSON(); got != want {
		t.Errorf("JSON() = %s, want %s", got, want)
	}
	msgs := Example{Story: "s", Facts: f}.Messages()
	if len(msgs) != 3 || msgs[0].Content != SystemPrompt || msgs[1].Content != "s" || msgs[2].Content != want {
		t.Errorf("Messages() = %+v", msgs)
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validate(s *jsonschema.Schema, js string) error {
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(js))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

func TestSchema(t *testing.T) {
	s := compileSchema(t)
	for i, e := range Extraction(5, 300) {
		if err := validate(s, e.Facts.JSON()); err != nil {
			t.Fatalf("example %d: %s does not validate: %v", i, e.Facts.JSON(), err)
		}
	}
	for _, tc := range []struct{ name, js string }{
		{"missing mood", `{"name":"Mia","place":"park","object":"kite","colour":"red"}`},
		{"extra key", `{"name":"Mia","place":"park","object":"kite","colour":"red","mood":"happy","age":7}`},
		{"unknown colour", `{"name":"Mia","place":"park","object":"kite","colour":"teal","mood":"happy"}`},
		{"unknown place", `{"name":"Mia","place":"moon","object":"kite","colour":"red","mood":"happy"}`},
		{"lower-case name", `{"name":"mia","place":"park","object":"kite","colour":"red","mood":"happy"}`},
		{"number", `{"name":"Mia","place":"park","object":"kite","colour":"red","mood":3}`},
		{"array", `["Mia"]`},
	} {
		if err := validate(s, tc.js); err == nil {
			t.Errorf("%s: %s validates, want an error", tc.name, tc.js)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(Schema(), &m); err != nil {
		t.Fatal(err)
	}
	if m["additionalProperties"] != false {
		t.Errorf("additionalProperties = %v, want false", m["additionalProperties"])
	}
}

func TestWriteExtraction(t *testing.T) {
	var b bytes.Buffer
	ex := Extraction(2, 3)
	if err := WriteExtraction(&b, ex); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("WriteExtraction wrote %d lines, want 3", len(lines))
	}
	for i, l := range lines {
		var rec struct{ Messages []Message }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rec.Messages, ex[i].Messages()) {
			t.Errorf("line %d = %+v, want %+v", i+1, rec.Messages, ex[i].Messages())
		}
	}
}

func collect(t *testing.T, paths ...string) ([]string, error) {
	t.Helper()
	seq, errf := Texts(paths...)
	var out []string
	for s := range seq {
		out = append(out, s)
	}
	return out, errf()
}

func TestTexts(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jl := write("a.jsonl", "{\"text\":\"one\\ntwo\"}\n\n{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"a\"}]}\r\n{\"text\":\"last\"}")
	txt := write("b.txt", "line 1\r\n\nline 2\n")
	got, err := collect(t, jl, txt)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"one\ntwo", "q\na", "last", "line 1", "line 2"}
	if !slices.Equal(got, want) {
		t.Errorf("Texts = %q, want %q", got, want)
	}
	for _, tc := range []struct{ data, want string }{
		{"{\"text\":\"ok\"}\nnot json\n", "bad.jsonl: line 2: not a JSON object"},
		{"{\"prompt\":\"x\"}\n", "bad.jsonl: line 1: has neither"},
		{"[1,2]\n", "bad.jsonl: line 1: not a JSON object"},
	} {
		p := write("bad.jsonl", tc.data)
		if _, err := collect(t, p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Texts(%q) error = %v, want %q", tc.data, err, tc.want)
		}
	}
	if _, err := collect(t, filepath.Join(dir, "missing.txt")); err == nil {
		t.Error("Texts(missing file) gives no error")
	}
	// Stopping early stops reading: the missing file after the first is
	// never opened, so there is no error, and only one text was read.
	seq, errf := Texts(jl, filepath.Join(dir, "missing.txt"))
	n := 0
	for range seq {
		n++
		break
	}
	if n != 1 || errf() != nil {
		t.Errorf("Texts stopped after the first text: read %d, error %v; want 1 and no error (the missing file is never opened)", n, errf())
	}
}

func FuzzLineText(f *testing.F) {
	for _, s := range []string{`{"text":"a"}`, `{"messages":[{"role":"user","content":"x"}]}`, `{}`, `[]`, `{"text":null}`, `{"messages":"x"}`, "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		text, err := lineText(line)
		if err == nil && !json.Valid([]byte(line)) {
			t.Errorf("lineText(%q) = %q, nil for invalid JSON", line, text)
		}
	})
}
