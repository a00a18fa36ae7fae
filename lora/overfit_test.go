package lora_test

import (
	"testing"

	"hone/compute/ref"
	"hone/lora"
	"hone/model"
	"hone/train"
)

// overfit trains LoRA adapters on a tiny random model over four fixed
// examples until the mean loss is under 0.05 and returns the number of steps
// taken and the loss curve.
func overfit(t *testing.T, seed uint64, maxSteps int) (int, []float64) {
	c := &model.Config{
		ModelType: "llama", Hidden: 32, Intermediate: 64, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 8,
		Vocab: 32, MaxPositions: 64, RMSEps: 1e-5, BOS: 1, EOS: []int{2}, Pad: -1,
		Rope: model.Rope{Theta: 10000, Type: "default", Factor: 1},
	}
	// a wide init stands in for pretrained weights: the LM head, which LoRA
	// does not train, must be able to express confident predictions
	m := model.New(c, model.Init(c, 0.3, seed))
	cfg := lora.Config{R: 8, Alpha: 16, Targets: []string{"all-linear"}}
	set, err := lora.New(m, cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	// four prompt/answer pairs; the prompt (first 3 tokens) is masked
	b := &model.Batch{B: 4, T: 8, IDs: []int32{
		1, 5, 6, 20, 21, 22, 23, 2,
		1, 7, 8, 24, 25, 26, 27, 2,
		1, 9, 10, 28, 29, 30, 31, 2,
		1, 11, 12, 13, 14, 15, 16, 2,
	}}
	b.Labels = append([]int32(nil), b.IDs...)
	for r := 0; r < 4; r++ {
		for i := 0; i < 3; i++ {
			b.Labels[r*8+i] = -100
		}
	}
	var params []train.Param
	for _, p := range set.Params() {
		params = append(params, train.Param{Name: p.Name, Value: p.Value, Grad: p.Grad})
	}
	opt := train.NewAdamW(params, 0.9, 0.999, 1e-8, 0)
	e := ref.Engine{}
	a := m.NewActivations(b.B, b.T, false)
	var curve []float64
	for step := 1; step <= maxSteps; step++ {
		train.ZeroGrads(params)
		m.Forward(e, b, a, true)
		_, n := m.Loss(e, b, a, nil, 0, false)
		sum, _ := m.Loss(e, b, a, nil, float32(1/float64(n)), true)
		m.Backward(e, b, a, nil)
		loss := sum / float64(n)
		curve = append(curve, loss)
		if loss < 0.05 {
			return step, curve
		}
		train.ClipGradNorm(params, 1)
		opt.Update(params, 1e-2)
	}
	t.Fatalf("loss still %.4f after %d steps, want < 0.05", curve[len(curve)-1], maxSteps)
	return 0, nil
}

// TestOverfitFourExamples: LoRA alone learns a fixed dataset, in the same
// number of steps and with bit-identical losses on every run.
func TestOverfitFourExamples(t *testing.T) {
	steps, curve := overfit(t, 42, 400)
	steps2, curve2 := overfit(t, 42, 400)
	if steps != steps2 {
		t.Fatalf("same seed took %d then %d steps", steps, steps2)
	}
	for i := range curve {
		if curve[i] != curve2[i] {
			t.Fatalf("step %d: loss %v then %v with the same seed", i+1, curve[i], curve2[i])
		}
	}
	t.Logf("reached loss %.4f in %d steps (from %.4f)", curve[len(curve)-1], steps, curve[0])
}
