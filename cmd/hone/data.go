package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"hone/chat"
	"hone/data"
	"hone/model"
	"hone/tokenizer"
)

// dataFlags are the flags the data subcommands share: how rows are read
// and rendered.
type dataFlags struct {
	model         string
	template      string
	format        string
	maxLen        int
	trainOnPrompt bool
	maxRowBytes   int
}

func (f *dataFlags) register(cmd *cobra.Command, modelRequired bool) {
	fl := cmd.Flags()
	help := "model or tokenizer folder, or Hub id org/name[@revision]: its tokenizer, chat template and context length"
	if !modelRequired {
		help += " (without it, no token checks or statistics)"
	}
	fl.StringVar(&f.model, "model", "", help)
	fl.StringVar(&f.template, "template", "auto", "chat template: auto (the model's, else alpaca for Alpaca data and chatml otherwise), "+strings.Join(chat.Names(), ", ")+" or a FILE.jinja")
	fl.StringVar(&f.format, "format", "auto", "data format: auto, chat, sharegpt, alpaca, prompt-completion or text")
	fl.IntVar(&f.maxLen, "max-len", 0, "context length in tokens (0: the model's max_position_embeddings when config.json has it)")
	fl.BoolVar(&f.trainOnPrompt, "train-on-prompt", false, "train on every token, not only the assistant turns")
	fl.IntVar(&f.maxRowBytes, "max-row-bytes", data.DefaultMaxRowBytes, "largest row (line) accepted, in bytes")
	if modelRequired {
		cmd.MarkFlagRequired("model")
	}
}

// renderer is what the flags resolve to for rendering.
type renderer struct {
	tok     *tokenizer.Tokenizer
	tmpl    *chat.Template
	tokFile string
	maxLen  int
}

// load resolves the tokenizer, template and context length; first is a
// data file whose format chooses the fallback template.
func (f *dataFlags) load(first string) (*renderer, data.ReadOptions, error) {
	format, err := data.ParseFormat(f.format)
	if err != nil {
		return nil, data.ReadOptions{}, withCode(2, err)
	}
	ro := data.ReadOptions{Format: format, MaxRowBytes: f.maxRowBytes}
	if f.model == "" {
		return nil, ro, nil
	}
	dir, err := resolveModel(f.model)
	if err != nil {
		return nil, ro, withCode(2, fmt.Errorf("--model: %w", err))
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, ro, withCode(2, err)
	}
	r := &renderer{tok: tok, maxLen: f.maxLen}
	for _, name := range []string{"tokenizer.json", "tokenizer.json.gz"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			r.tokFile = p
			break
		}
	}
	fallback := data.DefaultTemplate(format)
	if format == data.FormatAuto && first != "" {
		if df, err := data.DetectFormat(first, ro); err == nil {
			fallback = data.DefaultTemplate(df)
		}
	}
	if r.tmpl, err = data.LoadTemplate(f.template, dir, fallback, tok); err != nil {
		return nil, ro, withCode(2, err)
	}
	if r.maxLen == 0 && fileExists(filepath.Join(dir, "config.json")) {
		c, err := model.LoadConfig(dir)
		if err != nil {
			return nil, ro, withCode(2, err)
		}
		r.maxLen = c.MaxPositions
	}
	return r, ro, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

var dataCmd = &cobra.Command{
	Use:   "data",
	Short: "Check, preview and prepare datasets",
	Long: `Work on fine-tuning data before any training step runs.

Files are JSON Lines, JSON arrays or CSV (TSV for .tsv), in the chat (OpenAI
messages, with per-message weight and tool calls), ShareGPT, Alpaca,
prompt-completion or plain-text format, detected from the rows or named with
--format.`,
}

func init() {
	dataCmd.AddCommand(dataCheckCmd(), dataPreviewCmd(), dataPrepareCmd())
	rootCmd.AddCommand(dataCmd)
}

func dataCheckCmd() *cobra.Command {
	var (
		f          dataFlags
		validation []string
		expect     string
		schema     string
		asJSON     bool
		near       float64
	)
	cmd := &cobra.Command{
		Use:   "check FILE... [--model DIR] [--validation FILE] [--expect json] [--schema FILE.json] [--json]",
		Short: "The dataset doctor: report every problem of the files, with its line",
		Long: `Check dataset files and report every problem with its file, line and a reason:
malformed JSON or CSV, missing or empty fields, unknown roles, conversations that
do not end with an assistant turn, exact and near duplicates (MinHash),
conflicting answers to one prompt, examples whose loss mask trains nothing,
examples over the context length, validation examples that are also in the
training files, and, with --expect json or --schema, targets that are not JSON
or do not satisfy the schema. With --model it also renders every example
through the chat template and prints token statistics: length histograms of
prompts and completions, the share of tokens trained, tokens per epoch.

Exit status: 0 when clean, 1 when problems were found, 2 when a file cannot be
used at all (empty, binary, not UTF-8, a row over --max-row-bytes) or the
options are wrong. --json prints the whole report as one JSON object.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if expect != "" && expect != "json" {
				return withCode(2, fmt.Errorf("--expect %q: the only expectation is json", expect))
			}
			r, ro, err := f.load(files[0])
			if err != nil {
				return err
			}
			opts := data.CheckOptions{Read: ro, ExpectJSON: expect == "json", NearDuplicate: near,
				Render: data.RenderOptions{TrainOnPrompt: f.trainOnPrompt}}
			if r != nil {
				opts.Template, opts.Tokenizer, opts.MaxLen = r.tmpl, r.tok, r.maxLen
			}
			if schema != "" {
				if opts.Schema, err = data.LoadSchema(schema); err != nil {
					return withCode(2, err)
				}
			}
			if f, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				last := time.Now()
				opts.Progress = func(file string, rows int) {
					if time.Since(last) > 200*time.Millisecond {
						fmt.Fprintf(f, "\r\033[Kchecking %s: %d rows", file, rows)
						last = time.Now()
					}
				}
			}
			rep, err := data.CheckFiles(files, validation, opts)
			if opts.Progress != nil {
				fmt.Fprint(cmd.ErrOrStderr(), "\r\033[K")
			}
			if err != nil {
				return withCode(2, err)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if rep.Problems == nil {
					rep.Problems = []data.Problem{}
				}
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printReport(w, rep, r)
			}
			switch {
			case rep.Unusable > 0:
				return withCode(2, fmt.Errorf("%d of %d files cannot be used", rep.Unusable, len(rep.Files)))
			case len(rep.Problems) > 0:
				return withCode(1, fmt.Errorf("%d problems found", len(rep.Problems)))
			}
			return nil
		},
	}
	f.register(cmd, false)
	fl := cmd.Flags()
	fl.StringArrayVar(&validation, "validation", nil, "validation file, checked for overlap with the training files (repeatable)")
	fl.StringVar(&expect, "expect", "", "json: every trained assistant turn must be one JSON value")
	fl.StringVar(&schema, "schema", "", "JSON Schema file the targets must satisfy (implies --expect json)")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fl.Float64Var(&near, "near-duplicate", 0.7, "similarity (estimated Jaccard of word 3-shingles) from which examples are near duplicates; negative: off")
	return cmd
}

// printReport writes the doctor's report for a person.
func printReport(w io.Writer, rep *data.Report, r *renderer) {
	for _, fr := range rep.Files {
		role := ""
		if fr.Validation {
			role = " (validation)"
		}
		if fr.Unusable != "" {
			fmt.Fprintf(w, "%s%s: UNUSABLE: %s\n", fr.File, role, fr.Unusable)
			continue
		}
		fmt.Fprintf(w, "%s%s: %s (%s), %d rows, %d examples, %d problems\n", fr.File, role, fr.Format, fr.Container, fr.Rows, fr.Examples, fr.Problems)
		for _, p := range rep.Problems {
			if p.File == fr.File {
				fmt.Fprintf(w, "  %s\n", p)
			}
		}
	}
	st := rep.Train
	fmt.Fprintf(w, "\ntraining examples that read, render and fit: %d\n", st.Examples)
	switch {
	case !st.Tokenized:
		fmt.Fprintln(w, "(no --model: rendering, length checks and token statistics skipped)")
	case st.Examples == 0:
	default:
		fmt.Fprintf(w, "template %s; context length %s\n", r.tmpl.Name, orNone(r.maxLen))
		fmt.Fprintf(w, "tokens: %d, trained %d (%.1f%%); tokens per epoch: %d\n", st.Tokens, st.TrainedTokens, 100*st.TrainedShare, st.TokensPerEpoch)
		for _, h := range []struct {
			name string
			h    *data.Histogram
		}{{"prompt", st.Prompt}, {"completion", st.Completion}, {"total", st.Total}} {
			fmt.Fprintf(w, "  %-10s tokens: min %d, median %d, p95 %d, p99 %d, max %d, mean %.1f\n", h.name, h.h.Min, h.h.P50, h.h.P95, h.h.P99, h.h.Max, h.h.Mean)
		}
		printHistogram(w, *st.Prompt, *st.Completion)
	}
	if len(rep.Kinds) > 0 {
		kinds := make([]string, 0, len(rep.Kinds))
		for k, n := range rep.Kinds {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		}
		sort.Strings(kinds)
		fmt.Fprintf(w, "\n%d problems: %s\n", len(rep.Problems), strings.Join(kinds, ", "))
	} else if rep.Unusable == 0 {
		fmt.Fprintln(w, "\nno problems found")
	}
}

func orNone(n int) string {
	if n <= 0 {
		return "not set"
	}
	return fmt.Sprint(n)
}

// printHistogram draws the prompt and completion length histograms side
// by side, up to the last bucket in use.
func printHistogram(w io.Writer, prompt, completion data.Histogram) {
	last := 0
	peak := 1
	for i := range prompt.Counts {
		if prompt.Counts[i]+completion.Counts[i] > 0 {
			last = i
		}
		peak = max(peak, prompt.Counts[i], completion.Counts[i])
	}
	bar := func(n int) string {
		k := (n*30 + peak - 1) / peak
		return strings.Repeat("#", k) + strings.Repeat(" ", 30-k)
	}
	fmt.Fprintf(w, "  %-13s %-38s %s\n", "tokens", "prompts", "completions")
	for i := 0; i <= last; i++ {
		lo := 0
		if i > 0 {
			lo = data.HistogramBounds[i-1]
		}
		label := fmt.Sprintf("%d+", lo)
		if i < len(data.HistogramBounds) {
			label = fmt.Sprintf("%d-%d", lo, data.HistogramBounds[i]-1)
		}
		fmt.Fprintf(w, "  %-13s %s %6d  %s %6d\n", label, bar(prompt.Counts[i]), prompt.Counts[i], bar(completion.Counts[i]), completion.Counts[i])
	}
}

func dataPreviewCmd() *cobra.Command {
	var (
		f     dataFlags
		n     int
		color string
	)
	cmd := &cobra.Command{
		Use:   "preview FILE --model DIR [-n 3]",
		Short: "Show examples as the model sees them, trained tokens highlighted",
		Long: `Render the first examples of a file through the chat template and tokenizer
and print them with the trained tokens highlighted: in colour on a terminal,
between [[ and ]] otherwise (--color always|never overrides), with their token
counts. Rows with problems are skipped (hone data check lists them).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, ro, err := f.load(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			useColor := false
			switch color {
			case "always":
				useColor = true
			case "never":
			case "auto":
				if o, ok := w.(*os.File); ok {
					useColor = term.IsTerminal(int(o.Fd()))
				}
			default:
				return withCode(2, fmt.Errorf("--color %q: want auto, always or never", color))
			}
			rd, err := data.Open(args[0], ro)
			if err != nil {
				return withCode(2, err)
			}
			defer rd.Close()
			shown := 0
			for shown < n {
				ex, _, err := rd.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return withCode(2, err)
				}
				if ex == nil {
					continue
				}
				rend, err := data.RenderFull(ex, r.tmpl, r.tok, data.RenderOptions{TrainOnPrompt: f.trainOnPrompt})
				if err != nil {
					fmt.Fprintf(w, "── %s:%d: cannot render: %v\n\n", ex.File, ex.Line, err)
					shown++
					continue
				}
				trained := rend.Trained()
				over := ""
				if r.maxLen > 0 && len(rend.IDs) > r.maxLen {
					over = fmt.Sprintf(", OVER the context length %d", r.maxLen)
				}
				fmt.Fprintf(w, "── %s:%d (%s): %d tokens, %d trained (%.0f%%)%s\n", ex.File, ex.Line, ex.Format, len(rend.IDs), trained, 100*float64(trained)/float64(len(rend.IDs)), over)
				for _, s := range data.Segments(rend) {
					switch {
					case !s.Trained:
						fmt.Fprint(w, s.Text)
					case useColor:
						fmt.Fprintf(w, "\033[1;32m%s\033[0m", s.Text)
					default:
						fmt.Fprintf(w, "[[%s]]", s.Text)
					}
				}
				fmt.Fprint(w, "\n\n")
				shown++
			}
			if shown == 0 {
				return withCode(1, fmt.Errorf("%s: no example could be read (run hone data check)", args[0]))
			}
			fmt.Fprintf(w, "template %s; trained tokens %s\n", r.tmpl.Name, map[bool]string{true: "in green", false: "between [[ ]]"}[useColor])
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().IntVarP(&n, "n", "n", 3, "number of examples to show")
	cmd.Flags().StringVar(&color, "color", "auto", "highlight with colour: auto (on a terminal), always or never")
	return cmd
}

func dataPrepareCmd() *cobra.Command {
	var (
		f          dataFlags
		out        string
		validation string
		valFrac    float64
		mix        string
		mixRatio   float64
		pack       bool
		seed       uint64
	)
	cmd := &cobra.Command{
		Use:   "prepare FILE... --model DIR --out DIR [--val-fraction 0.1 | --validation FILE] [--mix FILE --mix-ratio R] [--pack]",
		Short: "Render, split, mix, shuffle and pack a dataset into binary shards",
		Long: `Prepare a dataset for training: render every example with its loss mask,
split off a validation set (deterministic for --seed; duplicates, near duplicates
and shared prompts stay on one side) or read --validation, mix in a
general-purpose dataset at --mix-ratio of the training rows (against
catastrophic forgetting), shuffle, pack several examples per row (--pack:
positions restart and attention stays inside each example), and write
train.shard, val.shard and manifest.json (hashes of the inputs, template and
tokenizer, and the settings) into --out. Rows with problems, examples with
nothing to train and conversations over --max-len are left out and counted.
Name the --out folder as data.train in a recipe to train on it: hone train
checks that the shards were made with the model's tokenizer and template.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			r, ro, err := f.load(files[0])
			if err != nil {
				return err
			}
			if r.maxLen <= 0 {
				return withCode(2, errors.New("--max-len is required when the model folder has no config.json"))
			}
			if valFrac < 0 || valFrac >= 1 {
				return withCode(2, fmt.Errorf("--val-fraction %v: want 0 <= fraction < 1", valFrac))
			}
			if mixRatio < 0 || mixRatio >= 1 || (mixRatio > 0 && mix == "") {
				return withCode(2, fmt.Errorf("--mix-ratio %v: want 0 <= ratio < 1, with --mix", mixRatio))
			}
			w := cmd.OutOrStdout()
			res, err := data.Prepare(data.PrepareConfig{
				Train: files, Validation: validation, ValFraction: valFrac, Mix: mix, MixRatio: mixRatio,
				Read: ro, Template: r.tmpl, Tokenizer: r.tok, TokenizerFile: r.tokFile,
				Render: data.RenderOptions{TrainOnPrompt: f.trainOnPrompt}, MaxLen: r.maxLen,
				Pack: pack, Seed: seed, Out: out,
			}, func(s string) { fmt.Fprintln(w, "hone:", s) })
			if err != nil {
				var ue *data.UnusableError
				if errors.As(err, &ue) {
					return withCode(2, err)
				}
				return err
			}
			for _, s := range res.Manifest.Shards {
				fmt.Fprintf(w, "%s: %d examples in %d rows, %d tokens (%d trained)\n", filepath.Join(out, s.File), s.Examples, s.Rows, s.Tokens, s.TrainedTokens)
			}
			keys := make([]string, 0, len(res.Manifest.Skipped))
			for k := range res.Manifest.Skipped {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(w, "left out: %d %s\n", res.Manifest.Skipped[k], k)
				for _, first := range res.Manifest.SkippedFirst[k] {
					fmt.Fprintf(w, "  %s\n", first)
				}
			}
			fmt.Fprintf(w, "manifest: %s\n", filepath.Join(out, "manifest.json"))
			return nil
		},
	}
	f.register(cmd, true)
	fl := cmd.Flags()
	fl.StringVar(&out, "out", "", "output folder (required)")
	fl.StringVar(&validation, "validation", "", "validation file (instead of splitting one off)")
	fl.Float64Var(&valFrac, "val-fraction", 0.1, "share of the examples split off for validation")
	fl.StringVar(&mix, "mix", "", "general-purpose dataset to mix in")
	fl.Float64Var(&mixRatio, "mix-ratio", 0, "share of the training rows drawn from --mix")
	fl.BoolVar(&pack, "pack", false, "pack several examples into each row")
	fl.Uint64Var(&seed, "seed", 0, "seed of the split, the mix and the order")
	cmd.MarkFlagRequired("out")
	return cmd
}
