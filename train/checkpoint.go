package train

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"hone/internal/atomicfile"
	"hone/safetensors"
	"hone/tensor"
)

// Save writes a resumable checkpoint into CheckpointDir: the weights (via
// Ckpt), the optimizer moments (optimizer.safetensors) and the loop state
// (trainer_state.json). The folder is built under a temporary name and
// swapped in whole, so a crash leaves the previous checkpoint intact.
func (t *Trainer) Save() error {
	if t.CheckpointDir == "" || t.Ckpt == nil {
		return nil
	}
	parent := filepath.Dir(filepath.Clean(t.CheckpointDir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(t.CheckpointDir)+".tmp*")
	if err != nil {
		return err
	}
	fail := func(err error) error {
		os.RemoveAll(tmp)
		return fmt.Errorf("checkpoint %s: %w", t.CheckpointDir, err)
	}
	if err := t.Ckpt.SaveWeights(tmp); err != nil {
		return fail(err)
	}
	if err := t.saveOptimizer(filepath.Join(tmp, "optimizer.safetensors")); err != nil {
		return fail(err)
	}
	st := t.State
	if math.IsInf(st.Best, 1) {
		st.Best = -1 // JSON has no infinity; -1 means "none yet"
	}
	data, _ := json.MarshalIndent(st, "", "  ")
	if err := atomicfile.Write(filepath.Join(tmp, "trainer_state.json"), append(data, '\n')); err != nil {
		return fail(err)
	}
	old := t.CheckpointDir + ".old"
	os.RemoveAll(old)
	if _, err := os.Stat(t.CheckpointDir); err == nil {
		if err := os.Rename(t.CheckpointDir, old); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(tmp, t.CheckpointDir); err != nil {
		os.Rename(old, t.CheckpointDir)
		return fail(err)
	}
	os.RemoveAll(old)
	return nil
}

func (t *Trainer) saveOptimizer(path string) error {
	m, v := t.Opt.State()
	var named []safetensors.Named
	for i, p := range t.Params {
		named = append(named,
			safetensors.Named{Name: p.Name + ".exp_avg", Tensor: tensor.FromF32(m[i], p.Value.Shape...)},
			safetensors.Named{Name: p.Name + ".exp_avg_sq", Tensor: tensor.FromF32(v[i], p.Value.Shape...)})
	}
	meta := map[string]string{"step": fmt.Sprint(t.Opt.Step)}
	return safetensors.Write(path, named, meta)
}

// Resume restores a checkpoint written by Save: weights, optimizer and loop
// state, so that the run continues exactly where it stopped.
func (t *Trainer) Resume(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "trainer_state.json"))
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("resume: %s: %w", filepath.Join(dir, "trainer_state.json"), err)
	}
	if st.Best < 0 {
		st.Best = math.Inf(1)
	}
	if err := t.Ckpt.LoadWeights(dir); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	path := filepath.Join(dir, "optimizer.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	defer f.Close()
	var m, v [][]float32
	for _, p := range t.Params {
		for _, k := range []struct {
			suffix string
			dst    *[][]float32
		}{{".exp_avg", &m}, {".exp_avg_sq", &v}} {
			x, err := f.Tensor(p.Name + k.suffix)
			if err != nil {
				return fmt.Errorf("resume: %s: %w", path, err)
			}
			if x.DType != tensor.F32 || x.Numel() != p.Value.Numel() {
				return fmt.Errorf("resume: %s: %s%s is %v, want F32 of %d values", path, p.Name, k.suffix, x, p.Value.Numel())
			}
			*k.dst = append(*k.dst, append([]float32(nil), x.F32()...))
		}
	}
	var step int
	fmt.Sscan(f.Metadata()["step"], &step)
	if err := t.Opt.SetState(step, m, v); err != nil {
		return fmt.Errorf("resume: %s: %w", path, err)
	}
	t.State = st
	return nil
}
