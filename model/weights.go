package model

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"hone/compute"
	"hone/quant"
	"hone/tensor"
)

// Linear is a linear layer y = x·Wᵀ + b, optionally with a trainable
// adapter (LoRA) that adds its own update to the output.
type Linear struct {
	W *tensor.Tensor // [out, in]; nil when the layer is quantised (Q)
	B *tensor.Tensor // [out], or nil
	// Q, when not nil, is the frozen weight stored as NF4 instead of W
	// (QLoRA): products dequantise it a tile at a time.
	Q *quant.Matrix
	// Adapter, when not nil, adds a low-rank update to the layer's output.
	Adapter Adapter
}

// Adapter is a trainable update to a linear layer, y += Δ(x), such as LoRA.
// An adapter may keep what its backward needs from the latest training
// forward; one model instance runs one forward/backward at a time.
type Adapter interface {
	// Forward adds the update for input x [n, in] to y [n, out]. train is
	// true when a backward will follow (dropout applies, state is saved).
	Forward(e compute.Engine, y, x *tensor.Tensor, train bool)
	// Backward accumulates the input gradient into dx [n, in] (may be nil)
	// and the adapter's own parameter gradients, from dy [n, out].
	Backward(e compute.Engine, dx, dy, x *tensor.Tensor)
}

// Dims returns the layer's output and input widths.
func (l *Linear) Dims() (out, in int) {
	if l.Q != nil {
		return l.Q.Rows, l.Q.Cols
	}
	return l.W.Shape[0], l.W.Shape[1]
}

// Weight returns the layer's weight as a tensor: W, or Q dequantised to
// float32 (the weights a QLoRA adapter was trained against).
func (l *Linear) Weight() *tensor.Tensor {
	if l.Q != nil {
		return l.Q.Dequantize()
	}
	return l.W
}

// Forward sets y [n, out] = x [n, in]·Wᵀ + b, plus the adapter's update.
func (l *Linear) Forward(e compute.Engine, y, x *tensor.Tensor, train bool) {
	if l.Q != nil {
		compute.MatMulQuant(e, y, x, l.Q, true, false)
	} else {
		e.MatMul(y, x, l.W, false, true, false)
	}
	if l.B != nil {
		e.AddBias(y, l.B)
	}
	if l.Adapter != nil {
		l.Adapter.Forward(e, y, x, train)
	}
}

// Backward accumulates dx += dy·W (when dx is not nil) and, when g holds
// gradient tensors, dW += dyᵀ·x and db += Σ dy; then the adapter's backward.
func (l *Linear) Backward(e compute.Engine, dx, dy, x *tensor.Tensor, g *Linear) {
	if dx != nil && l.Q != nil {
		compute.MatMulQuant(e, dx, dy, l.Q, false, true)
	} else if dx != nil {
		e.MatMul(dx, dy, l.W, false, false, true)
	}
	if g != nil && g.W != nil {
		e.MatMul(g.W, dy, x, true, false, true)
	}
	if g != nil && g.B != nil {
		e.AddBiasBackward(g.B, dy)
	}
	if l.Adapter != nil {
		l.Adapter.Backward(e, dx, dy, x)
	}
}

// Layer is one decoder layer.
type Layer struct {
	AttnNorm *tensor.Tensor // input_layernorm [hidden]
	Q        Linear         // self_attn.q_proj [heads*hd, hidden]
	K        Linear         // self_attn.k_proj [kv*hd, hidden]
	V        Linear         // self_attn.v_proj [kv*hd, hidden]
	O        Linear         // self_attn.o_proj [hidden, heads*hd]
	QNorm    *tensor.Tensor // self_attn.q_norm [hd] (Qwen3), or nil
	KNorm    *tensor.Tensor // self_attn.k_norm [hd] (Qwen3), or nil
	MLPNorm  *tensor.Tensor // post_attention_layernorm [hidden]
	Gate     Linear         // mlp.gate_proj [inter, hidden]
	Up       Linear         // mlp.up_proj [inter, hidden]
	Down     Linear         // mlp.down_proj [hidden, inter]
}

// Weights holds every parameter of a model. The same struct holds
// gradients during training, with nil for frozen parameters.
type Weights struct {
	Embed *tensor.Tensor // model.embed_tokens [vocab, hidden]; nil when EmbedQ holds it
	// EmbedQ, when not nil, is a tied embedding (and so the LM head) stored
	// quantised: QLoRA's frozen base keeps it in NF4 too.
	EmbedQ *quant.Matrix
	Layers []Layer
	Norm   *tensor.Tensor // model.norm [hidden]
	// LMHead is lm_head [vocab, hidden]; the same tensor as Embed when the
	// config ties them.
	LMHead *tensor.Tensor
}

// Param names one parameter: its checkpoint key, its shape and where the
// tensor lives in Weights.
type Param struct {
	Name  string
	Shape []int
	Ptr   **tensor.Tensor
}

// Params is the name table of the model: every parameter the config calls
// for, with its Hugging Face checkpoint key and shape, in checkpoint order.
// A tied LM head is not listed (it is the embedding). The table serves
// loading, saving, optimizers and adapters alike.
func (w *Weights) Params(c *Config) []Param {
	if len(w.Layers) != c.Layers {
		w.Layers = make([]Layer, c.Layers)
	}
	h, q, kv, f, hd := c.Hidden, c.QDim(), c.KVDim(), c.Intermediate, c.HeadDim
	ps := []Param{{"model.embed_tokens.weight", []int{c.Vocab, h}, &w.Embed}}
	for i := range w.Layers {
		l := &w.Layers[i]
		p := fmt.Sprintf("model.layers.%d.", i)
		add := func(name string, ptr **tensor.Tensor, shape ...int) {
			ps = append(ps, Param{p + name, shape, ptr})
		}
		add("input_layernorm.weight", &l.AttnNorm, h)
		add("self_attn.q_proj.weight", &l.Q.W, q, h)
		add("self_attn.k_proj.weight", &l.K.W, kv, h)
		add("self_attn.v_proj.weight", &l.V.W, kv, h)
		if c.QKVBias {
			add("self_attn.q_proj.bias", &l.Q.B, q)
			add("self_attn.k_proj.bias", &l.K.B, kv)
			add("self_attn.v_proj.bias", &l.V.B, kv)
		}
		add("self_attn.o_proj.weight", &l.O.W, h, q)
		if c.OBias {
			add("self_attn.o_proj.bias", &l.O.B, h)
		}
		if c.QKNorm {
			add("self_attn.q_norm.weight", &l.QNorm, hd)
			add("self_attn.k_norm.weight", &l.KNorm, hd)
		}
		add("post_attention_layernorm.weight", &l.MLPNorm, h)
		add("mlp.gate_proj.weight", &l.Gate.W, f, h)
		add("mlp.up_proj.weight", &l.Up.W, f, h)
		add("mlp.down_proj.weight", &l.Down.W, h, f)
		if c.MLPBias {
			add("mlp.gate_proj.bias", &l.Gate.B, f)
			add("mlp.up_proj.bias", &l.Up.B, f)
			add("mlp.down_proj.bias", &l.Down.B, h)
		}
	}
	ps = append(ps, Param{"model.norm.weight", []int{h}, &w.Norm})
	if !c.TieEmbeddings {
		ps = append(ps, Param{"lm_head.weight", []int{c.Vocab, h}, &w.LMHead})
	}
	return ps
}

// Matrices returns the weight matrices that products multiply by: every
// linear layer's weight (those held quantised have none), the LM head and
// the embedding when the head is tied to it (once). LoRA training freezes
// them (compute.Freezer).
func (w *Weights) Matrices(c *Config) []*tensor.Tensor {
	var ts []*tensor.Tensor
	for _, name := range c.LinearNames() {
		if l := w.LinearByName(name); l != nil && l.W != nil {
			ts = append(ts, l.W)
		}
	}
	if w.LMHead != nil {
		ts = append(ts, w.LMHead)
	}
	return ts
}

// LinearByName returns the linear layer whose weight has the checkpoint key
// name + ".weight" (e.g. "model.layers.3.self_attn.q_proj"), or nil.
func (w *Weights) LinearByName(name string) *Linear {
	idx, rest, ok := strings.Cut(strings.TrimPrefix(name, "model.layers."), ".")
	if !ok || !strings.HasPrefix(name, "model.layers.") {
		return nil
	}
	layer, err := strconv.Atoi(idx)
	if err != nil || layer < 0 || layer >= len(w.Layers) {
		return nil
	}
	l := &w.Layers[layer]
	switch rest {
	case "self_attn.q_proj":
		return &l.Q
	case "self_attn.k_proj":
		return &l.K
	case "self_attn.v_proj":
		return &l.V
	case "self_attn.o_proj":
		return &l.O
	case "mlp.gate_proj":
		return &l.Gate
	case "mlp.up_proj":
		return &l.Up
	case "mlp.down_proj":
		return &l.Down
	}
	return nil
}

// LinearNames lists the checkpoint names (without ".weight") of every linear
// layer of the decoder, in layer order: the places an adapter can attach.
func (c *Config) LinearNames() []string {
	var names []string
	for i := 0; i < c.Layers; i++ {
		for _, s := range []string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"} {
			names = append(names, fmt.Sprintf("model.layers.%d.%s", i, s))
		}
	}
	return names
}

// Source is where weights come from: a safetensors checkpoint or anything
// that can list and produce named tensors.
type Source interface {
	Names() []string
	Tensor(name string) (*tensor.Tensor, error)
}

// Precision selects how weights are held for compute.
type Precision int

// The precisions: F32 keeps every weight in float32 (the reference); BF16
// keeps matrices in bfloat16 (half the memory, bf16 matrix products with
// float32 accumulation) and norms and biases in float32.
const (
	FP32 Precision = iota
	BF16
)

// ParsePrecision reads "fp32" or "bf16".
func ParsePrecision(s string) (Precision, error) {
	switch strings.ToLower(s) {
	case "fp32", "f32", "float32":
		return FP32, nil
	case "bf16", "bfloat16":
		return BF16, nil
	}
	return 0, fmt.Errorf("precision %q: want fp32 or bf16", s)
}

// String returns "fp32" or "bf16".
func (p Precision) String() string {
	if p == BF16 {
		return "bf16"
	}
	return "fp32"
}

// LoadWeights reads every parameter the config calls for from src, checking
// names and shapes and reporting every problem at once. The matrices are
// copied (converted to the precision's dtype) into one tensor.Arena, in
// checkpoint order, which is the order a decoded token reads them: one run
// of memory on huge pages where the OS has them (one core of the 2-core
// development machine reads 31-32 GB/s from them against 20-24 GB/s from
// 4 KiB pages; docs/PERFORMANCE.md). A source that can
// release a tensor's pages (safetensors' memory maps) is asked to after
// each copy, so loading never holds two copies of the model. Vectors
// (norms, biases) that already are F32 stay where src has them (possibly a
// read-only memory map: weights are frozen unless a trainer copies them).
// A source that can tell a tensor's shape without reading it (a Shape
// method, as safetensors.Set has) has every name and shape checked before
// any memory is set aside, so a config that claims more than the checkpoint
// holds is an error, not a huge allocation.
func LoadWeights(c *Config, src Source, prec Precision) (*Weights, error) {
	return loadWeights(c, src, prec, true)
}

// releaser is a Source that can let go of the memory behind a tensor once
// it has been copied (safetensors.Set).
type releaser interface{ ReleaseTensor(name string) }

// shaper is a Source that can tell a tensor's shape without reading its
// data (safetensors.Set, export's GGUF source).
type shaper interface {
	Shape(name string) ([]int, error)
}

// loadWeights is LoadWeights; pack false leaves the matrices where src has
// them when their dtype is right and converts the others into memory of
// their own (LoadQuantized quantises them right after).
func loadWeights(c *Config, src Source, prec Precision, pack bool) (*Weights, error) {
	if err := c.checkSize(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	w := &Weights{}
	have := map[string]bool{}
	for _, n := range src.Names() {
		have[n] = true
	}
	var missing, bad []string
	quantized := map[string]bool{}
	if c.Quant != nil {
		for _, name := range c.LinearNames() {
			quantized[name+".weight"] = true
		}
	}
	params := w.Params(c)
	// Check what can be checked without reading: every name, and every
	// shape where the source can tell it. Any problem found here means no
	// weight is kept, so nothing is allocated for them; the loop below
	// still runs to report every other problem at once.
	sh, _ := src.(shaper)
	skip := map[string]bool{} // found wanting already
	for _, p := range params {
		if !have[p.Name] {
			missing = append(missing, p.Name)
			skip[p.Name] = true
			continue
		}
		if sh == nil || quantized[p.Name] {
			continue
		}
		if shape, err := sh.Shape(p.Name); err != nil {
			bad = append(bad, err.Error())
			skip[p.Name] = true
		} else if !sameShape(shape, p.Shape) {
			bad = append(bad, fmt.Sprintf("%s has shape %v, config wants %v", p.Name, shape, p.Shape))
			skip[p.Name] = true
		}
	}
	checkOnly := len(skip) > 0
	var arena *tensor.Arena
	if pack && !checkOnly {
		size, limit := 0, math.MaxInt/2
		for _, p := range params {
			if len(p.Shape) == 2 && !quantized[p.Name] {
				// checkSize bounds every matrix, so no one term overflows
				if size += tensor.ArenaSize(matrixDType(prec), p.Shape...); size > limit {
					return nil, fmt.Errorf("config: the weight matrices take more than %d bytes", limit)
				}
			}
		}
		arena = tensor.NewArena(size)
	}
	rel, _ := src.(releaser)
	for _, p := range params {
		if skip[p.Name] {
			continue
		}
		if quantized[p.Name] {
			mod := strings.TrimSuffix(p.Name, ".weight")
			q, err := quant.ReadMatrix(src, p.Name, c.Quant.Format, p.Shape[0], p.Shape[1])
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			if prec == BF16 {
				q.ComputeDType = tensor.BF16
			}
			w.LinearByName(mod).Q = q
			continue
		}
		t, err := src.Tensor(p.Name)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		if !sameShape(t.Shape, p.Shape) {
			bad = append(bad, fmt.Sprintf("%s has shape %v, config wants %v", p.Name, t.Shape, p.Shape))
			continue
		}
		switch t.DType {
		case tensor.F32, tensor.BF16, tensor.F16, tensor.F64:
		default:
			bad = append(bad, fmt.Sprintf("%s has dtype %v, want a float type", p.Name, t.DType))
			continue
		}
		if checkOnly {
			continue // the load fails: keep nothing
		}
		if arena == nil || len(p.Shape) != 2 {
			*p.Ptr = convert(t, prec)
			continue
		}
		m := arena.New(matrixDType(prec), p.Shape...)
		t.CopyTo(m)
		*p.Ptr = m
		if rel != nil {
			rel.ReleaseTensor(p.Name)
		}
	}
	if arena != nil {
		arena.Settle()
	}
	var msgs []string
	if len(missing) > 0 {
		msgs = append(msgs, fmt.Sprintf("%d tensors missing: %s", len(missing), strings.Join(abbreviate(missing, 12), ", ")))
	}
	msgs = append(msgs, bad...)
	if len(msgs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
	if c.TieEmbeddings {
		w.LMHead = w.Embed
	}
	return w, nil
}

// convert returns t in the dtype the precision wants: matrices in F32 or
// BF16 (matrixDType), vectors (norms, biases) always F32.
func convert(t *tensor.Tensor, prec Precision) *tensor.Tensor {
	if len(t.Shape) == 2 {
		return t.To(matrixDType(prec))
	}
	return t.ToF32()
}

// matrixDType is the dtype the precision keeps weight matrices in.
func matrixDType(prec Precision) tensor.DType {
	if prec == BF16 {
		return tensor.BF16
	}
	return tensor.F32
}

func sameShape(a, b []int) bool {
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

func abbreviate(s []string, n int) []string {
	sort.Strings(s)
	if len(s) <= n {
		return s
	}
	return append(s[:n:n], fmt.Sprintf("... and %d more", len(s)-n))
}

// Quantize replaces the weight of every decoder projection (q, k, v, o,
// gate, up, down) by its quantised form (nf4 with double-quantised scales
// when double is set, as QLoRA does; int8, q8_0, q4_0); embeddings, norms
// and the LM head keep their dtype. With prec BF16 the products run on
// bf16 tiles (bitsandbytes' bfloat16 compute dtype). It returns the bytes
// the projections now take.
func (w *Weights) Quantize(c *Config, format string, double bool, prec Precision) (int64, error) {
	var n int64
	for _, name := range c.LinearNames() {
		l := w.LinearByName(name)
		if l.Q == nil {
			q, err := quant.QuantizeMatrix(l.W, format, double)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", name, err)
			}
			l.Q, l.W = q, nil
		}
		if prec == BF16 {
			l.Q.ComputeDType = tensor.BF16
		}
		n += int64(l.Q.Bytes())
	}
	return n, nil
}

// QuantizeEmbedding stores a tied embedding (the LM head too) quantised,
// as QLoRA's frozen base: lookups dequantise rows and the LM head's
// products dequantise tiles. Untied models keep theirs. It returns the
// bytes the embedding now takes (0 when untied).
func (w *Weights) QuantizeEmbedding(c *Config, format string, prec Precision) (int64, error) {
	if !c.TieEmbeddings || w.EmbedQ != nil {
		return 0, nil
	}
	q, err := quant.QuantizeMatrix(w.Embed, format, format == "nf4")
	if err != nil {
		return 0, fmt.Errorf("model.embed_tokens.weight: %w", err)
	}
	if prec == BF16 {
		q.ComputeDType = tensor.BF16
	}
	w.EmbedQ, w.Embed, w.LMHead = q, nil, nil
	return int64(q.Bytes()), nil
}
