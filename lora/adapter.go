package lora

import (
	"fmt"
	"math"
	"math/rand/v2"

	"hone/compute"
	"hone/model"
	"hone/tensor"
)

// Adapter is LoRA on one linear layer: y += Scale·(dropout(x)·Aᵀ)·Bᵀ.
type Adapter struct {
	// Name is the module's name, e.g. "model.layers.0.self_attn.q_proj".
	Name string
	A    *tensor.Tensor // lora_A [r, in]
	B    *tensor.Tensor // lora_B [out, r]
	// Scale multiplies the update (alpha/r, or alpha/√r with rsLoRA).
	Scale float32
	// Dropout is the probability of dropping an input element in training.
	Dropout float32
	// GradA and GradB receive the gradients (accumulated); nil when the
	// adapter is frozen (inference).
	GradA, GradB *tensor.Tensor

	src *rand.PCG // dropout's random stream, saved in checkpoints
	rng *rand.Rand
	// saved by the latest training forward
	xd   *tensor.Tensor // the dropped-out input, when Dropout > 0
	mask []bool         // which input elements were kept
	t    *tensor.Tensor // Scale·(xd·Aᵀ) [n, r]
	dt   *tensor.Tensor // scratch [n, r]
	dx   *tensor.Tensor // scratch [n, in], when Dropout > 0
}

var _ model.Adapter = (*Adapter)(nil)

// Rank is r.
func (a *Adapter) Rank() int { return a.A.Shape[0] }

func scratch(t **tensor.Tensor, dt tensor.DType, rows, cols int) *tensor.Tensor {
	if *t == nil || (*t).Shape[0] != rows || (*t).Shape[1] != cols || (*t).DType != dt {
		*t = tensor.New(dt, rows, cols)
	}
	return *t
}

// Forward adds the low-rank update for x [n, in] to y [n, out].
func (a *Adapter) Forward(e compute.Engine, y, x *tensor.Tensor, train bool) {
	n := x.Rows()
	in := x
	if train && a.Dropout > 0 {
		in = a.dropout(x)
	}
	t := scratch(&a.t, x.DType, n, a.Rank())
	e.MatMul(t, in, a.A, false, true, false)
	e.Scale(t, a.Scale)
	e.MatMul(y, t, a.B, false, true, true)
}

// dropout returns x with each element zeroed with probability p and the
// rest scaled by 1/(1-p), keeping the result for the backward.
func (a *Adapter) dropout(x *tensor.Tensor) *tensor.Tensor {
	if a.rng == nil {
		a.seedDropout(1)
	}
	xd := scratch(&a.xd, x.DType, x.Rows(), x.Cols())
	keep := 1 / (1 - a.Dropout)
	p := float64(a.Dropout)
	if cap(a.mask) < x.Numel() {
		a.mask = make([]bool, x.Numel())
	}
	a.mask = a.mask[:x.Numel()]
	for i := range a.mask {
		a.mask[i] = a.rng.Float64() >= p
	}
	switch x.DType {
	case tensor.F32:
		src, dst := x.F32(), xd.F32()
		for i, v := range src {
			dst[i] = 0
			if a.mask[i] {
				dst[i] = v * keep
			}
		}
	case tensor.F64:
		src, dst := x.F64(), xd.F64()
		for i, v := range src {
			dst[i] = 0
			if a.mask[i] {
				dst[i] = v * float64(keep)
			}
		}
	default:
		panic(fmt.Sprintf("lora: dropout over %v", x))
	}
	return xd
}

// Backward accumulates dx (when not nil), GradA and GradB from dy.
func (a *Adapter) Backward(e compute.Engine, dx, dy, x *tensor.Tensor) {
	n := x.Rows()
	in := x
	if a.Dropout > 0 && a.xd != nil {
		in = a.xd
	}
	// t = Scale·(in·Aᵀ) was saved; y += t·Bᵀ.
	if a.GradB != nil {
		e.MatMul(a.GradB, dy, a.t, true, false, true)
	}
	dt := scratch(&a.dt, dy.DType, n, a.Rank())
	e.MatMul(dt, dy, a.B, false, false, false)
	e.Scale(dt, a.Scale)
	if a.GradA != nil {
		e.MatMul(a.GradA, dt, in, true, false, true)
	}
	if dx == nil {
		return
	}
	if a.Dropout == 0 || a.xd == nil {
		e.MatMul(dx, dt, a.A, false, false, true)
		return
	}
	// through the dropout: d in / d x = keep where kept, 0 where dropped.
	tmp := scratch(&a.dx, dy.DType, n, x.Cols())
	e.MatMul(tmp, dt, a.A, false, false, false)
	keep := 1 / (1 - a.Dropout)
	switch tmp.DType {
	case tensor.F32:
		tv, dv := tmp.F32(), dx.F32()
		for i := range tv {
			if a.mask[i] {
				dv[i] += tv[i] * keep
			}
		}
	case tensor.F64:
		tv, dv := tmp.F64(), dx.F64()
		for i := range tv {
			if a.mask[i] {
				dv[i] += tv[i] * float64(keep)
			}
		}
	}
}

// Delta returns Scale·B·A [out, in] in float32: the change Merge adds.
func (a *Adapter) Delta() *tensor.Tensor {
	A := a.A.ToF32().F32()
	B := a.B.ToF32().F32()
	r := a.Rank()
	out, in := a.B.Shape[0], a.A.Shape[1]
	d := tensor.New(tensor.F32, out, in)
	dv := d.F32()
	for o := 0; o < out; o++ {
		row := dv[o*in : (o+1)*in]
		for k := 0; k < r; k++ {
			b := float64(B[o*r+k]) * float64(a.Scale)
			ak := A[k*in : (k+1)*in]
			for i := range row {
				row[i] += float32(b * float64(ak[i]))
			}
		}
	}
	return d
}

// Merge returns a plain linear layer equal to base with the adapter folded
// in: W + Scale·B·A, computed in float32 and stored in W's dtype. The base
// is not modified (it may be a read-only memory map). An NF4 base (QLoRA)
// merges into its dequantised weights — the weights the adapter was trained
// against — and the result is float32.
func (a *Adapter) Merge(base *model.Linear) *model.Linear {
	w := base.Weight().ToF32()
	if w == base.W {
		w = w.Clone()
	}
	wv := w.F32()
	for i, d := range a.Delta().F32() {
		wv[i] += d
	}
	dt := tensor.F32
	if base.W != nil {
		dt = base.W.DType
	}
	return &model.Linear{W: w.To(dt), B: base.B}
}

// initKaiming fills A as PEFT does by default: kaiming_uniform_ with
// a=√5, i.e. uniform in ±1/√in; B stays zero.
func (a *Adapter) initKaiming(rng *rand.Rand) {
	in := a.A.Shape[1]
	bound := 1 / math.Sqrt(float64(in))
	for i := range a.A.F32() {
		a.A.F32()[i] = float32((2*rng.Float64() - 1) * bound)
	}
}

// initGaussian fills A with N(0, 1/r²) as PEFT's "gaussian" init; B zero.
func (a *Adapter) initGaussian(rng *rand.Rand) {
	std := 1 / float64(a.Rank())
	for i := range a.A.F32() {
		a.A.F32()[i] = float32(rng.NormFloat64() * std)
	}
}

// seedDropout starts the adapter's dropout stream from seed and its name.
func (a *Adapter) seedDropout(seed uint64) {
	a.src = rand.NewPCG(seed^0xd1b54a32d192ed03, nameHash(a.Name))
	a.rng = rand.New(a.src)
}
