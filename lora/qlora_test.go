package lora_test

import (
	"math"
	"testing"

	"hone/compute"
	"hone/compute/cpu"
	"hone/compute/ref"
	"hone/lora"
	"hone/model"
)

// TestQLoRAGradientsEqualLoRAOnDequantised: LoRA over an NF4 base gives the
// same loss and adapter gradients as LoRA over a float32 base holding the
// dequantised weights, and merging uses those dequantised weights.
func TestQLoRAGradientsEqualLoRAOnDequantised(t *testing.T) {
	for _, e := range []compute.Engine{ref.Engine{}, cpu.New(2)} {
		t.Run(e.Name(), func(t *testing.T) {
			mk := func() *model.Model {
				m := tinyModel(3)
				return m
			}
			q := mk()
			if _, err := q.W.Quantize(q.Config, "nf4", true, model.FP32); err != nil {
				t.Fatal(err)
			}
			if _, err := q.W.QuantizeEmbedding(q.Config, "nf4", model.FP32); err != nil {
				t.Fatal(err)
			}
			d := mk()
			for _, name := range d.Config.LinearNames() {
				l := d.W.LinearByName(name)
				l.W = q.W.LinearByName(name).Weight()
			}
			d.W.Embed = q.W.EmbedQ.Dequantize()
			d.W.LMHead = d.W.Embed
			b := &model.Batch{B: 2, T: 6, IDs: []int32{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8},
				Labels: []int32{-100, -100, 4, 1, 5, 9, -100, 6, 5, 3, 5, 8}}
			var sets [2]*lora.Set
			var losses [2]float64
			for i, m := range []*model.Model{q, d} {
				s, err := lora.New(m, lora.Config{R: 4, Alpha: 8, Targets: []string{"all-linear"}}, 5)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range s.Adapters {
					for j := range a.B.F32() {
						a.B.F32()[j] = float32((j%7)-3) * 0.02
					}
				}
				a := m.NewActivations(b.B, b.T, false)
				m.Forward(e, b, a, true)
				_, n := m.Loss(e, b, a, nil, 0, false)
				sum, _ := m.Loss(e, b, a, nil, float32(1/float64(n)), true)
				m.Backward(e, b, a, nil)
				sets[i], losses[i] = s, sum/float64(n)
			}
			if math.Abs(losses[0]-losses[1]) > 1e-5 {
				t.Fatalf("loss over NF4 %v, over the dequantised weights %v", losses[0], losses[1])
			}
			pq, pd := sets[0].Params(), sets[1].Params()
			for i := range pq {
				if e := relL2(pq[i].Grad.F32(), pd[i].Grad.F32()); e > 1e-5 {
					t.Errorf("%s: gradient differs by %.3g (relative L2)", pq[i].Name, e)
				}
			}
			// merging a QLoRA adapter folds it into the dequantised weights
			mq := model.New(q.Config, sets[0].Merge(q))
			md := model.New(d.Config, sets[1].Merge(d))
			lq, _ := mq.Logits(e, b)
			ld, _ := md.Logits(e, b)
			if dd := maxAbsDiff(lq.F32(), ld.F32()); dd > 1e-5 {
				t.Errorf("merged QLoRA model differs from the merge over dequantised weights by %.3g", dd)
			}
		})
	}
}
