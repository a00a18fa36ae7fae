package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"hone/internal/atomicfile"
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
			p := newProgress(cmd.ErrOrStderr())
			defer p.done()
			p.Stage("loading " + modelDir)
			m, closeModel, err := model.Load(modelDir, model.FP32)
			if err != nil {
				return err
			}
			defer closeModel()
			if m.Config.Quant != nil {
				return fmt.Errorf("%s is already quantised (%s)", modelDir, m.Config.Quant.Format)
			}
			p.Note(fmt.Sprintf("loaded %s: %s, %d layers, %.1fM parameters", modelDir, m.Config.ModelType,
				m.Config.Layers, float64(m.Config.NumParams())/1e6))
			before := int64(0)
			for _, name := range m.Config.LinearNames() {
				out, in := m.W.LinearByName(name).Dims()
				before += int64(out * in * 2)
			}
			after, err := quantizeWithProgress(p, m, format, double)
			if err != nil {
				return err
			}
			dt := tensor.F32
			if m.Config.DType == "bfloat16" {
				dt = tensor.BF16
			}
			p.Stage(fmt.Sprintf("writing %s", out))
			if err := atomicfile.NewDir(out, func(dir string) error {
				if err := model.Save(dir, m.Config, m.W, dt); err != nil {
					return err
				}
				return atomicfile.CopyFiles(modelDir, dir, model.TokenizerFiles...)
			}); err != nil {
				return err
			}
			p.done()
			fmt.Fprintf(cmd.OutOrStdout(), "%s: projections %s -> %s (%s, %.2f bits per weight)\n", out,
				byteSize(before), byteSize(after), format, 8*float64(after)/float64(before/2))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&modelDir, "model", "", "model folder or Hub id org/name[@revision] (required)")
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

// quantizeWithProgress is m.W.Quantize over the model's projections, a
// layer at a time so that the progress shows: Quantize over the first i+1
// layers leaves the layers already quantised as they are, and returns the
// bytes of all of them, so its last answer is the total.
func quantizeWithProgress(p *progress, m *model.Model, format string, double bool) (int64, error) {
	start := time.Now()
	c := *m.Config
	var n int64
	for i := 0; i < m.Config.Layers; i++ {
		c.Layers = i + 1
		var err error
		if n, err = m.W.Quantize(&c, format, double, model.FP32); err != nil {
			return 0, err
		}
		p.Count("quantizing layers", i+1, m.Config.Layers, start)
	}
	return n, nil
}
