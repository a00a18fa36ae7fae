package chat

import (
	"strings"
	"testing"
)

func TestNamedSpans(t *testing.T) {
	alpaca, err := Named("alpaca")
	if err != nil {
		t.Fatal(err)
	}
	const (
		pre      = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
		preInput = "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n"
	)
	runSpanCases(t, alpaca, []spanCase{
		{
			name: "alpaca",
			msgs: []Message{msg("user", "Add the numbers."), msg("assistant", "4")},
			want: []wantSpan{
				{pre + "### Instruction:\nAdd the numbers.\n\n", "Add the numbers.", ""},
				{"### Response:\n4</s>\n\n", "4", "4</s>"},
			},
		},
		{
			name: "alpaca-input",
			msgs: []Message{msg("user", "Add the numbers."), msg("input", "2, 2"), msg("assistant", "4")},
			opt:  Options{},
			want: []wantSpan{
				{preInput + "### Instruction:\nAdd the numbers.\n\n", "Add the numbers.", ""},
				{"### Input:\n2, 2\n\n", "2, 2", ""},
				{"### Response:\n4</s>\n\n", "4", "4</s>"},
			},
		},
		{
			name: "alpaca-system-prompt",
			msgs: []Message{msg("system", "Be exact."), msg("user", "Add.")},
			opt:  Options{AddGenerationPrompt: true},
			want: []wantSpan{
				{"Be exact.\n\n", "Be exact.", ""},
				{"### Instruction:\nAdd.\n\n", "Add.", ""},
			},
			tail: "### Response:\n",
		},
	})
	runSpanCases(t, alpaca.WithSpecials(Specials{BOS: "<s>", EOS: "<|endoftext|>"}), []spanCase{{
		name: "alpaca-model-specials",
		msgs: []Message{msg("user", "Hi"), msg("assistant", "Yo")},
		want: []wantSpan{
			{"<s>" + pre + "### Instruction:\nHi\n\n", "Hi", ""},
			{"### Response:\nYo<|endoftext|>\n\n", "Yo", "Yo<|endoftext|>"},
		},
	}})

	chatml, err := Named("chatml")
	if err != nil {
		t.Fatal(err)
	}
	runSpanCases(t, chatml, []spanCase{{
		name: "chatml-empty-system",
		msgs: []Message{msg("system", ""), msg("user", "Hi"), msg("assistant", "Yo"), msg("assistant", "")},
		opt:  Options{AddGenerationPrompt: true},
		want: []wantSpan{
			{ims + "system\n" + ime + "\n", "", ""},
			{ims + "user\nHi" + ime + "\n", "Hi", ""},
			{ims + "assistant\nYo" + ime + "\n", "Yo", "Yo" + ime},
			{ims + "assistant\n" + ime + "\n", "", ime},
		},
		tail: ims + "assistant\n",
	}})

	if _, err := alpaca.Render([]Message{msg("tool", "x")}, Options{}); err == nil || !strings.Contains(err.Error(), "unsupported role tool") {
		t.Errorf("alpaca with a tool message: error = %v, want unsupported role", err)
	}
	if _, err := Named("vicuna"); err == nil || !strings.Contains(err.Error(), "alpaca, chatml, llama3") {
		t.Errorf("Named(vicuna) error = %v, want the list of names", err)
	}
	for _, n := range Names() {
		if Describe(n) == "" {
			t.Errorf("Describe(%q) is empty", n)
		}
	}
}
