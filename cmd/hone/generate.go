package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/signal"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"hone/generate"
	"hone/model"
	"hone/tokenizer"
)

type generateFlags struct {
	modelFlags
	prompt      string
	maxTokens   int
	temperature float64
	topK        int
	topP        float64
	repPenalty  float64
	seed        uint64
	stops       []string
	noEcho      bool
}

func init() {
	var f generateFlags
	cmd := &cobra.Command{
		Use:   "generate --model DIR --prompt TEXT",
		Short: "Continue a prompt with a model, streaming tokens to stdout",
		Long: `Continue a prompt with a model (plus an optional adapter), streaming the text
to stdout as it is produced: the prompt first, then the continuation. Sampling is
greedy at temperature 0; otherwise temperature, top-k, top-p and a repetition
penalty apply, reproducibly for a given --seed. Generation stops at an
end-of-sequence token (from generation_config.json), a --stop string, or
--max-tokens.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runGenerate(cmd, &f) },
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.prompt, "prompt", "", "the text to continue (required)")
	fl.IntVar(&f.maxTokens, "max-tokens", 256, "most tokens to generate")
	fl.Float64Var(&f.temperature, "temperature", 0, "sampling temperature; 0 decodes greedily")
	fl.IntVar(&f.topK, "top-k", 0, "sample among the K most likely tokens, 0 or more (0: all)")
	fl.Float64Var(&f.topP, "top-p", 1, "sample among the smallest set of tokens whose probability reaches P, 0 < P <= 1 (1: off)")
	fl.Float64Var(&f.repPenalty, "repetition-penalty", 1, "penalty for tokens already present, more than 0; above 1 discourages them (1: off)")
	fl.Uint64Var(&f.seed, "seed", 0, "random seed for sampling")
	fl.StringArrayVar(&f.stops, "stop", nil, "stop when this text appears (repeatable)")
	fl.BoolVar(&f.noEcho, "no-echo", false, "print only the continuation, not the prompt")
	cmd.MarkFlagRequired("prompt")
	rootCmd.AddCommand(cmd)
}

func runGenerate(cmd *cobra.Command, f *generateFlags) error {
	if f.maxTokens <= 0 {
		return withCode(2, fmt.Errorf("--max-tokens %d: want a positive number", f.maxTokens))
	}
	if err := checkSampling(f.temperature, f.topK, f.topP, f.repPenalty); err != nil {
		return err
	}
	lm, err := f.load()
	if err != nil {
		return err
	}
	defer lm.Close()
	tok, err := tokenizer.Load(lm.Dir)
	if err != nil {
		return err
	}
	gen, err := model.LoadGenerationConfig(lm.Dir, lm.Model.Config)
	if err != nil {
		return err
	}
	ids := tok.Encode(f.prompt, true)
	if len(ids) == 0 {
		return fmt.Errorf("--prompt encodes to no tokens")
	}
	opt := generate.Options{
		MaxTokens: f.maxTokens, Temperature: f.temperature, TopK: f.topK, TopP: f.topP,
		RepetitionPenalty: f.repPenalty, Seed: f.seed, StopStrings: f.stops,
	}
	for _, id := range gen.EOS {
		opt.StopTokens = append(opt.StopTokens, int32(id))
	}
	out := cmd.OutOrStdout()
	if !f.noEcho {
		fmt.Fprint(out, f.prompt)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	_, err = generate.Generate(ctx, lm.Engine, lm.Model, tok, ids, opt, func(s string) error {
		_, err := fmt.Fprint(out, s)
		return err
	})
	if term.IsTerminal(int(os.Stdout.Fd())) {
		fmt.Fprintln(out)
	}
	return err
}

// checkSampling rejects sampling flags that mean nothing, naming the flag,
// as the server rejects the same values in a request: the only values that
// turn a setting off are the documented ones (--top-k 0, --top-p 1,
// --repetition-penalty 1).
func checkSampling(temperature float64, topK int, topP, repPenalty float64) error {
	switch {
	case !(temperature >= 0) || math.IsInf(temperature, 1):
		return withCode(2, fmt.Errorf("--temperature %v: want 0 (greedy) or more", temperature))
	case topK < 0:
		return withCode(2, fmt.Errorf("--top-k %d: want 0 (all tokens) or more", topK))
	case !(topP > 0 && topP <= 1):
		return withCode(2, fmt.Errorf("--top-p %v: want more than 0 and at most 1 (1: off)", topP))
	case !(repPenalty > 0) || math.IsInf(repPenalty, 1):
		return withCode(2, fmt.Errorf("--repetition-penalty %v: want more than 0 (1: off)", repPenalty))
	}
	return nil
}
