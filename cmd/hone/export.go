package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"hone/export"
	"hone/gguf"
)

func init() {
	var (
		opt       export.Options
		format    string
		ggufType  string
		threads   int
		tolerance float64
	)
	cmd := &cobra.Command{
		Use:   "export --model DIR [--adapter DIR] --format hf|peft|gguf --out DIR",
		Short: "Export a model as a Hugging Face folder, a PEFT adapter or GGUF for llama.cpp and Ollama",
		Long: `Export a model (with its LoRA adapter, if given) for other tools:

  hf    a merged Hugging Face folder: config.json, model.safetensors in the
        base's dtype (or --dtype), tokenizer files, generation_config.json
  peft  the adapter folder alone (adapter_config.json, adapter_model.safetensors)
  gguf  model.gguf for llama.cpp and Ollama (--type F32, F16, BF16, Q8_0, Q4_0
        or Q4_K_M), the adapter merged in, or kept as adapter.gguf with
        --merge=false, and an Ollama Modelfile

Every export is read back and checked against the model in memory: logits on
fixed prompts within the type's tolerance, the same tokenization and the same
chat-template rendering. If the check fails nothing is written and hone exits
with status 3. The output folder is built under a temporary name and renamed
when complete.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opt.Format = export.Format(format)
			dir, err := resolveModel(opt.Model)
			if err != nil {
				return err
			}
			if dir != opt.Model {
				// a Hub id: the folder is a snapshot named by its commit
				opt.Name = hubModelName(opt.Model)
			}
			opt.Model = dir
			t, err := parseGGUFType(ggufType)
			if err != nil {
				return withCode(2, err)
			}
			opt.Type = t
			opt.Engine = newEngine(threads)
			opt.Parity.Tol = tolerance
			opt.Log = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
			res, err := export.Export(opt)
			if errors.Is(err, export.ErrParity) {
				return withCode(3, err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "parity: %s\n", res.Parity)
			for _, f := range res.Files {
				fmt.Println(f)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opt.Model, "model", "", "base model folder or Hub id org/name[@revision] (required)")
	fl.StringVar(&opt.Adapter, "adapter", "", "PEFT adapter folder to export or merge")
	fl.StringVar(&format, "format", "", "hf, peft or gguf (required)")
	fl.StringVar(&opt.Out, "out", "", "output folder; must not exist or be empty (required)")
	fl.StringVar(&opt.DType, "dtype", "auto", "hf: weight dtype: auto (the base's), float32, bfloat16 or float16")
	fl.StringVar(&ggufType, "type", "F16", "gguf: tensor type of the matrices: F32, F16, BF16, Q8_0, Q4_0 or Q4_K_M")
	fl.BoolVar(&opt.Merge, "merge", true, "gguf: merge the adapter into the weights (false: write adapter.gguf)")
	fl.BoolVar(&opt.Modelfile, "modelfile", true, "gguf: write an Ollama Modelfile")
	fl.Float64Var(&tolerance, "tolerance", 0, "parity: largest logit difference relative to the logit range (0: the type's default)")
	fl.IntVar(&threads, "threads", 0, "compute threads for the parity check (0: one per core)")
	for _, n := range []string{"model", "format", "out"} {
		cmd.MarkFlagRequired(n)
	}
	rootCmd.AddCommand(cmd)
}

// parseGGUFType reads a --type value; Q4_K_M and Q4_K name the same mix.
func parseGGUFType(s string) (gguf.TensorType, error) {
	u := strings.ToUpper(s)
	if u == "Q4_K_M" {
		u = "Q4_K"
	}
	t, err := gguf.ParseTensorType(u)
	switch t {
	case gguf.F32, gguf.F16, gguf.BF16, gguf.Q8_0, gguf.Q4_0, gguf.Q4_K:
	default:
		err = fmt.Errorf("unsupported")
	}
	if err != nil {
		return 0, fmt.Errorf("--type %q: want F32, F16, BF16, Q8_0, Q4_0 or Q4_K_M", s)
	}
	return t, nil
}

// hubModelName is the model's name in a Hub id org/name[@revision]: name.
func hubModelName(id string) string {
	id, _, _ = strings.Cut(id, "@")
	return id[strings.LastIndex(id, "/")+1:]
}
