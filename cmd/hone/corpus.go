package main

import (
	"bytes"
	"errors"
	"io"

	"github.com/spf13/cobra"

	"hone/corpus"
	"hone/internal/atomicfile"
)

type corpusFlags struct {
	seed uint64
	n    int
	out  string
}

func init() {
	parent := &cobra.Command{
		Use:   "corpus",
		Short: "Generate the quickstart's data (stories, JSON records, chats, the story-facts task, its schema)",
		Long: `Generate seeded, reproducible data: the same seed and count always give the
same bytes, and item i does not depend on the count.`,
	}
	add := func(use, short string, write func(w io.Writer, f *corpusFlags) error, counted bool) {
		var f corpusFlags
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				if counted && f.n <= 0 {
					return withCode(2, errors.New("--n must be positive"))
				}
				var b bytes.Buffer
				if err := write(&b, &f); err != nil {
					return err
				}
				if f.out == "-" {
					_, err := cmd.OutOrStdout().Write(b.Bytes())
					return err
				}
				return atomicfile.Write(f.out, b.Bytes())
			},
		}
		if counted {
			c.Flags().Uint64Var(&f.seed, "seed", 1, "random seed")
			c.Flags().IntVar(&f.n, "n", 1000, "number of items")
		}
		c.Flags().StringVar(&f.out, "out", "", `output file ("-" for standard output) (required)`)
		c.MarkFlagRequired("out")
		parent.AddCommand(c)
	}
	add("stories --seed S --n N --out FILE.jsonl", `Write short stories as JSONL lines {"text": ...}`,
		func(w io.Writer, f *corpusFlags) error { return corpus.WriteStories(w, corpus.Stories(f.seed, f.n)) }, true)
	add("extraction --seed S --n N --out FILE.jsonl", "Write story-facts examples as JSONL chats (system, user story, assistant JSON)",
		func(w io.Writer, f *corpusFlags) error {
			return corpus.WriteExtraction(w, corpus.Extraction(f.seed, f.n))
		}, true)
	add("records --seed S --n N --out FILE.jsonl", `Write JSON records with a line of prose, as JSONL lines {"text": ...} (pre-training)`,
		func(w io.Writer, f *corpusFlags) error { return corpus.WriteStories(w, corpus.Records(f.seed, f.n)) }, true)
	add("chats --seed S --n N --out FILE.jsonl", "Write question-and-answer chats about stories, answers in plain sentences (pre-training)",
		func(w io.Writer, f *corpusFlags) error { return corpus.WriteChats(w, corpus.Chats(f.seed, f.n)) }, true)
	add("schema --out FILE.json", "Write the JSON Schema of the story facts",
		func(w io.Writer, f *corpusFlags) error { _, err := w.Write(corpus.Schema()); return err }, false)
	rootCmd.AddCommand(parent)
}
