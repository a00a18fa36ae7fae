package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"hone/tokenizer"
)

type tokenizeFlags struct {
	tokenizer string
	special   bool
	jsonl     bool
}

func init() {
	var f tokenizeFlags
	cmd := &cobra.Command{
		Use:   "tokenize --tokenizer DIR [--special] [--jsonl]",
		Short: "Print the token ids of text read from standard input",
		Long: `Tokenize standard input with a Hugging Face tokenizer.json (a folder holding
tokenizer.json or tokenizer.json.gz, or the file itself) and print the ids.

Without --jsonl the whole input is one text and the ids are printed on one line,
separated by spaces. With --jsonl every input line is a JSON string and every
output line is the JSON array of its ids; lines are encoded in parallel and
blank lines are skipped.

Special tokens written in the text (such as <|eot_id|>) are always matched;
--special also applies the post-processor (BOS/EOS, e.g. <s> for Llama 2).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTokenize(cmd.InOrStdin(), cmd.OutOrStdout(), &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.tokenizer, "tokenizer", "", "tokenizer folder, tokenizer.json file or Hub id org/name[@revision] (required)")
	fl.BoolVar(&f.special, "special", false, "add the special tokens of the post-processor (BOS/EOS)")
	fl.BoolVar(&f.jsonl, "jsonl", false, "read one JSON string per line, write one JSON array of ids per line")
	cmd.MarkFlagRequired("tokenizer")
	rootCmd.AddCommand(cmd)
}

func runTokenize(in io.Reader, out io.Writer, f *tokenizeFlags) error {
	path, err := resolveModelOrFile(f.tokenizer)
	if err != nil {
		return withCode(2, fmt.Errorf("--tokenizer: %w", err))
	}
	tk, err := tokenizer.Load(path)
	if err != nil {
		return withCode(2, err)
	}
	w := bufio.NewWriterSize(out, 1<<16)
	if !f.jsonl {
		data, err := io.ReadAll(in)
		if err != nil {
			return err
		}
		writeIDs(w, tk.Encode(string(data), f.special), ' ')
		w.WriteByte('\n')
		return w.Flush()
	}
	r := bufio.NewReaderSize(in, 1<<16)
	const batch = 512
	var texts []string
	line := 0
	flush := func() {
		for _, ids := range tk.EncodeBatch(texts, f.special) {
			w.WriteByte('[')
			writeIDs(w, ids, ',')
			w.WriteString("]\n")
		}
		texts = texts[:0]
	}
	for {
		raw, err := r.ReadBytes('\n')
		if len(raw) > 0 {
			line++
			raw = bytes.TrimRight(raw, "\r\n")
			if len(bytes.TrimSpace(raw)) == 0 {
				continue
			}
			var s string
			if jerr := json.Unmarshal(raw, &s); jerr != nil {
				flush()
				w.Flush()
				return withCode(2, fmt.Errorf("stdin:%d: not a JSON string: %v", line, jerr))
			}
			texts = append(texts, s)
			if len(texts) == batch {
				flush()
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	flush()
	return w.Flush()
}

// writeIDs writes ids separated by sep.
func writeIDs(w *bufio.Writer, ids []int32, sep byte) {
	var buf [16]byte
	for i, id := range ids {
		if i > 0 {
			w.WriteByte(sep)
		}
		w.Write(strconv.AppendInt(buf[:0], int64(id), 10))
	}
}
