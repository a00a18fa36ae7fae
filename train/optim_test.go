package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"hone/tensor"
)

func TestAdamWFirstSteps(t *testing.T) {
	// With a constant gradient g, Adam's bias-corrected update is lr·g/(|g|+eps')
	// at every step: each step moves by lr·sign(g), less the decoupled decay.
	w := tensor.FromF32([]float32{1, -2, 0.5}, 3)
	g := tensor.FromF32([]float32{0.3, -4, 0}, 3)
	ps := []Param{{"w", w, g}}
	o := NewAdamW(ps, 0.9, 0.999, 1e-8, 0.1)
	want := []float64{1, -2, 0.5}
	const lr = 0.01
	for step := 0; step < 3; step++ {
		o.Update(ps, lr)
		for i, gi := range []float64{0.3, -4, 0} {
			want[i] *= 1 - lr*0.1
			if gi != 0 {
				want[i] -= lr * math.Copysign(1, gi)
			}
		}
	}
	for i, v := range w.F32() {
		if math.Abs(float64(v)-want[i]) > 1e-6 {
			t.Errorf("after 3 steps w[%d] = %v, want %v", i, v, want[i])
		}
	}
	if o.Step != 3 {
		t.Errorf("Step = %d, want 3", o.Step)
	}
}

func TestClipGradNorm(t *testing.T) {
	g := tensor.FromF32([]float32{3, 4}, 2)
	ps := []Param{{"w", tensor.New(tensor.F32, 2), g}}
	if n := ClipGradNorm(ps, 1); math.Abs(n-5) > 1e-9 {
		t.Errorf("ClipGradNorm returned %v, want the pre-clip norm 5", n)
	}
	if n := GradNorm(ps); math.Abs(n-1) > 1e-5 {
		t.Errorf("norm after clipping = %v, want 1", n)
	}
	g2 := tensor.FromF32([]float32{0.3, 0.4}, 2)
	ps = []Param{{"w", tensor.New(tensor.F32, 2), g2}}
	ClipGradNorm(ps, 1)
	if g2.F32()[0] != 0.3 {
		t.Errorf("a gradient under the limit was scaled to %v", g2.F32()[0])
	}
}

func TestSchedule(t *testing.T) {
	tests := []struct {
		s    Schedule
		step int
		want float64
	}{
		{Schedule{"constant", 1e-3, 0, 100}, 50, 1e-3},
		{Schedule{"constant", 1e-3, 10, 100}, 5, 5e-4},
		{Schedule{"linear", 1e-3, 10, 110}, 10, 1e-3},
		{Schedule{"linear", 1e-3, 10, 110}, 60, 5e-4},
		{Schedule{"linear", 1e-3, 10, 110}, 110, 0},
		{Schedule{"cosine", 1e-3, 0, 100}, 50, 5e-4},
		{Schedule{"cosine", 1e-3, 0, 100}, 100, 0},
		{Schedule{"cosine", 1e-3, 0, 100}, 0, 1e-3},
	}
	for _, tt := range tests {
		if got := tt.s.LR(tt.step); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%+v.LR(%d) = %v, want %v", tt.s, tt.step, got, tt.want)
		}
	}
	if err := (Schedule{"step", 1, 0, 1}).Validate(); err == nil {
		t.Error("Validate accepted an unknown schedule")
	}
	if err := (Schedule{"linear", -1, 0, 1}).Validate(); err == nil {
		t.Error("Validate accepted a negative learning rate")
	}
}

// TestAdamWShares checks that the update cut into shares across
// goroutines (many parameters of odd sizes, more elements than one share)
// equals the element-by-element formula exactly.
func TestAdamWShares(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var ps []Param
	var want [][]float32
	var mw, vw [][]float32
	for _, n := range []int{1, 7, updateShare - 3, 65, updateShare + 577, 3 * updateShare} {
		w, g := tensor.New(tensor.F32, n), tensor.New(tensor.F32, n)
		for i := range w.F32() {
			w.F32()[i], g.F32()[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		ps = append(ps, Param{fmt.Sprint(n), w, g})
		want = append(want, append([]float32(nil), w.F32()...))
		mw, vw = append(mw, make([]float32, n)), append(vw, make([]float32, n))
	}
	o := NewAdamW(ps, 0.9, 0.999, 1e-8, 0.01)
	const lr = 1e-3
	for step := 1; step <= 2; step++ {
		o.Update(ps, lr)
		bc1, bc2 := 1-math.Pow(0.9, float64(step)), 1-math.Pow(0.999, float64(step))
		for i, p := range ps {
			for j, g := range p.Grad.F32() {
				w := &want[i][j]
				b1, b2 := float32(0.9), float32(0.999)
				*w *= float32(1 - lr*0.01)
				mw[i][j] = b1*mw[i][j] + (1-b1)*g
				vw[i][j] = b2*vw[i][j] + (1-b2)*g*g
				*w -= float32(lr/bc1) * mw[i][j] / (float32(math.Sqrt(float64(vw[i][j])))/float32(math.Sqrt(bc2)) + float32(1e-8))
			}
		}
	}
	for i, p := range ps {
		for j, v := range p.Value.F32() {
			if v != want[i][j] {
				t.Fatalf("param %s[%d] = %v, want %v", p.Name, j, v, want[i][j])
			}
		}
	}
}
