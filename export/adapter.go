package export

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"hone/gguf"
	"hone/lora"
	"hone/model"
	"hone/tensor"
)

func loadPEFT(dir string, m *model.Model) (*lora.Set, error) { return lora.Load(dir, m) }

// WriteAdapterGGUF writes a LoRA adapter set as a llama.cpp adapter file
// (what convert_lora_to_gguf.py writes): general.type "adapter",
// adapter.type "lora", adapter.lora.alpha, and per adapted projection the
// tensors "<gguf name>.lora_a" [r, in] and ".lora_b" [out, r] in F32, with
// lora_b's rows permuted like the base's Q and K for the llama
// architecture. llama.cpp scales every adapter by alpha / r (r from the
// tensor's shape), so an adapter whose scale differs from that (RSLoRA,
// rank or alpha patterns) has the ratio folded into lora_b.
func WriteAdapterGGUF(path string, s *lora.Set, c *model.Config) error {
	arch, err := Arch(c.ModelType)
	if err != nil {
		return err
	}
	if len(s.Adapters) == 0 {
		return fmt.Errorf("GGUF adapter %s: the set has no adapters", path)
	}
	alpha := s.Config.Alpha
	if alpha <= 0 {
		alpha = float64(s.Adapters[0].Scale) * float64(s.Adapters[0].Rank())
	}
	if !(alpha > 0) || math.IsInf(alpha, 0) {
		return fmt.Errorf("GGUF adapter %s: lora alpha %v (scale %v): want a positive number for %s", path, s.Config.Alpha, s.Adapters[0].Scale, keyAdapterAlpha)
	}
	meta := &gguf.Metadata{}
	meta.Set(gguf.KeyArchitecture, arch)
	meta.Set(keyGeneralType, "adapter")
	meta.Set(keyAdapterType, "lora")
	meta.Set(keyAdapterAlpha, float32(alpha))
	type item struct {
		spec gguf.TensorSpec
		data []float32
	}
	var items []item
	adapters := append([]*lora.Adapter(nil), s.Adapters...)
	sort.SliceStable(adapters, func(i, j int) bool { return moduleOrder(c, adapters[i].Name) < moduleOrder(c, adapters[j].Name) })
	for _, a := range adapters {
		name, ok := gguf.HFToGGUF(a.Name + ".weight")
		if !ok {
			return fmt.Errorf("GGUF adapter: module %s has no GGUF name", a.Name)
		}
		r := a.Rank()
		A := a.A.ToF32()
		B := a.B.ToF32().Clone()
		ratio := float64(a.Scale) / (alpha / float64(r))
		if ratio != 1 {
			for i, v := range B.F32() {
				B.F32()[i] = float32(float64(v) * ratio)
			}
		}
		if heads := qkHeads(arch, c, a.Name); heads > 0 {
			dst := make([]float32, B.Numel())
			if err := gguf.PermuteQK(dst, B.F32(), heads, r); err != nil {
				return fmt.Errorf("GGUF adapter: %s: %w", a.Name, err)
			}
			B = tensor.FromF32(dst, B.Shape...)
		}
		items = append(items,
			item{gguf.TensorSpec{Name: name + ".lora_a", Shape: A.Shape, Type: gguf.F32}, A.F32()},
			item{gguf.TensorSpec{Name: name + ".lora_b", Shape: B.Shape, Type: gguf.F32}, B.F32()})
	}
	specs := make([]gguf.TensorSpec, len(items))
	for i, it := range items {
		specs[i] = it.spec
	}
	w, err := gguf.Create(path, meta, specs)
	if err != nil {
		return err
	}
	for _, it := range items {
		if err := w.WriteF32(it.spec.Name, it.data); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close()
}

// moduleOrder is the position of a module in the model's linear layers.
func moduleOrder(c *model.Config, name string) int {
	for i, n := range c.LinearNames() {
		if n == name {
			return i
		}
	}
	return 1 << 30
}

// qkHeads returns the head count whose Q/K permutation applies to the
// output rows of module name, or 0.
func qkHeads(arch string, c *model.Config, name string) int {
	if !gguf.QKPermuted(arch) {
		return 0
	}
	switch {
	case strings.HasSuffix(name, ".q_proj"):
		return c.Heads
	case strings.HasSuffix(name, ".k_proj"):
		return c.KVHeads
	}
	return 0
}

// ReadAdapterGGUF reads a llama.cpp LoRA adapter file for model m and
// attaches it, reporting every tensor that does not fit at once. Each
// adapter's scale is adapter.lora.alpha / r, as llama.cpp applies it; the
// alpha must be a positive number (llama.cpp reads 0 as "no alpha
// scaling", which hone does not guess at, and hone's PEFT configs hold
// alpha to the same rule).
func ReadAdapterGGUF(path string, m *model.Model) (*lora.Set, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	set, err := readAdapterGGUF(f, m)
	if err != nil {
		return nil, err
	}
	set.Attach(m)
	return set, nil
}

// readAdapterGGUF is ReadAdapterGGUF on a parsed file, without attaching
// the adapters. They own their memory: f may be closed afterwards.
func readAdapterGGUF(f *gguf.File, m *model.Model) (*lora.Set, error) {
	path := f.Path
	if t, err := f.Meta.String(keyGeneralType); err != nil || t != "adapter" {
		return nil, fmt.Errorf("%s: general.type is not \"adapter\": not a GGUF adapter file", path)
	}
	if t, err := f.Meta.String(keyAdapterType); err != nil || t != "lora" {
		return nil, fmt.Errorf("%s: adapter.type is not \"lora\"", path)
	}
	alpha, err := f.Meta.Float(keyAdapterAlpha)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if alpha <= 0 || math.IsNaN(alpha) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("%s: key %s = %v: want a positive number", path, keyAdapterAlpha, alpha)
	}
	arch, err := f.Meta.String(gguf.KeyArchitecture)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := m.Config
	if want, _ := Arch(c.ModelType); arch != want {
		return nil, fmt.Errorf("%s: adapter for architecture %q, the model is %q", path, arch, want)
	}
	set := &lora.Set{Config: lora.Config{Alpha: alpha, Targets: []string{}}}
	var problems []string
	seen := map[string]bool{}
	for _, ti := range f.Tensors {
		if !strings.HasSuffix(ti.Name, ".lora_a") {
			if !strings.HasSuffix(ti.Name, ".lora_b") {
				problems = append(problems, "unexpected tensor "+ti.Name)
			}
			continue
		}
		base := strings.TrimSuffix(ti.Name, ".lora_a")
		hf, ok := gguf.GGUFToHF(base)
		module := strings.TrimSuffix(hf, ".weight")
		lin := m.W.LinearByName(module)
		if !ok || lin == nil {
			problems = append(problems, fmt.Sprintf("%s names no projection of the model", ti.Name))
			continue
		}
		bName := base + ".lora_b"
		seen[bName] = true
		bi, ok := f.Info(bName)
		if !ok {
			problems = append(problems, ti.Name+" has no lora_b")
			continue
		}
		// shapes first, from the tensor infos: nothing is read for a
		// tensor that does not fit
		out, in := lin.Dims()
		as, bs := ti.Shape, bi.Shape
		if len(as) != 2 || len(bs) != 2 || as[0] < 1 || as[1] != in || bs[0] != out || bs[1] != as[0] {
			problems = append(problems, fmt.Sprintf("%s %v and %s %v do not fit a [%d, %d] projection (want [r, %d] and [%d, r], r >= 1)",
				ti.Name, as, bName, bs, out, in, in, out))
			continue
		}
		r := as[0]
		A, errA := f.TensorF32(ti.Name)
		B, errB := f.TensorF32(bName)
		if errA != nil || errB != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", base, errorsJoin(errA, errB)))
			continue
		}
		if heads := qkHeads(arch, c, module); heads > 0 {
			dst := tensor.New(tensor.F32, B.Shape...)
			if err := gguf.UnpermuteQK(dst.F32(), B.F32(), heads, r); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", base, err))
				continue
			}
			B = dst
		}
		set.Config.R = r
		if short := module[strings.LastIndex(module, ".")+1:]; !slices.Contains(set.Config.Targets, short) {
			set.Config.Targets = append(set.Config.Targets, short)
		}
		set.Adapters = append(set.Adapters, &lora.Adapter{Name: module, A: A, B: B, Scale: float32(alpha / float64(r))})
	}
	for _, ti := range f.Tensors {
		if strings.HasSuffix(ti.Name, ".lora_b") && !seen[ti.Name] {
			problems = append(problems, ti.Name+" has no lora_a")
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: adapter does not fit the model: %s", path, strings.Join(problems, "; "))
	}
	if len(set.Adapters) == 0 {
		return nil, fmt.Errorf("%s: adapter has no LoRA tensors", path)
	}
	sort.Strings(set.Config.Targets)
	sort.SliceStable(set.Adapters, func(i, j int) bool {
		return moduleOrder(c, set.Adapters[i].Name) < moduleOrder(c, set.Adapters[j].Name)
	})
	return set, nil
}

func errorsJoin(errs ...error) error {
	var msgs []string
	for _, e := range errs {
		if e != nil {
			msgs = append(msgs, e.Error())
		}
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}
