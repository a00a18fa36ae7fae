package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"hone/internal/atomicfile"
	"hone/model"
	"hone/tensor"
	"hone/tokenizer"
)

func init() {
	convertCmd := &cobra.Command{
		Use:   "convert",
		Short: "Convert checkpoints from other formats into Hugging Face folders",
	}
	var ckpt, tok, out string
	llama2c := &cobra.Command{
		Use:   "llama2c --checkpoint MODEL.bin --tokenizer TOKENIZER.bin --out DIR",
		Short: "Convert a llama2.c checkpoint and tokenizer into a Hugging Face folder",
		Long: `Convert a llama2.c checkpoint (legacy format) and its tokenizer.bin into a
Hugging Face folder: config.json, model.safetensors, tokenizer.json,
tokenizer_config.json and generation_config.json, loadable by hone and by
transformers. The q/k projections are permuted to Hugging Face's rotary layout.
The folder is written under a temporary name and renamed when complete.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, w, err := model.ReadLlama2C(ckpt)
			if err != nil {
				return err
			}
			t, err := tokenizer.FromLlama2C(tok)
			if err != nil {
				return err
			}
			if t.VocabSize() != c.Vocab {
				return fmt.Errorf("%s has %d tokens but %s has a vocabulary of %d", tok, t.VocabSize(), ckpt, c.Vocab)
			}
			return atomicfile.NewDir(out, func(dir string) error {
				if err := model.Save(dir, c, w, tensor.F32); err != nil {
					return err
				}
				if err := t.Save(filepath.Join(dir, "tokenizer.json")); err != nil {
					return err
				}
				tc := map[string]any{
					"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
					"unk_token": "<unk>", "add_bos_token": true, "add_eos_token": false,
					"model_max_length": c.MaxPositions, "clean_up_tokenization_spaces": false,
				}
				data, _ := json.MarshalIndent(tc, "", "  ")
				return atomicfile.Write(filepath.Join(dir, "tokenizer_config.json"), append(data, '\n'))
			})
		},
	}
	fl := llama2c.Flags()
	fl.StringVar(&ckpt, "checkpoint", "", "llama2.c checkpoint (.bin, legacy format) (required)")
	fl.StringVar(&tok, "tokenizer", "", "llama2.c tokenizer.bin (required)")
	fl.StringVar(&out, "out", "", "output folder; must not exist or be empty (required)")
	for _, n := range []string{"checkpoint", "tokenizer", "out"} {
		llama2c.MarkFlagRequired(n)
	}
	convertCmd.AddCommand(llama2c)
	rootCmd.AddCommand(convertCmd)
}
