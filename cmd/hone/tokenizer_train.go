package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"hone/corpus"
	"hone/internal/atomicfile"
	"hone/tokenizer"
)

type tokenizerTrainFlags struct {
	inputs    []string
	vocabSize int
	minFreq   int
	specials  []string
	bos, eos  string
	out       string
}

func init() {
	parent := &cobra.Command{
		Use:   "tokenizer",
		Short: "Train tokenizers",
	}
	var f tokenizerTrainFlags
	train := &cobra.Command{
		Use:   "train --input FILE... --vocab-size N --out DIR",
		Short: "Train a byte-level BPE tokenizer (Llama 3 style) on text files",
		Long: `Train a byte-level BPE tokenizer in the Llama 3 style and write it as a
Hugging Face tokenizer.json plus a tokenizer_config.json with a ChatML chat
template, into a new folder.

Input files ending in .jsonl hold one JSON object per line, whose "text" (or
the contents of its "messages") is one text; any other file is read one text
per line; "--input a.jsonl b.txt", repeated --input and commas all give
several files. The vocabulary size counts the special tokens and the 256 byte
symbols. Special tokens take the first ids and are never merged with text.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// --input a.jsonl b.txt: the names after the first are arguments.
			f.inputs = append(f.inputs, args...)
			return runTokenizerTrain(cmd, &f)
		},
	}
	fl := train.Flags()
	fl.StringSliceVar(&f.inputs, "input", nil, "training text files (.jsonl or plain text), repeatable (required)")
	fl.IntVar(&f.vocabSize, "vocab-size", 4096, "vocabulary size, special tokens and byte symbols included")
	fl.IntVar(&f.minFreq, "min-frequency", 2, "merge only pairs seen at least this often")
	fl.StringSliceVar(&f.specials, "special", tokenizer.DefaultSpecialTokens, "special tokens, in id order")
	fl.StringVar(&f.bos, "bos", tokenizer.BeginOfText, "BOS token (added by the post-processor)")
	fl.StringVar(&f.eos, "eos", tokenizer.EndOfText, "EOS token")
	fl.StringVar(&f.out, "out", "", "output folder, new or empty (required)")
	train.MarkFlagRequired("input")
	train.MarkFlagRequired("out")
	parent.AddCommand(train)
	rootCmd.AddCommand(parent)
}

func runTokenizerTrain(cmd *cobra.Command, f *tokenizerTrainFlags) error {
	texts, readErr := corpus.Texts(f.inputs...)
	start := time.Now()
	stderr := cmd.ErrOrStderr()
	ntexts := 0
	tk, err := tokenizer.Train(texts, tokenizer.TrainOptions{
		VocabSize:     f.vocabSize,
		MinFrequency:  f.minFreq,
		SpecialTokens: f.specials,
		BOS:           f.bos,
		EOS:           f.eos,
		Progress: func(stage string, done, total int) {
			if stage == "count" {
				ntexts = done
			}
		},
	})
	if err := readErr(); err != nil {
		return withCode(2, err)
	}
	if err != nil {
		return withCode(2, err)
	}
	if ntexts == 0 {
		return withCode(2, errors.New("the input files hold no text"))
	}
	err = atomicfile.NewDir(f.out, func(dir string) error {
		if err := tk.Save(filepath.Join(dir, "tokenizer.json")); err != nil {
			return err
		}
		return atomicfile.Write(filepath.Join(dir, "tokenizer_config.json"), tk.TokenizerConfigChatJSON(tokenizer.ChatMLTemplate))
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "trained a %d-token tokenizer on %d texts in %.1fs: %s\n", tk.VocabSize(), ntexts, time.Since(start).Seconds(), f.out)
	if tk.VocabSize() < f.vocabSize {
		fmt.Fprintf(stderr, "note: no pair occurs %d times or more beyond %d tokens (asked for %d)\n", max(1, f.minFreq), tk.VocabSize(), f.vocabSize)
	}
	return nil
}
