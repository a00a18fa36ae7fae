package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"hone/chat"
)

type templateFlags struct {
	tokenizer string
	template  string
	variant   string
	messages  string
	genPrompt bool
	extra     []string
	showSpans bool
	bos, eos  string
}

func init() {
	var f templateFlags
	cmd := &cobra.Command{
		Use:   "template --tokenizer DIR --messages FILE.json [--generation-prompt]",
		Short: "Render a conversation with a chat template",
		Long: `Render a conversation with a chat template and print the text exactly as a
model would see it.

The template is the chat template of a tokenizer folder (chat_template.jinja, or
the chat_template key of tokenizer_config.json), or --template: a built-in name
(` + strings.Join(chat.Names(), ", ") + `) or a .jinja file. The messages file
holds a JSON list of {"role", "content", ...} messages, or an object
{"messages": [...], "tools": [...]}; "-" reads standard input.

--spans prints, instead of the text, where each message lies and which bytes
training would keep for the loss (the assistant's answers and end-of-turn
markers).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runTemplate(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.tokenizer, "tokenizer", "", "tokenizer or model folder, or Hub id org/name[@revision], whose chat template to use")
	fl.StringVar(&f.template, "template", "", "built-in template name or .jinja file, instead of the tokenizer's")
	fl.StringVar(&f.variant, "variant", "", "named template of the tokenizer (tool_use, rag, ...); default: the default one")
	fl.StringVar(&f.messages, "messages", "", "JSON file with the conversation (required; - for stdin)")
	fl.BoolVar(&f.genPrompt, "generation-prompt", false, "append the assistant header so the model answers next")
	fl.StringArrayVar(&f.extra, "extra", nil, "template variable KEY=JSON, e.g. enable_thinking=false (repeatable)")
	fl.BoolVar(&f.showSpans, "spans", false, "print the message spans and trained ranges instead of the text")
	fl.StringVar(&f.bos, "bos-token", "", "BOS token for --template (default: the template's or tokenizer's)")
	fl.StringVar(&f.eos, "eos-token", "", "EOS token for --template (default: the template's or tokenizer's)")
	cmd.MarkFlagRequired("messages")
	rootCmd.AddCommand(cmd)
}

// loadChatTemplate resolves --tokenizer / --template / --variant.
func (f *templateFlags) loadChatTemplate() (*chat.Template, error) {
	var t *chat.Template
	var err error
	if f.tokenizer != "" {
		if f.tokenizer, err = resolveModelOrFile(f.tokenizer); err != nil {
			return nil, fmt.Errorf("--tokenizer: %w", err)
		}
	}
	switch {
	case f.template != "" && f.variant != "":
		return nil, fmt.Errorf("--variant applies to --tokenizer, not --template")
	case f.template != "":
		if strings.HasSuffix(f.template, ".jinja") || strings.ContainsRune(f.template, os.PathSeparator) {
			src, rerr := os.ReadFile(f.template)
			if rerr != nil {
				return nil, rerr
			}
			var sp chat.Specials
			if f.tokenizer != "" {
				if tt, lerr := chat.Load(f.tokenizer); lerr == nil {
					sp = tt.Specials
				}
			}
			t, err = chat.Parse(string(src), f.template, sp)
		} else {
			t, err = chat.Named(f.template)
		}
	case f.tokenizer != "":
		t, err = chat.LoadVariant(f.tokenizer, f.variant)
	default:
		return nil, fmt.Errorf("give --tokenizer DIR or --template NAME")
	}
	if err != nil {
		return nil, err
	}
	if f.bos != "" || f.eos != "" {
		sp := t.Specials
		if f.bos != "" {
			sp.BOS = f.bos
		}
		if f.eos != "" {
			sp.EOS = f.eos
		}
		t = t.WithSpecials(sp)
	}
	return t, nil
}

func runTemplate(cmd *cobra.Command, f *templateFlags) error {
	tmpl, err := f.loadChatTemplate()
	if err != nil {
		return withCode(2, err)
	}
	var data []byte
	if f.messages == "-" {
		data, err = io.ReadAll(cmd.InOrStdin())
	} else {
		data, err = os.ReadFile(f.messages)
	}
	if err != nil {
		return withCode(2, err)
	}
	conv, err := chat.ParseConversation(data)
	if err != nil {
		return withCode(2, fmt.Errorf("%s: %w", f.messages, err))
	}
	opt := chat.Options{AddGenerationPrompt: f.genPrompt, Extra: map[string]any{}}
	for _, tl := range conv.Tools {
		opt.Tools = append(opt.Tools, tl)
	}
	for _, kv := range f.extra {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return withCode(2, fmt.Errorf("--extra %q: want KEY=JSON", kv))
		}
		if !json.Valid([]byte(v)) {
			// A bare word is taken as a string: --extra date_string=today.
			b, _ := json.Marshal(v)
			v = string(b)
		}
		opt.Extra[k] = json.RawMessage(v)
	}
	out := cmd.OutOrStdout()
	if !f.showSpans {
		text, err := tmpl.RenderText(conv.Messages, opt)
		if err != nil {
			return err
		}
		_, err = fmt.Fprint(out, text)
		return err
	}
	r, err := tmpl.Render(conv.Messages, opt)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "template %s, end of turn %q\n", tmpl.Name, tmpl.EndOfTurn())
	for i, s := range r.Spans {
		fmt.Fprintf(out, "%d %-9s message [%d,%d) content [%d,%d)", i, s.Role, s.Message.Start, s.Message.End, s.Content.Start, s.Content.End)
		if s.Role == "assistant" {
			fmt.Fprintf(out, " trained [%d,%d) %q", s.Trained.Start, s.Trained.End, r.Text[s.Trained.Start:s.Trained.End])
		}
		fmt.Fprintln(out)
	}
	if n := len(r.Spans); n > 0 && r.Spans[n-1].Message.End < len(r.Text) {
		fmt.Fprintf(out, "after the last message: %q\n", r.Text[r.Spans[n-1].Message.End:])
	}
	return nil
}
