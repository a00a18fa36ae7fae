package main

import (
	"context"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"hone/compute"
	"hone/hub"
	"hone/lora"
	"hone/model"
)

// modelFlags are the flags of every command that runs a model.
type modelFlags struct {
	model     string
	adapter   string
	precision string
	threads   int
}

func (f *modelFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model folder (Hugging Face layout) or Hub id org/name[@revision] (required)")
	fl.StringVar(&f.adapter, "adapter", "", "LoRA adapter folder (PEFT layout) to apply")
	fl.StringVar(&f.precision, "precision", "fp32", "compute precision: fp32 or bf16")
	fl.IntVar(&f.threads, "threads", 0, "compute threads (0: one per core)")
	cmd.MarkFlagRequired("model")
}

// loadedModel is a model ready to run, with what must be released after.
type loadedModel struct {
	Dir     string
	Model   *model.Model
	Adapter *lora.Set
	Engine  compute.Engine
	Prec    model.Precision
	close   func() error
}

// Close releases the model's memory maps.
func (l *loadedModel) Close() error {
	if l.close != nil {
		return l.close()
	}
	return nil
}

func (f *modelFlags) load() (*loadedModel, error) {
	prec, err := model.ParsePrecision(f.precision)
	if err != nil {
		return nil, err
	}
	dir, err := resolveModel(f.model)
	if err != nil {
		return nil, err
	}
	m, closer, err := model.Load(dir, prec)
	if err != nil {
		return nil, err
	}
	lm := &loadedModel{Dir: dir, Model: m, Prec: prec, close: closer, Engine: newEngine(f.threads)}
	if f.adapter != "" {
		s, err := lora.Load(f.adapter, m)
		if err != nil {
			closer()
			return nil, err
		}
		lm.Adapter = s
	}
	return lm, nil
}

// resolveModel returns the folder of a --model value: the folder itself, or
// the local snapshot of a Hugging Face Hub id, downloaded into the standard
// cache when it is not there yet (HF_HUB_OFFLINE=1 forbids downloading).
func resolveModel(s string) (string, error) {
	return hub.Resolve(context.Background(), s, hub.FromEnv())
}

// resolveModelOrFile is resolveModel for arguments that may also name a
// file (a GGUF model or adapter): an existing path, or a name ending in
// .gguf, is returned as it is; anything else resolves as a --model value.
func resolveModelOrFile(s string) (string, error) {
	if _, err := os.Stat(s); err == nil || strings.HasSuffix(strings.ToLower(s), ".gguf") {
		return s, nil
	}
	return resolveModel(s)
}
