package eval

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"hone/compute/cpu"
	"hone/model"
	"hone/train"
)

// digits decodes ids as their numbers, for a model without a tokenizer.
type digits struct{}

func (digits) Decode(ids []int32, skipSpecial bool) string {
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "%d ", id)
	}
	return b.String()
}

// TestCompareSkipsLongPrompts: a task whose prompt leaves no room in the
// model's context is left out and listed, not fatal; the phases and the
// generation progress name the model measured.
func TestCompareSkipsLongPrompts(t *testing.T) {
	c := &model.Config{
		ModelType: "llama", Hidden: 8, Intermediate: 12, Layers: 1, Heads: 2, KVHeads: 1, HeadDim: 4,
		Vocab: 10, MaxPositions: 8, RMSEps: 1e-6, BOS: -1, Pad: -1,
		Rope: model.Rope{Theta: 10000, Type: "default", Factor: 1},
	}
	m := model.New(c, model.Init(c, 0.2, 1))
	d := Data{
		Tasks: []Task{
			{PromptIDs: []int32{1, 2, 3}, Reference: "x", Source: "test.jsonl:1"},
			{PromptIDs: []int32{1, 2, 3, 4, 5, 6, 7, 8}, Reference: "y", Source: "test.jsonl:2"},
			{PromptIDs: []int32{4, 5}, Reference: "z", Source: "test.jsonl:3"},
		},
		Skipped: []string{"test.jsonl:4: a conversation longer than the sequence length"},
		HeldOut: []*model.Batch{train.Collate([]train.Sequence{{IDs: []int32{1, 2, 3}, Labels: []int32{1, 2, 3}}}, 0)},
	}
	var events []string
	opt := Options{MaxNewTokens: 2, Samples: 5,
		Phase: func(model, phase string) { events = append(events, model+": "+phase) },
		Progress: func(model string, done, total int) {
			events = append(events, fmt.Sprintf("%s: %d/%d", model, done, total))
		},
	}
	rep, err := Compare(context.Background(), cpu.New(1), m, m, digits{}, d, opt)
	if err != nil {
		t.Fatalf("Compare with one prompt too long = %v, want it left out", err)
	}
	if rep.Examples != 2 || len(rep.Samples) != 2 {
		t.Errorf("Compare: %d examples, %d samples; want 2 and 2", rep.Examples, len(rep.Samples))
	}
	if len(rep.Skipped) != 2 || !strings.HasPrefix(rep.Skipped[1], "test.jsonl:2: prompt of 8 tokens leaves no room") {
		t.Errorf("Compare: skipped %q, want the caller's and test.jsonl:2", rep.Skipped)
	}
	want := "base: held-out loss on 1 batches,base: generating 2 answers,base: 1/2,base: 2/2,tuned: held-out loss on 1 batches,tuned: generating 2 answers,tuned: 1/2,tuned: 2/2"
	if got := strings.Join(events, ","); got != want {
		t.Errorf("events = %s\nwant %s", got, want)
	}
	if md := rep.Markdown(); !strings.Contains(md, "test.jsonl:2") {
		t.Errorf("the report does not name the example left out:\n%s", md)
	}
	if s := rep.Summary(); !strings.Contains(s, "left out 2 held-out examples") {
		t.Errorf("the summary does not count the examples left out:\n%s", s)
	}
	if html, err := rep.HTML(); err != nil || !strings.Contains(string(html), "test.jsonl:2") {
		t.Errorf("the HTML report does not name the example left out (%v)", err)
	}
}
