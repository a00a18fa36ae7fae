package main

import (
	"fmt"
	"hone/internal/atomicfile"

	"github.com/spf13/cobra"

	"hone/lora"
	"hone/model"
	"hone/tensor"
)

func init() {
	var modelDir, adapterDir, out, dtype string
	cmd := &cobra.Command{
		Use:   "merge --model DIR --adapter DIR --out DIR",
		Short: "Fold a LoRA adapter into its base model and save a plain Hugging Face folder",
		Long: `Fold a LoRA adapter into the base weights (W + scale·B·A, computed in float32)
and write a plain Hugging Face folder that needs no adapter: config.json,
generation_config.json, model.safetensors in the base's dtype (or --dtype), and
the base's tokenizer files. The folder is written under a temporary name and
renamed when complete.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			modelDir, err := resolveModel(modelDir)
			if err != nil {
				return err
			}
			m, closeModel, err := model.Load(modelDir, model.FP32)
			if err != nil {
				return err
			}
			defer closeModel()
			set, err := lora.Load(adapterDir, m)
			if err != nil {
				return err
			}
			dt, err := saveDType(dtype, m.Config.DType)
			if err != nil {
				return err
			}
			merged := set.Merge(m)
			return atomicfile.NewDir(out, func(dir string) error {
				if err := model.Save(dir, m.Config, merged, dt); err != nil {
					return err
				}
				return atomicfile.CopyFiles(modelDir, dir, model.TokenizerFiles...)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&modelDir, "model", "", "base model folder (required)")
	fl.StringVar(&adapterDir, "adapter", "", "PEFT adapter folder (required)")
	fl.StringVar(&out, "out", "", "output folder; must not exist or be empty (required)")
	fl.StringVar(&dtype, "dtype", "auto", "weight dtype of the output: auto (the base's), float32, bfloat16 or float16")
	for _, n := range []string{"model", "adapter", "out"} {
		cmd.MarkFlagRequired(n)
	}
	rootCmd.AddCommand(cmd)
}

// saveDType maps a --dtype value (or "auto": the base's torch_dtype) to a
// tensor dtype.
func saveDType(flag, base string) (tensor.DType, error) {
	if flag == "auto" {
		flag = base
	}
	switch flag {
	case "float32", "fp32", "":
		return tensor.F32, nil
	case "bfloat16", "bf16":
		return tensor.BF16, nil
	case "float16", "fp16":
		return tensor.F16, nil
	}
	return 0, fmt.Errorf("--dtype %q: want float32, bfloat16 or float16", flag)
}
