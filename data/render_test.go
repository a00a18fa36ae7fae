package data

import (
	"errors"
	"strings"
	"testing"

	"hone/chat"
	"hone/internal/shared"
	"hone/tokenizer"
)

// sharedTokenizer loads a tokenizer folder of ../shared/tokenizers with its
// chat template.
func sharedTokenizer(t testing.TB, name string) (*tokenizer.Tokenizer, *chat.Template, string) {
	t.Helper()
	dir := shared.Path(t, "tokenizers/"+name)
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := chat.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tok, tmpl, dir
}

// trainedRuns returns the trained parts of a rendering as text, one
// string per run of consecutive trained tokens.
func trainedRuns(r *Rendering) []string {
	var runs []string
	in := false
	for i, l := range r.Labels {
		o := r.Offsets[i]
		switch {
		case l != IgnoreIndex && in:
			runs[len(runs)-1] += r.Text[o[0]:o[1]]
		case l != IgnoreIndex:
			runs = append(runs, r.Text[o[0]:o[1]])
			in = true
		default:
			in = false
		}
	}
	return runs
}

func conv(roles ...string) *Example {
	ex := &Example{}
	for i := 0; i+1 < len(roles); i += 2 {
		ex.push(roles[i], roles[i+1])
	}
	return ex
}

var multiTurn = conv("system", "Be brief.", "user", "Capital of France?", "assistant", "Paris.", "user", "And Italy?", "assistant", "Rome.")

func TestMaskLlama3(t *testing.T) {
	tok, tmpl, _ := sharedTokenizer(t, "llama3")
	ids, labels, err := Render(multiTurn, tmpl, tok, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Hand-computed: the Llama 3 template writes
	// <|begin_of_text|> then per message <|start_header_id|>ROLE<|end_header_id|>\n\n CONTENT <|eot_id|>,
	// and (this base-model template) an assistant header at the end.
	// Trained: "Paris" "." <|eot_id|> and "R" "ome" "." <|eot_id|>; the
	// headers and their "\n\n" are not.
	const (
		bot, sh, eh, eot = 128000, 128006, 128007, 128009
		nl2              = 271
	)
	wantIDs := []int32{bot,
		sh, 9125, eh, nl2, 3513, 10015, 13, eot,
		sh, 882, eh, nl2, 64693, 315, 9822, 30, eot,
		sh, 78191, eh, nl2, 60704, 13, eot,
		sh, 882, eh, nl2, 3112, 15704, 30, eot,
		sh, 78191, eh, nl2, 49, 638, 13, eot,
		sh, 78191, eh, nl2}
	trained := map[int]bool{22: true, 23: true, 24: true, 37: true, 38: true, 39: true, 40: true}
	if !equalIDs(ids, wantIDs) {
		t.Fatalf("Render(llama3) ids = %v, want %v", ids, wantIDs)
	}
	for i, l := range labels {
		want := int32(IgnoreIndex)
		if trained[i] {
			want = wantIDs[i]
		}
		if l != want {
			t.Errorf("Render(llama3) labels[%d] = %d, want %d (token %q)", i, l, want, tok.Token(ids[i]))
		}
	}
}

func TestMaskQwen3(t *testing.T) {
	tok, tmpl, _ := sharedTokenizer(t, "qwen3")
	ids, labels, err := Render(multiTurn, tmpl, tok, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Hand-computed: <|im_start|>ROLE\n CONTENT <|im_end|>\n per message.
	// Qwen3's template writes an empty <think>\n\n</think>\n\n block into
	// the last assistant turn (not into earlier ones); it is part of what
	// the model generates for that turn, so it is trained, as is
	// <|im_end|>; the "\n" after <|im_end|> is not.
	const (
		ims, ime, nl, nl2 = 151644, 151645, 198, 271
		think, endThink   = 151667, 151668
	)
	wantIDs := []int32{
		ims, 8948, nl, 3430, 9814, 13, ime, nl,
		ims, 872, nl, 63593, 315, 9625, 30, ime, nl,
		ims, 77091, nl, 59604, 13, ime, nl,
		ims, 872, nl, 3036, 15344, 30, ime, nl,
		ims, 77091, nl, think, nl2, endThink, nl2, 49, 635, 13, ime, nl}
	trained := map[int]bool{20: true, 21: true, 22: true, 35: true, 36: true, 37: true, 38: true, 39: true, 40: true, 41: true, 42: true}
	if !equalIDs(ids, wantIDs) {
		t.Fatalf("Render(qwen3) ids = %v, want %v", ids, wantIDs)
	}
	for i, l := range labels {
		want := int32(IgnoreIndex)
		if trained[i] {
			want = wantIDs[i]
		}
		if l != want {
			t.Errorf("Render(qwen3) labels[%d] = %d, want %d (token %q)", i, l, want, tok.Token(ids[i]))
		}
	}
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMaskCases(t *testing.T) {
	llamaTok, llamaTmpl, llamaDir := sharedTokenizer(t, "llama3")
	qwenTok, qwenTmpl, _ := sharedTokenizer(t, "qwen3")
	alpaca, err := LoadTemplate("alpaca", llamaDir, "", llamaTok)
	if err != nil {
		t.Fatal(err)
	}
	chatml, err := LoadTemplate("chatml", "", "", qwenTok)
	if err != nil {
		t.Fatal(err)
	}
	alpacaEx := conv("user", "Add the numbers.", RoleInput, "2 3", "assistant", "5")
	weighted := conv("user", "A?", "assistant", "a", "user", "B?", "assistant", "b")
	weighted.Weights[1] = false
	toolCall := &Example{Messages: []chat.Message{{Role: "user", Content: "Weather in Oslo?"},
		{Role: "assistant", ToolCalls: []chat.ToolCall{{Type: "function", Function: chat.FunctionCall{Name: "get_weather", Arguments: []byte(`{"city": "Oslo"}`)}}}},
		{Role: "tool", Content: "-3C"}, {Role: "assistant", Content: "Cold."}}, Weights: []bool{true, true, true, true}}
	tests := []struct {
		name string
		ex   *Example
		tmpl *chat.Template
		tok  *tokenizer.Tokenizer
		opts RenderOptions
		want []string // trained runs
	}{
		{"alpaca with input", alpacaEx, alpaca, llamaTok, RenderOptions{}, []string{"5<|end_of_text|>"}},
		{"alpaca input merged for chatml", alpacaEx, chatml, qwenTok, RenderOptions{}, []string{"5<|im_end|>"}},
		{"weight 0 turn", weighted, qwenTmpl, qwenTok, RenderOptions{}, []string{"<think>\n\n</think>\n\nb<|im_end|>"}},
		{"llama3 weight 0 turn", weighted, llamaTmpl, llamaTok, RenderOptions{}, []string{"b<|eot_id|>"}},
		{"tool call", toolCall, qwenTmpl, qwenTok, RenderOptions{}, []string{
			"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call><|im_end|>",
			"<think>\n\n</think>\n\nCold.<|im_end|>"}},
		{"train on prompt keeps weight 0 off", weighted, llamaTmpl, llamaTok, RenderOptions{TrainOnPrompt: true}, []string{
			"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nA?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
			"<|start_header_id|>user<|end_header_id|>\n\nB?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nb<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"}},
		{"text", &Example{Text: "Once upon a time."}, llamaTmpl, llamaTok, RenderOptions{}, []string{"Once upon a time."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := RenderFull(tc.ex, tc.tmpl, tc.tok, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := trainedRuns(r)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("RenderFull(%s) trained = %q, want %q\ntext %q", tc.name, got, tc.want, r.Text)
			}
			if tc.ex.IsText() {
				bos, _ := tc.tok.BOS()
				eos, _ := tc.tok.EOS()
				if r.IDs[0] != bos || r.IDs[len(r.IDs)-1] != eos || r.Labels[len(r.Labels)-1] != eos || r.Labels[0] != bos {
					t.Errorf("RenderFull(text) = ids %v labels %v, want BOS first and a trained EOS last", r.IDs, r.Labels)
				}
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	llamaTok, llamaTmpl, _ := sharedTokenizer(t, "llama3")
	// The alpaca template's own EOS "</s>" is not a token of Llama 3: the
	// model could never learn to stop.
	raw, err := chat.Named("alpaca")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Render(conv("user", "q", "assistant", "a"), raw, llamaTok, RenderOptions{}); err == nil || !strings.Contains(err.Error(), "special token") {
		t.Errorf("Render(alpaca with </s>, llama3 tokenizer) = %v, want an end-of-turn error", err)
	}
	off := conv("user", "q", "assistant", "a")
	off.Weights[1] = false
	if _, _, err := Render(off, llamaTmpl, llamaTok, RenderOptions{}); !errors.Is(err, ErrUntrained) {
		t.Errorf("Render(all weights 0) = %v, want ErrUntrained", err)
	}
}

func TestPadID(t *testing.T) {
	qwenTok, qwenTmpl, _ := sharedTokenizer(t, "qwen3")
	llamaTok, llamaTmpl, _ := sharedTokenizer(t, "llama3")
	tests := []struct {
		name string
		tok  *tokenizer.Tokenizer
		pad  string
		eot  []string
		want string
	}{
		{"qwen3 pad", qwenTok, "<|endoftext|>", qwenTmpl.EndOfTurn(), "<|endoftext|>"},
		{"pad equal to end of turn is refused", qwenTok, "<|im_end|>", qwenTmpl.EndOfTurn(), "<|endoftext|>"},
		{"llama3 without pad", llamaTok, "", llamaTmpl.EndOfTurn(), "<|reserved_special_token_0|>"},
	}
	for _, tc := range tests {
		got := tc.tok.Token(PadID(tc.tok, tc.pad, tc.eot))
		if got != tc.want {
			t.Errorf("PadID(%s) = %q, want %q", tc.name, got, tc.want)
		}
		for _, e := range tc.eot {
			if got == e {
				t.Errorf("PadID(%s) = %q, an end-of-turn marker", tc.name, got)
			}
		}
	}
}

func TestMaskAlpaca(t *testing.T) {
	tok, _, dir := sharedTokenizer(t, "llama3")
	alpaca, err := LoadTemplate("alpaca", dir, "", tok)
	if err != nil {
		t.Fatal(err)
	}
	_, exs, probs, err := readAll("a.jsonl", `{"instruction":"Add.","input":"2 3","output":"5"}`+"\n"+
		`{"instruction":"And now?","output":"7","history":[["Add 1 and 2.","3"]]}`, ReadOptions{})
	if err != nil || len(probs) > 0 {
		t.Fatal(err, probs)
	}
	// Hand-computed for the first row: the preamble for a task with an
	// input, ### Instruction, ### Input, ### Response, then the output and
	// the tokenizer's EOS (<|end_of_text|>, 128001), which are the only
	// trained tokens; the "\n\n" after EOS is not.
	ids, labels, err := Render(exs[0], alpaca, tok, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs := []int32{128000, 39314, 374, 459, 7754, 430, 16964, 264, 3465, 11, 35526, 449, 459, 1988, 430, 5825,
		4726, 2317, 13, 9842, 264, 2077, 430, 36001, 45695, 279, 1715, 382,
		14711, 30151, 512, 2261, 382, // ### Instruction:\nAdd.\n\n
		14711, 5688, 512, 17, 220, 18, 271, // ### Input:\n2 3\n\n
		14711, 6075, 512, // ### Response:\n
		20, 128001, // 5 <|end_of_text|>
		271}
	if !equalIDs(ids, wantIDs) {
		t.Fatalf("Render(alpaca) ids = %v, want %v", ids, wantIDs)
	}
	for i, l := range labels {
		want := int32(IgnoreIndex)
		if i == 43 || i == 44 {
			want = wantIDs[i]
		}
		if l != want {
			t.Errorf("Render(alpaca) labels[%d] = %d, want %d (token %q)", i, l, want, tok.Token(ids[i]))
		}
	}
	// Multi-turn (history): both responses train, each with its EOS.
	r, err := RenderFull(exs[1], alpaca, tok, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := trainedRuns(r); strings.Join(got, "|") != "3<|end_of_text|>|7<|end_of_text|>" {
		t.Errorf("Render(alpaca with history) trained = %q, want 3<|end_of_text|> and 7<|end_of_text|>\n%q", got, r.Text)
	}
}

// TestSharedDatasets reads the datasets of ../shared/datasets and renders
// them: the ShareGPT tool-calling demo through Qwen3's template (tool calls
// and observations), the Alpaca identity set through Llama 3's.
func TestSharedDatasets(t *testing.T) {
	qwenTok, qwenTmpl, _ := sharedTokenizer(t, "qwen3")
	llamaTok, llamaTmpl, _ := sharedTokenizer(t, "llama3")
	tests := []struct {
		file   string
		format Format
		rows   int
		tok    *tokenizer.Tokenizer
		tmpl   *chat.Template
	}{
		{"llamafactory-glaive_toolcall_en_demo.json", FormatShareGPT, 300, qwenTok, qwenTmpl},
		{"llamafactory-identity.json", FormatAlpaca, 91, llamaTok, llamaTmpl},
	}
	for _, tc := range tests {
		path := shared.Path(t, "datasets/"+tc.file)
		exs, skipped, err := ReadAll(path, ReadOptions{})
		if err != nil || skipped != 0 || len(exs) != tc.rows || exs[0].Format != tc.format {
			t.Fatalf("ReadAll(%s) = %d examples, %d skipped, %v; want %d %s", tc.file, len(exs), skipped, err, tc.rows, tc.format)
		}
		calls := 0
		for _, ex := range exs {
			r, err := RenderFull(ex, tc.tmpl, tc.tok, RenderOptions{})
			if err != nil {
				t.Fatalf("%s:%d: %v", ex.File, ex.Line, err)
			}
			for _, m := range ex.Messages {
				calls += len(m.ToolCalls)
			}
			if r.Trained() == 0 {
				t.Fatalf("%s:%d: nothing trained", ex.File, ex.Line)
			}
		}
		if tc.format == FormatShareGPT && calls == 0 {
			t.Errorf("%s: no tool calls read", tc.file)
		}
	}
}
