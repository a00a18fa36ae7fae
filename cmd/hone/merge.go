package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"hone/internal/atomicfile"
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
			p := newProgress(cmd.ErrOrStderr())
			defer p.done()
			p.Stage("loading " + modelDir)
			m, closeModel, err := model.Load(modelDir, model.FP32)
			if err != nil {
				return err
			}
			defer closeModel()
			p.Note(fmt.Sprintf("loaded %s: %s, %d layers, %.1fM parameters, %s", modelDir, m.Config.ModelType,
				m.Config.Layers, float64(m.Config.NumParams())/1e6, orDefault(m.Config.DType, "float32")))
			set, err := lora.Load(adapterDir, m)
			if err != nil {
				return err
			}
			p.Note(fmt.Sprintf("loaded adapter %s: %d adapted matrices, r=%d, alpha=%g", adapterDir, len(set.Adapters), set.Config.R, set.Config.Alpha))
			dt, err := saveDType(dtype, m.Config.DType)
			if err != nil {
				return withCode(2, err)
			}
			merged := mergeWithProgress(p, set, m)
			p.Stage(fmt.Sprintf("writing %s (%s)", out, dt))
			start := time.Now()
			if err := atomicfile.NewDir(out, func(dir string) error {
				if err := model.Save(dir, m.Config, merged, dt); err != nil {
					return err
				}
				return atomicfile.CopyFiles(modelDir, dir, model.TokenizerFiles...)
			}); err != nil {
				return err
			}
			p.done()
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s merged into %s (%s, %s, written in %s)\n", out, adapterDir, modelDir, dt,
				byteSize(folderBytes(out)), time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&modelDir, "model", "", "base model folder or Hub id org/name[@revision] (required)")
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

// mergeWithProgress is set.Merge(m), one adapted matrix at a time so that
// the progress shows: each step merges one adapter into the weights merged
// so far (Merge copies the layer list and leaves its input unchanged).
func mergeWithProgress(p *progress, set *lora.Set, m *model.Model) *model.Weights {
	n := len(set.Adapters)
	if n == 0 {
		return set.Merge(m)
	}
	start := time.Now()
	cur := m
	var w *model.Weights
	for i, a := range set.Adapters {
		one := &lora.Set{Config: set.Config, Adapters: []*lora.Adapter{a}}
		w = one.Merge(cur)
		cur = model.New(m.Config, w)
		p.Count("merging adapted matrices", i+1, n, start)
	}
	return w
}

// folderBytes is the total size of the files directly in dir.
func folderBytes(dir string) int64 {
	ents, _ := os.ReadDir(dir)
	var n int64
	for _, e := range ents {
		if st, err := os.Stat(filepath.Join(dir, e.Name())); err == nil && !st.IsDir() {
			n += st.Size()
		}
	}
	return n
}

// orDefault is s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
