package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"hone/export"
	"hone/model"
)

func init() {
	var (
		adapterA, adapterB string
		ggufType           string
		tolerance          float64
		threads            int
		prompts            []string
	)
	cmd := &cobra.Command{
		Use:   "parity A B",
		Short: "Check that two models (folders, Hub ids or GGUF files) give the same logits, tokens and chat renderings",
		Long: `Compare model B against reference model A, each a Hugging Face folder, a
Hub id (org/name[@revision], resolved through the Hugging Face cache) or a GGUF
file (with --adapter-a / --adapter-b: a PEFT folder or a GGUF adapter): logits
on fixed prompts must agree within a tolerance relative to A's logit range
(--tolerance, or the default of --type), tokenization and decoding must be
identical, and the chat templates must render the same text. Prints the
measurements; exits with status 3 when the models disagree.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			pathA, err := resolveModelOrFile(args[0])
			if err != nil {
				return err
			}
			pathB, err := resolveModelOrFile(args[1])
			if err != nil {
				return err
			}
			a, closeA, err := export.Open(pathA, adapterA, model.FP32)
			if err != nil {
				return err
			}
			defer closeA()
			b, closeB, err := export.Open(pathB, adapterB, model.FP32)
			if err != nil {
				return err
			}
			defer closeB()
			t, err := parseGGUFType(ggufType)
			if err != nil {
				return withCode(2, err)
			}
			opt := export.ParityOptions{Tol: tolerance}
			if opt.Tol == 0 {
				opt.Tol = export.Tolerance(t)
			}
			if len(prompts) > 0 {
				opt.Prompts = prompts
			}
			r, err := export.Parity(newEngine(threads), a, b, opt)
			if r != nil {
				fmt.Println(r)
			}
			if errors.Is(err, export.ErrParity) {
				return withCode(3, err)
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&adapterA, "adapter-a", "", "adapter applied to A")
	fl.StringVar(&adapterB, "adapter-b", "", "adapter applied to B")
	fl.StringVar(&ggufType, "type", "F32", "tolerance preset: the tensor type B was exported in (F32, F16, BF16, Q8_0, Q4_0, Q4_K_M)")
	fl.Float64Var(&tolerance, "tolerance", 0, "largest logit difference relative to A's logit range (overrides --type)")
	fl.StringArrayVar(&prompts, "prompt", nil, "prompt to compare on (repeatable; default: a fixed set)")
	fl.IntVar(&threads, "threads", 0, "compute threads (0: one per core)")
	rootCmd.AddCommand(cmd)
}
