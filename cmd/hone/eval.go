package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"hone/recipe"
)

func init() {
	var f recipe.EvalConfig
	cmd := &cobra.Command{
		Use:   "eval --model DIR [--adapter DIR] --data FILE",
		Short: "Compare a tuned model (or adapter) with its base on held-out data",
		Long: `Compare the base model with the tuned one (the base plus --adapter, or --tuned
DIR for a full model) on held-out data: loss and perplexity side by side, task
metrics on greedy generations (exact match and ROUGE-L always; JSON validity and
per-field accuracy with --expect json; schema conformance with --schema), a
forgetting probe (perplexity on --general text before and after), sample
generations and verdicts. Writes report.json, report.md and report.html into --out.

Held-out examples whose prompt leaves no room in the model's context are left
out, named on stderr and in the report; it fails only when none is left.
--general is a dataset (.jsonl, .json, .csv, .tsv: text or conversation rows) or
any other file as plain text, one document per paragraph (blank lines separate
paragraphs).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			if err := f.Validate(); err != nil {
				return withCode(2, err)
			}
			p := newProgress(cmd.ErrOrStderr())
			rep, err := recipe.Evaluate(ctx, &f, p)
			p.done()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprint(w, rep.Summary())
			fmt.Fprintf(w, "report: %s\n", f.Out+"/report.html")
			if rep.Failed() {
				return withCode(1, fmt.Errorf("a verdict failed (see the report)"))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Model, "model", "", "base model folder (required)")
	fl.StringVar(&f.Adapter, "adapter", "", "LoRA adapter folder to evaluate over the base")
	fl.StringVar(&f.Tuned, "tuned", "", "a full fine-tuned model folder to evaluate instead of an adapter")
	fl.StringVar(&f.Data, "data", "", "held-out data file (chat, alpaca, prompt-completion or text rows) (required)")
	fl.StringVar(&f.General, "general", "", "general text for the forgetting probe: a dataset file, or plain text (one document per paragraph)")
	fl.StringVar(&f.Template, "template", "auto", "chat template: auto (the model's), or chatml, llama3, alpaca, FILE.jinja")
	fl.StringVar(&f.Expect, "expect", "", "expected output kind: json")
	fl.StringVar(&f.Schema, "schema", "", "JSON Schema the outputs must satisfy")
	fl.IntVar(&f.Limit, "limit", 0, "evaluate at most N examples (0: all)")
	fl.IntVar(&f.MaxNewTokens, "max-new-tokens", 128, "most tokens per generation")
	fl.IntVar(&f.Samples, "samples", 5, "side-by-side generations in the report")
	fl.StringVar(&f.Precision, "precision", "fp32", "compute precision: fp32 or bf16")
	fl.StringVar(&f.Out, "out", "eval", "folder for the report")
	cmd.MarkFlagRequired("model")
	cmd.MarkFlagRequired("data")
	rootCmd.AddCommand(cmd)
}
