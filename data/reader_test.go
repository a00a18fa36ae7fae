package data

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads every row of content, as the file name says.
func readAll(name, content string, opts ReadOptions) (*Reader, []*Example, []Problem, error) {
	return readFrom(strings.NewReader(content), name, opts)
}

func readFrom(src io.Reader, name string, opts ReadOptions) (*Reader, []*Example, []Problem, error) {
	r, err := NewReader(src, name, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	var exs []*Example
	var probs []Problem
	for {
		ex, p, err := r.Next()
		if err == io.EOF {
			return r, exs, probs, nil
		}
		if err != nil {
			return r, exs, probs, err
		}
		probs = append(probs, p...)
		if ex != nil {
			exs = append(exs, ex)
		}
	}
}

// summary writes an example as "line role:text role:text", with "!" after
// the role of an untrained assistant turn, "call(name args)" for tool calls
// and "tools=N" for tool definitions.
func summary(ex *Example) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", ex.Line)
	if ex.IsText() {
		fmt.Fprintf(&b, " text:%s", ex.Text)
	}
	for i, m := range ex.Messages {
		fmt.Fprintf(&b, " %s", m.Role)
		if m.Role == "assistant" && !ex.Weights[i] {
			b.WriteString("!")
		}
		fmt.Fprintf(&b, ":%s", m.Text())
		for _, tc := range m.ToolCalls {
			fmt.Fprintf(&b, "call(%s %s)", tc.Function.Name, tc.Function.Arguments)
		}
	}
	if len(ex.Tools) > 0 {
		fmt.Fprintf(&b, " tools=%d", len(ex.Tools))
	}
	return b.String()
}

func TestFormats(t *testing.T) {
	tests := []struct {
		name, file, content string
		format              Format
		container           Container
		want                []string
	}{
		{"alpaca jsonl", "a.jsonl",
			`{"instruction":"Add","input":"2 3","output":"5"}` + "\n\n" +
				`{"instruction":"Greet","output":"Hi","system":"Be brief."}` + "\n" +
				`{"instruction":"Again","output":"B","history":[["q1","a1"],["q2","a2"]]}` + "\n",
			FormatAlpaca, ContainerJSONL,
			[]string{"1 user:Add input:2 3 assistant:5", "3 system:Be brief. user:Greet assistant:Hi",
				"4 user:q1 assistant:a1 user:q2 assistant:a2 user:Again assistant:B"}},
		{"prompt-completion", "p.jsonl",
			`{"prompt":"2+2=","completion":"4"}` + "\r\n" + `{"prompt":"3+3=","completion":"6"}`,
			FormatPromptCompletion, ContainerJSONL,
			[]string{"1 user:2+2= assistant:4", "2 user:3+3= assistant:6"}},
		{"chat with weights and tools", "c.jsonl",
			`{"messages":[{"role":"system","content":"S"},{"role":"user","content":"U"},{"role":"assistant","content":"A1","weight":0},{"role":"user","content":"U2"},{"role":"assistant","content":"A2","weight":1}]}` + "\n" +
				`{"messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":null,"tool_calls":[{"type":"function","function":{"name":"get","arguments":"{\"city\":\"Oslo\"}"}}]},{"role":"tool","content":"-3C"},{"role":"assistant","content":[{"type":"text","text":"Cold."}]}],"tools":[{"type":"function","function":{"name":"get"}}]}`,
			FormatChat, ContainerJSONL,
			[]string{"1 system:S user:U assistant!:A1 user:U2 assistant:A2",
				`2 user:Weather? assistant:call(get "{\"city\":\"Oslo\"}") tool:-3C assistant:Cold. tools=1`}},
		{"sharegpt array", "s.json",
			"[\n  {\"conversations\": [\n    {\"from\": \"human\", \"value\": \"Hi\"},\n    {\"from\": \"gpt\", \"value\": \"Hello\"}\n  ], \"system\": \"Sys\"},\n" +
				"  {\"conversations\": [{\"from\": \"human\", \"value\": \"Find\"}, {\"from\": \"function_call\", \"value\": \"{\\\"name\\\": \\\"f\\\", \\\"arguments\\\": {\\\"x\\\": 1}}\"}, {\"from\": \"observation\", \"value\": \"42\"}, {\"from\": \"gpt\", \"value\": \"It is 42\"}], \"tools\": \"[{\\\"name\\\": \\\"f\\\"}]\"}\n]\n",
			FormatShareGPT, ContainerJSON,
			[]string{"2 system:Sys user:Hi assistant:Hello", `6 user:Find assistant:call(f {"x": 1}) tool:42 assistant:It is 42 tools=1`}},
		{"text", "t.jsonl", "\ufeff{\"text\":\"Once upon a time.\"}\n{\"text\":\"The end.\"}\n",
			FormatText, ContainerJSONL,
			[]string{"1 text:Once upon a time.", "2 text:The end."}},
		{"alpaca csv", "a.csv",
			"instruction,input,output\nAdd,\"2\n3\",5\n\"Say \"\"hi\"\"\",,hi\n",
			FormatAlpaca, ContainerCSV,
			[]string{"2 user:Add input:2\n3 assistant:5", `4 user:Say "hi" assistant:hi`}},
		{"chat csv", "c.csv",
			"messages\n\"[{\"\"role\"\":\"\"user\"\",\"\"content\"\":\"\"U\"\"},{\"\"role\"\":\"\"assistant\"\",\"\"content\"\":\"\"A\"\"}]\"\n",
			FormatChat, ContainerCSV,
			[]string{"2 user:U assistant:A"}},
		{"tsv prompt-completion", "p.tsv", "prompt\tcompletion\nP\tC\n",
			FormatPromptCompletion, ContainerCSV, []string{"2 user:P assistant:C"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, exs, probs, err := readAll(tc.file, tc.content, ReadOptions{})
			if err != nil || len(probs) > 0 {
				t.Fatalf("read(%s) = error %v, problems %v, want none", tc.name, err, probs)
			}
			if r.Format() != tc.format || r.Container() != tc.container {
				t.Errorf("read(%s): format %s container %s, want %s %s", tc.name, r.Format(), r.Container(), tc.format, tc.container)
			}
			var got []string
			for _, ex := range exs {
				got = append(got, summary(ex))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("read(%s) =\n%s\nwant\n%s", tc.name, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			// Reading one byte at a time changes nothing.
			_, exs2, _, err := readFrom(iotest.OneByteReader(strings.NewReader(tc.content)), tc.file, ReadOptions{})
			if err != nil || len(exs2) != len(exs) {
				t.Errorf("read(%s) one byte at a time = %d examples, error %v, want %d", tc.name, len(exs2), err, len(exs))
			}
		})
	}
}

func TestForcedFormat(t *testing.T) {
	// A row with both "text" and "prompt" keys is read as the format named.
	content := `{"prompt":"P","completion":"C","text":"T"}` + "\n"
	for _, tc := range []struct {
		f    Format
		want string
	}{{FormatText, "1 text:T"}, {FormatPromptCompletion, "1 user:P assistant:C"}} {
		_, exs, probs, err := readAll("x.jsonl", content, ReadOptions{Format: tc.f})
		if err != nil || len(probs) > 0 || len(exs) != 1 || summary(exs[0]) != tc.want {
			t.Errorf("read(format %s) = %v %v %v, want %s", tc.f, exs, probs, err, tc.want)
		}
	}
	if _, err := ParseFormat("parquet"); err == nil {
		t.Errorf("ParseFormat(parquet) = nil error, want one")
	}
}

func TestRowProblems(t *testing.T) {
	good := `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}`
	tests := []struct {
		name, row string
		kind      Kind
		msg       string // a part of the message
	}{
		{"malformed", `{"messages": [`, KindMalformedJSON, "column"},
		{"not an object", `[1, 2]`, KindMalformedJSON, "not an object"},
		{"unknown format", `{"question":"q","answer":"a"}`, KindUnknownFormat, `"answer", "question"`},
		{"messages not a list", `{"messages":"hi"}`, KindBadField, "want a list"},
		{"empty messages", `{"messages":[]}`, KindEmptyField, "empty list"},
		{"missing role", `{"messages":[{"content":"x"},{"role":"assistant","content":"y"}]}`, KindMissingField, `messages[0]: key "role": missing`},
		{"unknown role", `{"messages":[{"role":"human","content":"x"},{"role":"assistant","content":"y"}]}`, KindUnknownRole, `"human"`},
		{"ends with user", `{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y"},{"role":"user","content":"z"}]}`, KindNoAssistantEnd, "user turn"},
		{"empty assistant", `{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"  "}]}`, KindEmptyField, "neither content nor tool calls"},
		{"empty user", `{"messages":[{"role":"user","content":""},{"role":"assistant","content":"y"}]}`, KindEmptyField, "user message is empty"},
		{"bad weight", `{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y","weight":2}]}`, KindBadField, "want 0 or 1"},
		{"all weights zero", `{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y","weight":0}]}`, KindUntrained, "weight 0"},
		{"bad tool call", `{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"function":{"arguments":"{}"}}]}]}`, KindMissingField, "function.name"},
		{"bad tools", `{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}],"tools":{"a":1}}`, KindBadField, `"tools"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			content := good + "\n\n" + tc.row + "\n" + good + "\n"
			_, exs, probs, err := readAll("d.jsonl", content, ReadOptions{})
			if err != nil {
				t.Fatalf("read = %v, want no error", err)
			}
			if len(probs) != 1 || probs[0].Kind != tc.kind || probs[0].Line != 3 || !strings.Contains(probs[0].Message, tc.msg) {
				t.Fatalf("read(%s) = problems %v, want one %s at line 3 containing %q", tc.row, probs, tc.kind, tc.msg)
			}
			if len(exs) != 2 || exs[0].Line != 1 || exs[1].Line != 4 {
				t.Errorf("read(%s): %d examples, want the good ones at lines 1 and 4", tc.row, len(exs))
			}
		})
	}
}

func TestFormatRowProblems(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                []string // "line kind"
	}{
		{"alpaca", "a.jsonl", `{"instruction":"I","output":"O"}` + "\n" +
			`{"instruction":"","output":"O"}` + "\n" +
			`{"instruction":"I"}` + "\n" +
			`{"instruction":5,"output":"O"}` + "\n" +
			`{"instruction":"I","output":"O","history":[["only one"]]}` + "\n" +
			`{"messages":[]}` + "\n",
			[]string{"2 empty-field", "3 missing-field", "4 bad-field", "5 bad-field", "6 missing-field", "6 missing-field"}},
		{"prompt-completion", "p.jsonl", `{"prompt":"P","completion":"C"}` + "\n" + `{"prompt":"P","completion":""}` + "\n" + `{"prompt":"P"}`,
			[]string{"2 empty-field", "3 missing-field"}},
		{"sharegpt", "s.jsonl", `{"conversations":[{"from":"human","value":"x"},{"from":"gpt","value":"y"}]}` + "\n" +
			`{"conversations":[{"from":"alien","value":"x"},{"from":"gpt","value":"y"}]}` + "\n" +
			`{"conversations":[{"from":"human","value":"x"}]}` + "\n" +
			`{"conversations":[{"from":"human"},{"from":"gpt","value":"y"}]}` + "\n" +
			`{"conversations":[{"from":"human","value":"x"},{"from":"function_call","value":"not json"},{"from":"gpt","value":"y"}]}`,
			[]string{"2 unknown-role", "3 no-assistant-end", "4 missing-field", "5 bad-field"}},
		{"text", "t.jsonl", `{"text":"a"}` + "\n" + `{"text":""}` + "\n" + `{"text":["a"]}`,
			[]string{"2 empty-field", "3 bad-field"}},
		{"csv", "a.csv", "instruction,output\nI,O\nI\n\"unclosed,O\n",
			[]string{"3 malformed-csv", "4 malformed-csv"}},
		{"json array", "a.json", "[\n{\"text\": \"a\"},\n{\"text\": \"\"},\n3,\n{\"text\": \"b\"} {\n]",
			[]string{"3 empty-field", "4 malformed-json", "5 malformed-json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, probs, err := readAll(tc.file, tc.content, ReadOptions{})
			if err != nil {
				t.Fatalf("read = %v", err)
			}
			var got []string
			for _, p := range probs {
				got = append(got, fmt.Sprintf("%d %s", p.Line, p.Kind))
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("read(%s) problems = %v, want %v\n%v", tc.name, got, tc.want, probs)
			}
		})
	}
}

func TestUnusable(t *testing.T) {
	long := `{"text":"` + strings.Repeat("x", 2000) + `"}`
	tests := []struct {
		name, file, content string
		opts                ReadOptions
		line                int
		reason              string
	}{
		{"empty", "e.jsonl", "", ReadOptions{}, 0, "empty file"},
		{"blank", "e.jsonl", " \n\n\t\n", ReadOptions{}, 0, "empty file"},
		{"empty csv", "e.csv", "", ReadOptions{}, 0, "empty file"},
		{"binary", "b.jsonl", "{\"text\":\"a\"}\n\x00\x01\x02\xff", ReadOptions{}, 2, "NUL"},
		{"invalid utf-8", "u.jsonl", "{\"text\":\"a\"}\n{\"text\":\"b\"}\n{\"text\":\"\xc3\x28\"}\n", ReadOptions{}, 3, "UTF-8"},
		{"truncated utf-8", "u.jsonl", "{\"text\":\"a\"}\n\xe2\x82", ReadOptions{}, 2, "UTF-8"},
		{"long line", "l.jsonl", "{\"text\":\"a\"}\n" + long + "\n", ReadOptions{MaxRowBytes: 1000}, 2, "longer than 1000"},
		{"long array element", "l.json", "[" + long + "]", ReadOptions{MaxRowBytes: 1000}, 1, "longer than 1000"},
		{"not json", "n.jsonl", "hello world\nthis is prose\n", ReadOptions{}, 0, "none of its 2 rows"},
		{"broken array", "a.json", "[ nonsense ]", ReadOptions{}, 1, "not a JSON array"},
		{"directoryless csv header", "h.csv", "a,a\n1,2\n", ReadOptions{}, 1, "repeated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := readAll(tc.file, tc.content, tc.opts)
			var ue *UnusableError
			if !errors.As(err, &ue) || ue.Line != tc.line || !strings.Contains(ue.Reason, tc.reason) {
				t.Fatalf("read(%s) = %v, want unusable at line %d (%s)", tc.name, err, tc.line, tc.reason)
			}
		})
	}
}

func TestUTF8AcrossReads(t *testing.T) {
	// Multi-byte characters split between reads are fine.
	content := `{"text":"héllo ✓ 𝄞 日本"}` + "\n" + `{"text":"ünï"}` + "\n"
	for _, r := range []io.Reader{iotest.OneByteReader(strings.NewReader(content)), iotest.HalfReader(strings.NewReader(content))} {
		_, exs, probs, err := readFrom(r, "u.jsonl", ReadOptions{})
		if err != nil || len(probs) > 0 || len(exs) != 2 || exs[0].Text != "héllo ✓ 𝄞 日本" {
			t.Errorf("read(split UTF-8) = %v, %v, %v", exs, probs, err)
		}
	}
}

// TestContainerByExtension: a .jsonl file is read line by line even when
// its first line is an array, and nothing after a .json array is dropped
// without a problem.
func TestContainerByExtension(t *testing.T) {
	tests := []struct {
		name, file, content string
		container           Container
		examples            []string // summaries
		problems            []string // "line kind part-of-message"
	}{
		{"jsonl starting with an array line", "a.jsonl", `[{"text":"a"}]` + "\n" + `{"text":"b"}` + "\n" + `{"text":"c"}` + "\n",
			ContainerJSONL, []string{"2 text:b", "3 text:c"}, []string{"1 malformed-json array, not an object"}},
		{"garbage after a json array", "a.json", `[{"text":"a"}] garbage`,
			ContainerJSON, []string{"1 text:a"}, []string{"1 malformed-json after the end of the JSON array"}},
		{"rows after a json array", "a.json", "[\n" + `{"text":"a"}` + "\n]\n\n" + `{"text":"b"}` + "\n",
			ContainerJSON, []string{"2 text:a"}, []string{"5 malformed-json after the end of the JSON array"}},
		{"a second array", "a.json", `[{"text":"a"}]` + "\n" + `[{"text":"b"}]`,
			ContainerJSON, []string{"1 text:a"}, []string{"2 malformed-json byte 16"}},
		{"white space after a json array", "a.json", "[{\"text\":\"a\"}] \r\n\t\n",
			ContainerJSON, []string{"1 text:a"}, nil},
		{"blank lines before a json array", "a.json", "\n\n[\n" + `{"text":"a"},` + "\n" + `{"text":"b"}` + "\n]",
			ContainerJSON, []string{"4 text:a", "5 text:b"}, nil},
		{"json file of lines", "a.json", `{"text":"a"}` + "\n" + `{"text":"b"}` + "\n",
			ContainerJSONL, []string{"1 text:a", "2 text:b"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, src := range []io.Reader{strings.NewReader(tc.content), iotest.OneByteReader(strings.NewReader(tc.content))} {
				r, exs, probs, err := readFrom(src, tc.file, ReadOptions{})
				if err != nil {
					t.Fatalf("read(%s) = %v, want no error", tc.file, err)
				}
				if r.Container() != tc.container {
					t.Errorf("read(%s): container %s, want %s", tc.file, r.Container(), tc.container)
				}
				var got []string
				for _, ex := range exs {
					got = append(got, summary(ex))
				}
				if strings.Join(got, "|") != strings.Join(tc.examples, "|") {
					t.Errorf("read(%s) examples = %q, want %q", tc.file, got, tc.examples)
				}
				if len(probs) != len(tc.problems) {
					t.Fatalf("read(%s) problems = %v, want %d: %q", tc.file, probs, len(tc.problems), tc.problems)
				}
				for i, p := range probs {
					var line int
					var kind, msg string
					fmt.Sscanf(tc.problems[i], "%d %s", &line, &kind)
					msg = strings.SplitN(tc.problems[i], " ", 3)[2]
					if p.Line != line || string(p.Kind) != kind || !strings.Contains(p.Message, msg) || p.File != tc.file {
						t.Errorf("read(%s) problem %d = %v, want %s", tc.file, i, p, tc.problems[i])
					}
				}
			}
		})
	}
	// A pretty-printed array named .jsonl: a problem on each line that is
	// not an object, the first with a hint; unusable when no line is one.
	_, _, probs, err := readAll("p.jsonl", "[\n  {\"text\": \"a\"},\n  {\"text\": \"b\"}\n]\n", ReadOptions{})
	if err != nil || len(probs) != 3 || probs[0].Line != 1 || !strings.Contains(probs[0].Message, "name the file .json") {
		t.Errorf("read(pretty-printed array as .jsonl) = %v, %v; want 3 problems, the first at line 1 with a hint to name it .json", probs, err)
	}
	_, _, _, err = readAll("p.jsonl", "[\n  {\"text\": \"a\"},\n  {\"text\": \"b\"},\n]\n", ReadOptions{})
	var ue *UnusableError
	if !errors.As(err, &ue) || !strings.Contains(ue.Reason, "name the file .json") {
		t.Errorf("read(pretty-printed array as .jsonl, no line an object) = %v, want unusable with a hint to name it .json", err)
	}
}
