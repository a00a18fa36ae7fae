package lora

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"hone/internal/atomicfile"
	"hone/model"
	"hone/safetensors"
	"hone/tensor"
)

// Set is the adapters of one model, in module order.
type Set struct {
	Config   Config
	Adapters []*Adapter
}

// peftPrefix is what PEFT puts before a module name in saved keys.
const peftPrefix = "base_model.model."

// Key returns the saved PEFT key of an adapter tensor: which is "lora_A" or
// "lora_B".
func Key(module, which string) string { return peftPrefix + module + "." + which + ".weight" }

// New creates adapters for every targeted linear layer of m, initialised as
// PEFT does from seed (each module draws from its own stream derived from
// the seed and its name, so the result does not depend on the order of
// creation). The adapters are attached to m and gradients allocated.
func New(m *model.Model, cfg Config, seed uint64) (*Set, error) {
	if cfg.Init == "" {
		cfg.Init = "kaiming"
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Set{Config: cfg}
	for _, name := range m.Config.LinearNames() {
		if !cfg.Targeted(name) {
			continue
		}
		lin := m.W.LinearByName(name)
		r, alpha := cfg.RankAlpha(name)
		out, in := lin.Dims()
		a := &Adapter{Name: name, A: tensor.New(tensor.F32, r, in), B: tensor.New(tensor.F32, out, r),
			Scale: float32(cfg.Scale(r, alpha)), Dropout: float32(cfg.Dropout)}
		rng := rand.New(rand.NewPCG(seed, nameHash(name)))
		if cfg.Init == "gaussian" {
			a.initGaussian(rng)
		} else {
			a.initKaiming(rng)
		}
		a.seedDropout(seed)
		s.Adapters = append(s.Adapters, a)
	}
	if len(s.Adapters) == 0 {
		return nil, fmt.Errorf("lora targets %v match no linear layer of the model", cfg.Targets)
	}
	s.Attach(m)
	s.EnableGrads()
	return s, nil
}

func nameHash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// Attach installs the adapters on m's linear layers (replacing any).
func (s *Set) Attach(m *model.Model) {
	for _, a := range s.Adapters {
		if lin := m.W.LinearByName(a.Name); lin != nil {
			lin.Adapter = a
		}
	}
}

// Detach removes every adapter from m.
func Detach(m *model.Model) {
	for _, name := range m.Config.LinearNames() {
		m.W.LinearByName(name).Adapter = nil
	}
}

// EnableGrads allocates zeroed gradient tensors for every adapter.
func (s *Set) EnableGrads() {
	for _, a := range s.Adapters {
		a.GradA = tensor.New(a.A.DType, a.A.Shape...)
		a.GradB = tensor.New(a.B.DType, a.B.Shape...)
	}
}

// Param is one trainable tensor and its gradient.
type Param struct {
	Name        string // the PEFT key it is saved under
	Value, Grad *tensor.Tensor
}

// Params lists every trainable tensor in a fixed order (module order, A
// before B): the optimizer's view of the adapters.
func (s *Set) Params() []Param {
	var ps []Param
	for _, a := range s.Adapters {
		ps = append(ps, Param{Key(a.Name, "lora_A"), a.A, a.GradA}, Param{Key(a.Name, "lora_B"), a.B, a.GradB})
	}
	return ps
}

// NumParams counts the trainable parameters.
func (s *Set) NumParams() int64 {
	var n int64
	for _, a := range s.Adapters {
		n += int64(a.A.Numel() + a.B.Numel())
	}
	return n
}

// Save writes the adapters as a PEFT folder: adapter_config.json and
// adapter_model.safetensors. The config is validated and encoded before
// anything is written, both files are written under temporary names, and
// they are renamed into place only when both are complete, so a failure
// leaves the folder's previous pair as it was (the renames themselves, two
// steps within one folder, are the only window).
func (s *Set) Save(dir string) error {
	cfgPath, weightsPath := configPath(dir), filepath.Join(dir, "adapter_model.safetensors")
	cfg := s.Config
	if cfg.RankPattern == nil {
		cfg.RankPattern = map[string]int{}
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%s: %w", cfgPath, err)
	}
	data, err := cfg.peftJSON()
	if err != nil {
		return fmt.Errorf("%s: %w", cfgPath, err)
	}
	var named []safetensors.Named
	for _, p := range s.Params() {
		named = append(named, safetensors.Named{Name: p.Name, Tensor: p.Value.ToF32()})
	}
	sort.Slice(named, func(i, j int) bool { return named[i].Name < named[j].Name })
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cf, err := atomicfile.Create(cfgPath)
	if err != nil {
		return err
	}
	defer cf.Abort()
	if _, err := cf.Write(data); err != nil {
		return fmt.Errorf("%s: %w", cfgPath, err)
	}
	if err := cf.Sync(); err != nil {
		return fmt.Errorf("%s: %w", cfgPath, err)
	}
	// the weights go to a name of their own first (safetensors.Write is
	// atomic for that name), and are renamed over the old ones last
	wf, err := os.CreateTemp(dir, ".adapter_model.safetensors.new*")
	if err != nil {
		return fmt.Errorf("%s: %w", weightsPath, err)
	}
	tmp := wf.Name()
	wf.Close()
	defer os.Remove(tmp) // nothing left to remove once renamed
	if err := safetensors.Write(tmp, named, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("%s: %w", weightsPath, err)
	}
	if err := os.Rename(tmp, weightsPath); err != nil {
		return fmt.Errorf("%s: %w", weightsPath, err)
	}
	return cf.Commit()
}

// Load reads a PEFT adapter folder for model m, checking every tensor's name
// and shape against the model and reporting all mismatches at once. The
// adapters are attached to m; no gradients are allocated.
func Load(dir string, m *model.Model) (*Set, error) {
	cfg, err := ReadConfig(configPath(dir))
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "adapter_model.safetensors")
	if _, err := os.Stat(path); err != nil {
		if _, berr := os.Stat(filepath.Join(dir, "adapter_model.bin")); berr == nil {
			return nil, fmt.Errorf("%s: only adapter_model.bin (a pickle) is present; save the adapter with safe_serialization=True", dir)
		}
		return nil, fmt.Errorf("%s: no adapter_model.safetensors", dir)
	}
	st, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	s, err := load(dir, cfg, st, m)
	if err != nil {
		return nil, err
	}
	s.Attach(m)
	return s, nil
}

// load is Load on a parsed config and weights file, without attaching the
// adapters; they own their memory, so st may be closed afterwards.
func load(dir string, cfg *Config, st *safetensors.File, m *model.Model) (*Set, error) {
	have := map[string]bool{}
	for _, n := range st.Names() {
		have[n] = true
	}
	s := &Set{Config: *cfg}
	var problems []string
	used := map[string]bool{}
	for _, name := range m.Config.LinearNames() {
		kA, kB := Key(name, "lora_A"), Key(name, "lora_B")
		if !cfg.Targeted(name) && !have[kA] {
			continue
		}
		lin := m.W.LinearByName(name)
		out, in := lin.Dims()
		r, alpha := cfg.RankAlpha(name)
		a := &Adapter{Name: name, Scale: float32(cfg.Scale(r, alpha)), Dropout: float32(cfg.Dropout)}
		for _, k := range []struct {
			key   string
			dst   **tensor.Tensor
			shape []int
		}{{kA, &a.A, []int{r, in}}, {kB, &a.B, []int{out, r}}} {
			used[k.key] = true
			if !have[k.key] {
				problems = append(problems, "missing "+k.key)
				continue
			}
			t, err := st.Tensor(k.key)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			if !equalShape(t.Shape, k.shape) {
				problems = append(problems, fmt.Sprintf("%s has shape %v, the model wants %v", k.key, t.Shape, k.shape))
				continue
			}
			switch t.DType {
			case tensor.F32, tensor.BF16, tensor.F16, tensor.F64:
			default:
				problems = append(problems, fmt.Sprintf("%s has dtype %v, want a float type", k.key, t.DType))
				continue
			}
			*k.dst = t.ToF32().Clone()
		}
		if a.A != nil && a.B != nil {
			s.Adapters = append(s.Adapters, a)
		}
	}
	var extra []string
	for _, n := range st.Names() {
		if !used[n] {
			extra = append(extra, n)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		problems = append(problems, fmt.Sprintf("%d tensors the model has no place for: %s", len(extra), strings.Join(extra[:min(len(extra), 8)], ", ")))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: adapter does not fit the model: %s", dir, strings.Join(problems, "; "))
	}
	if len(s.Adapters) == 0 {
		return nil, fmt.Errorf("%s: adapter has no LoRA tensors", dir)
	}
	return s, nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Merge returns weights equal to m's with every adapter folded in; the
// returned weights share every tensor the adapters do not touch and have no
// adapters attached. m is not modified.
func (s *Set) Merge(m *model.Model) *model.Weights {
	w := *m.W
	w.Layers = append([]model.Layer(nil), m.W.Layers...)
	merged := &model.Weights{}
	*merged = w
	for _, a := range s.Adapters {
		lin := merged.LinearByName(a.Name)
		*lin = *a.Merge(lin)
	}
	for _, name := range m.Config.LinearNames() {
		merged.LinearByName(name).Adapter = nil
	}
	return merged
}

// RNGState returns the state of every adapter's dropout stream, for
// checkpoints: a resumed run draws the same dropout masks as an
// uninterrupted one.
func (s *Set) RNGState() ([][]byte, error) {
	var out [][]byte
	for _, a := range s.Adapters {
		if a.src == nil {
			a.seedDropout(1)
		}
		b, err := a.src.MarshalBinary()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// SetRNGState restores streams saved by RNGState.
func (s *Set) SetRNGState(st [][]byte) error {
	if len(st) != len(s.Adapters) {
		return fmt.Errorf("dropout state for %d adapters, have %d", len(st), len(s.Adapters))
	}
	for i, a := range s.Adapters {
		if a.src == nil {
			a.seedDropout(1)
		}
		if err := a.src.UnmarshalBinary(st[i]); err != nil {
			return fmt.Errorf("adapter %s: %w", a.Name, err)
		}
	}
	return nil
}

// CopyFrom sets the values of s's adapters to those of o (same modules and
// shapes), keeping s's gradients: used to restore a checkpoint into a live
// training set.
func (s *Set) CopyFrom(o *Set) error {
	if len(o.Adapters) != len(s.Adapters) {
		return fmt.Errorf("checkpoint has %d adapters, the run has %d", len(o.Adapters), len(s.Adapters))
	}
	for i, a := range s.Adapters {
		b := o.Adapters[i]
		if a.Name != b.Name || !equalShape(a.A.Shape, b.A.Shape) || !equalShape(a.B.Shape, b.B.Shape) {
			return fmt.Errorf("checkpoint adapter %s %v/%v does not match %s %v/%v", b.Name, b.A.Shape, b.B.Shape, a.Name, a.A.Shape, a.B.Shape)
		}
		copy(a.A.Data, b.A.ToF32().Data)
		copy(a.B.Data, b.B.ToF32().Data)
	}
	return nil
}
