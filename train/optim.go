package train

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"hone/tensor"
)

// Param is one trainable tensor, its gradient (same shape, F32) and the
// name it is saved under.
type Param struct {
	Name        string
	Value, Grad *tensor.Tensor
}

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter), with
// bias correction, computed as torch.optim.AdamW computes it. Its moments
// are float32, one pair per parameter element.
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	// Step counts the updates made so far.
	Step int
	m, v [][]float32
}

// NewAdamW returns an optimizer for params with the given hyper-parameters
// (PyTorch's defaults are 0.9, 0.999, 1e-8 and 0.01).
func NewAdamW(params []Param, beta1, beta2, eps, weightDecay float64) *AdamW {
	o := &AdamW{Beta1: beta1, Beta2: beta2, Eps: eps, WeightDecay: weightDecay}
	for _, p := range params {
		o.m = append(o.m, make([]float32, p.Value.Numel()))
		o.v = append(o.v, make([]float32, p.Value.Numel()))
	}
	return o
}

// Update applies one step with learning rate lr to every parameter from its
// gradient. The gradients are left untouched (zero them before the next
// accumulation).
func (o *AdamW) Update(params []Param, lr float64) {
	if len(params) != len(o.m) {
		panic(fmt.Sprintf("train.AdamW: %d params, state for %d", len(params), len(o.m)))
	}
	o.Step++
	bc1 := 1 - math.Pow(o.Beta1, float64(o.Step))
	bc2 := 1 - math.Pow(o.Beta2, float64(o.Step))
	stepSize := float32(lr / bc1)
	sqrtBC2 := float32(math.Sqrt(bc2))
	decay := float32(1 - lr*o.WeightDecay)
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	eps := float32(o.Eps)
	consts := [8]float32{decay, b1, 1 - b1, b2, 1 - b2, stepSize, sqrtBC2, eps}
	update := func(i, j0, j1 int) {
		w, g := params[i].Value.F32()[j0:j1], params[i].Grad.F32()[j0:j1]
		m, v := o.m[i][j0:j1], o.v[i][j0:j1]
		// the same operations in the same order (no fused multiply-add):
		// the same values to the bit
		for j := adamwBulk(w, g[:len(w)], m[:len(w)], v[:len(w)], &consts); j < len(w); j++ {
			w[j] *= decay
			m[j] = b1*m[j] + (1-b1)*g[j]
			v[j] = b2*v[j] + (1-b2)*g[j]*g[j]
			denom := float32(math.Sqrt(float64(v[j])))/sqrtBC2 + eps
			w[j] -= stepSize * m[j] / denom
		}
	}
	// Each element's update is its own: cut the elements of all the
	// parameters into equal shares, one goroutine each.
	total := 0
	for _, m := range o.m {
		total += len(m)
	}
	shares := min(runtime.GOMAXPROCS(0), max(1, total/updateShare))
	if shares == 1 {
		for i, m := range o.m {
			update(i, 0, len(m))
		}
		return
	}
	var wg sync.WaitGroup
	for s := 0; s < shares; s++ {
		lo, hi := s*total/shares, (s+1)*total/shares
		wg.Go(func() {
			off := 0
			for i, m := range o.m {
				a, b := max(lo, off), min(hi, off+len(m))
				if a < b {
					update(i, a-off, b-off)
				}
				off += len(m)
			}
		})
	}
	wg.Wait()
}

// updateShare is the fewest parameter elements worth a goroutine of their
// own in Update.
const updateShare = 1 << 16

// State returns the moments for checkpointing: first and second moment of
// each parameter, in parameter order.
func (o *AdamW) State() (m, v [][]float32) { return o.m, o.v }

// SetState restores moments saved by State, checking their sizes.
func (o *AdamW) SetState(step int, m, v [][]float32) error {
	if len(m) != len(o.m) || len(v) != len(o.v) {
		return fmt.Errorf("optimizer state has %d/%d tensors, want %d", len(m), len(v), len(o.m))
	}
	for i := range m {
		if len(m[i]) != len(o.m[i]) || len(v[i]) != len(o.v[i]) {
			return fmt.Errorf("optimizer state tensor %d has %d values, want %d", i, len(m[i]), len(o.m[i]))
		}
	}
	o.Step, o.m, o.v = step, m, v
	return nil
}

// GradNorm returns the global L2 norm of every gradient, accumulated in
// float64. A NaN or Inf gradient makes the norm NaN or Inf.
func GradNorm(params []Param) float64 {
	var s float64
	for _, p := range params {
		for _, g := range p.Grad.F32() {
			s += float64(g) * float64(g)
		}
	}
	return math.Sqrt(s)
}

// ClipGradNorm scales every gradient so that the global norm is at most
// maxNorm, as torch.nn.utils.clip_grad_norm_ does, and returns the norm
// before clipping. maxNorm <= 0 disables clipping.
func ClipGradNorm(params []Param, maxNorm float64) float64 {
	norm := GradNorm(params)
	if maxNorm <= 0 || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm
	}
	coef := maxNorm / (norm + 1e-6)
	if coef >= 1 {
		return norm
	}
	c := float32(coef)
	for _, p := range params {
		g := p.Grad.F32()
		for i := range g {
			g[i] *= c
		}
	}
	return norm
}

// ZeroGrads sets every gradient to zero.
func ZeroGrads(params []Param) {
	for _, p := range params {
		p.Grad.Zero()
	}
}
