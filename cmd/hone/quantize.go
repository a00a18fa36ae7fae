package main

import (
	"fmt"
	"hone/internal/atomicfile"
	"strings"

	"github.com/spf13/cobra"

	"hone/model"
	"hone/quant"
	"hone/tensor"
)

func init() {
	var modelDir, format, out string
	var double bool
	cmd := &cobra.Command{
		Use:   "quantize --model DIR --format nf4|int8|q8_0|q4_0 --out DIR",
		Short: "Store a model's decoder projections quantised (NF4 for QLoRA, int8, Q8_0, Q4_0)",
		Long: `Quantise the seven decoder projections of every layer (q, k, v, o, gate, up,
down) and write a model folder that hone loads directly: a QLoRA run over an nf4
folder skips quantising at load time, and inference dequantises a tile at a
time. Embeddings, norms and the LM head keep their dtype (bfloat16 or float32).
nf4 is bitsandbytes' NormalFloat4 in blocks of 64 (double-quantised scales unless
--double=false), int8 keeps one scale per output row, q8_0 and q4_0 are ggml's
blocks of 32. The folder records the format in config.json's quantization_config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			found := false
			for _, f := range quant.MatrixFormats {
				found = found || f == format
			}
			if !found {
				return withCode(2, fmt.Errorf("--format %q: want one of %s", format, strings.Join(quant.MatrixFormats, ", ")))
			}
			modelDir, err := resolveModel(modelDir)
			if err != nil {
				return err
			}
			m, closeModel, err := model.Load(modelDir, model.FP32)
			if err != nil {
				return err
			}
			defer closeModel()
			if m.Config.Quant != nil {
				return fmt.Errorf("%s is already quantised (%s)", modelDir, m.Config.Quant.Format)
			}
			before := int64(0)
			for _, name := range m.Config.LinearNames() {
				out, in := m.W.LinearByName(name).Dims()
				before += int64(out * in * 2)
			}
			after, err := m.W.Quantize(m.Config, format, double, model.FP32)
			if err != nil {
				return err
			}
			dt := tensor.F32
			if m.Config.DType == "bfloat16" {
				dt = tensor.BF16
			}
			if err := atomicfile.NewDir(out, func(dir string) error {
				if err := model.Save(dir, m.Config, m.W, dt); err != nil {
					return err
				}
				return atomicfile.CopyFiles(modelDir, dir, model.TokenizerFiles...)
			}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: projections %s -> %s (%s, %.2f bits per weight)\n", out,
				byteSize(before), byteSize(after), format, 8*float64(after)/float64(before/2))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&modelDir, "model", "", "model folder (required)")
	fl.StringVar(&format, "format", "nf4", "nf4, int8, q8_0 or q4_0")
	fl.BoolVar(&double, "double", true, "nf4: double-quantise the block scales (QLoRA's default)")
	fl.StringVar(&out, "out", "", "output folder; must not exist or be empty (required)")
	cmd.MarkFlagRequired("model")
	cmd.MarkFlagRequired("out")
	rootCmd.AddCommand(cmd)
}

// byteSize prints a byte count with a binary unit.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
