package recipe

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"hone/internal/atomicfile"
	"hone/lora"
	"hone/model"
	"hone/safetensors"
	"hone/tensor"
	"hone/train"
)

// loraCheckpoint saves and restores a LoRA run's adapters (as a PEFT
// folder) and their dropout streams; Best keeps a copy as the run's adapter.
type loraCheckpoint struct {
	set  *lora.Set
	m    *model.Model
	best string
}

func (c *loraCheckpoint) SaveWeights(dir string) error {
	if err := c.set.Save(dir); err != nil {
		return err
	}
	st, err := c.set.RNGState()
	if err != nil {
		return err
	}
	data, _ := json.Marshal(st)
	return atomicfile.Write(filepath.Join(dir, "rng_state.json"), data)
}

func (c *loraCheckpoint) LoadWeights(dir string) error {
	path := filepath.Join(dir, "adapter_model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range c.set.Params() {
		t, err := f.Tensor(p.Name)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if !t.SameShape(p.Value) {
			return fmt.Errorf("%s: %s is %v, the run has %v", path, p.Name, t, p.Value)
		}
		copy(p.Value.Data, t.ToF32().Data)
	}
	data, err := os.ReadFile(filepath.Join(dir, "rng_state.json"))
	if err != nil {
		return err
	}
	var st [][]byte
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, "rng_state.json"), err)
	}
	return c.set.SetRNGState(st)
}

func (c *loraCheckpoint) Best(step int, loss float64) error {
	return atomicfile.ReplaceDir(c.best, c.set.Save)
}

// fullCheckpoint saves and restores the trainable weights of full
// fine-tuning; Best keeps a loadable model folder.
type fullCheckpoint struct {
	m      *model.Model
	params []train.Param
	best   string
	tokDir string
}

func (c *fullCheckpoint) SaveWeights(dir string) error {
	var named []safetensors.Named
	for _, p := range c.params {
		named = append(named, safetensors.Named{Name: p.Name, Tensor: p.Value})
	}
	return safetensors.Write(filepath.Join(dir, "weights.safetensors"), named, nil)
}

func (c *fullCheckpoint) LoadWeights(dir string) error {
	path := filepath.Join(dir, "weights.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range c.params {
		t, err := f.Tensor(p.Name)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if t.DType != tensor.F32 || !t.SameShape(p.Value) {
			return fmt.Errorf("%s: %s is %v, the run has %v", path, p.Name, t, p.Value)
		}
		copy(p.Value.Data, t.Data)
	}
	return nil
}

func (c *fullCheckpoint) Best(step int, loss float64) error {
	dt := tensor.F32
	if c.m.Config.DType == "bfloat16" {
		dt = tensor.BF16
	}
	return atomicfile.ReplaceDir(c.best, func(dir string) error {
		if err := model.Save(dir, c.m.Config, c.m.W, dt); err != nil {
			return err
		}
		return atomicfile.CopyFiles(c.tokDir, dir, model.TokenizerFiles...)
	})
}
