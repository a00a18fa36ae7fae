package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"hone/plan"
)

func init() {
	var file, modelHint string
	var examples int
	var interactive bool
	answers := make([]bool, len(plan.Questions))
	cmd := &cobra.Command{
		Use:   "advise [--file answers.yaml | --new-knowledge --format ...]",
		Short: "Decide between retrieval (RAG) and fine-tuning from your requirements",
		Long: `Decide whether the task needs retrieval-augmented generation, fine-tuning, both,
or neither. Knowledge needs (new knowledge, changing facts, real-time updates)
point to RAG; behaviour needs (format, style, tone, vocabulary, latency) point to
fine-tuning; both together point to combining them.

The answers come from flags, from a YAML file (--file, with the same keys in
snake_case: new_knowledge, changing_facts, real_time, format, style, tone,
vocabulary, latency, examples), or, when neither is given and stdin is a
terminal, from questions asked one by one. For fine-tuning, the next commands
to run are printed.`,
		Example: `  hone advise
  hone advise --format --tone --examples 800 --model Qwen/Qwen2.5-1.5B-Instruct
  hone advise --file answers.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var r plan.Requirements
			flagged := false
			for i, q := range plan.Questions {
				if cmd.Flags().Changed(flagName(q.Key)) {
					flagged = true
				}
				*q.Field(&r) = answers[i]
			}
			r.Examples = examples
			switch {
			case file != "":
				if flagged {
					return withCode(2, fmt.Errorf("--file and answer flags are exclusive"))
				}
				fr, err := plan.LoadRequirements(file)
				if err != nil {
					return withCode(2, err)
				}
				if !cmd.Flags().Changed("examples") {
					examples = fr.Examples
				}
				r = fr
				r.Examples = examples
			case !flagged && (interactive || isTerminal(cmd.InOrStdin())):
				if err := ask(cmd.InOrStdin(), cmd.ErrOrStderr(), &r); err != nil {
					return err
				}
			case !flagged:
				return withCode(2, fmt.Errorf("no answers: give flags (see --help), --file, or run on a terminal to be asked"))
			}
			if examples < 0 {
				return withCode(2, fmt.Errorf("--examples %d: want >= 0", examples))
			}
			printAdvice(cmd.OutOrStdout(), plan.Advise(r, modelHint))
			return nil
		},
	}
	fl := cmd.Flags()
	for i, q := range plan.Questions {
		fl.BoolVar(&answers[i], flagName(q.Key), false, strings.TrimSuffix(q.Prompt, "?"))
	}
	fl.IntVar(&examples, "examples", 0, "how many input/output examples you have for fine-tuning (0: unknown)")
	fl.StringVar(&file, "file", "", "read the answers from this YAML file")
	fl.StringVar(&modelHint, "model", "", "base model to name in the next commands")
	fl.BoolVarP(&interactive, "interactive", "i", false, "ask the questions even when stdin is not a terminal")
	rootCmd.AddCommand(cmd)
}

func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ask puts each question on w and reads y/n answers from in (empty: no).
func ask(in io.Reader, w io.Writer, r *plan.Requirements) error {
	sc := bufio.NewScanner(in)
	for _, q := range plan.Questions {
		for {
			fmt.Fprintf(w, "%s [y/N] ", q.Prompt)
			if !sc.Scan() {
				if err := sc.Err(); err != nil {
					return err
				}
				return fmt.Errorf("advise: input ended before every question was answered")
			}
			a := strings.ToLower(strings.TrimSpace(sc.Text()))
			if a == "y" || a == "yes" {
				*q.Field(r) = true
				break
			}
			if a == "" || a == "n" || a == "no" {
				break
			}
			fmt.Fprintln(w, "please answer y or n")
		}
	}
	fmt.Fprint(w, "How many input/output examples do you have? (Enter if unknown) ")
	if sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			if _, err := fmt.Sscan(s, &r.Examples); err != nil || r.Examples < 0 {
				return fmt.Errorf("advise: examples %q: want a number", s)
			}
		}
	}
	fmt.Fprintln(w)
	return nil
}

func printAdvice(w io.Writer, a plan.Advice) {
	names := map[plan.Approach]string{
		plan.RAG:       "retrieval-augmented generation (RAG)",
		plan.FineTune:  "fine-tuning",
		plan.Both:      "fine-tuning combined with retrieval (RAG)",
		plan.Prompting: "neither yet: prompting",
	}
	fmt.Fprintf(w, "recommendation: %s\n", names[a.Approach])
	for _, s := range a.Reasons {
		fmt.Fprintf(w, "  - %s\n", s)
	}
	if len(a.Next) > 0 {
		fmt.Fprintln(w, "\nnext:")
		for _, s := range a.Next {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
}
