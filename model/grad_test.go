package model_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"hone/compute"
	"hone/compute/ref"
	"hone/model"
	"hone/tensor"
)

// tinyConfig returns a small config of the given family with awkward sizes:
// head_dim 6 (not a multiple of 8) and GQA groups of 3.
func tinyConfig(family string) *model.Config {
	c := &model.Config{
		ModelType: "llama", Hidden: 12, Intermediate: 10, Layers: 2, Heads: 3, KVHeads: 1, HeadDim: 6,
		Vocab: 11, MaxPositions: 64, RMSEps: 1e-5, BOS: 1, EOS: []int{2}, Pad: -1,
		Rope: model.Rope{Theta: 10000, Type: "default", Factor: 1},
	}
	switch family {
	case "tied":
		c.TieEmbeddings = true
		c.KVHeads = 3 // GQA group of 1
	case "qwen2":
		c.ModelType, c.QKVBias, c.TieEmbeddings = "qwen2", true, true
	case "qwen3":
		c.ModelType, c.QKNorm = "qwen3", true
	case "llama3":
		c.Rope = model.Rope{Theta: 500000, Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 8}
	}
	return c
}

// randomWeights fills every parameter of c with N(0, scale²) values of dtype
// dt (norm weights around 1).
func randomWeights(c *model.Config, dt tensor.DType, seed uint64) *model.Weights {
	rng := rand.New(rand.NewPCG(seed, 7))
	w := &model.Weights{}
	for _, p := range w.Params(c) {
		t := tensor.New(tensor.F64, p.Shape...)
		v := t.F64()
		for i := range v {
			if len(p.Shape) == 1 && !isBias(p.Name) {
				v[i] = 1 + 0.2*rng.NormFloat64()
			} else {
				v[i] = 0.4 * rng.NormFloat64()
			}
		}
		*p.Ptr = t.To(dt)
	}
	if c.TieEmbeddings {
		w.LMHead = w.Embed
	}
	return w
}

func isBias(name string) bool { return len(name) > 5 && name[len(name)-5:] == ".bias" }

// zeroGrads returns a gradient struct with a zeroed tensor for every
// parameter (the tied head shares the embedding's gradient).
func zeroGrads(c *model.Config, w *model.Weights) *model.Weights {
	g := &model.Weights{}
	wp := w.Params(c)
	for i, p := range g.Params(c) {
		*p.Ptr = tensor.New((*wp[i].Ptr).DType, p.Shape...)
	}
	if c.TieEmbeddings {
		g.LMHead = g.Embed
	}
	return g
}

func tinyBatch(c *model.Config, seg bool) *model.Batch {
	b := &model.Batch{B: 2, T: 5,
		IDs:    []int32{1, 4, 7, 3, 9, 1, 5, 5, 10, 2},
		Labels: []int32{-100, 4, 7, 3, 9, -100, -100, 5, 10, 2},
	}
	if seg {
		b.Seg = []int32{0, 0, 1, 1, 1, 0, 0, 0, 0, 0}
		b.Pos = []int32{0, 1, 0, 1, 2, 0, 1, 2, 3, 4}
	}
	return b
}

func meanLoss(e compute.Engine, m *model.Model, b *model.Batch, g *model.Weights) float64 {
	a := m.NewActivations(b.B, b.T, false)
	m.Forward(e, b, a, g != nil)
	_, n := m.Loss(e, b, a, nil, 0, false)
	if g == nil {
		s, _ := m.Loss(e, b, a, nil, 0, false)
		return s / float64(n)
	}
	s, _ := m.Loss(e, b, a, g, float32(1/float64(n)), true)
	m.Backward(e, b, a, g)
	return s / float64(n)
}

// TestFullGradFiniteDifferences checks the gradient of every parameter of a
// tiny model, in float64, against central finite differences, for each
// family variant.
func TestFullGradFiniteDifferences(t *testing.T) {
	for _, fam := range []string{"llama", "tied", "qwen2", "qwen3", "llama3", "packed"} {
		t.Run(fam, func(t *testing.T) {
			c := tinyConfig(fam)
			w := randomWeights(c, tensor.F64, 1)
			m := model.New(c, w)
			e := ref.Engine64{}
			b := tinyBatch(c, fam == "packed")
			g := zeroGrads(c, w)
			meanLoss(e, m, b, g)
			gp := g.Params(c)
			const h = 1e-5
			for pi, p := range w.Params(c) {
				v := (*p.Ptr).F64()
				gv := (*gp[pi].Ptr).F64()
				var worst, scale float64
				for i := range v {
					old := v[i]
					v[i] = old + h
					lp := meanLoss(e, m, b, nil)
					v[i] = old - h
					lm := meanLoss(e, m, b, nil)
					v[i] = old
					fd := (lp - lm) / (2 * h)
					worst = math.Max(worst, math.Abs(fd-gv[i]))
					scale = math.Max(scale, math.Abs(fd))
				}
				if scale == 0 {
					t.Errorf("%s: finite differences are all zero; the parameter does not reach the loss", p.Name)
					continue
				}
				if worst/scale > 1e-6 {
					t.Errorf("%s: max |fd - grad| = %.3g, %.3g of the largest gradient, want <= 1e-6", p.Name, worst, worst/scale)
				}
			}
		})
	}
}

// TestCheckpointingSameGradients: recomputing layers in backward gives the
// same gradients as keeping every activation.
func TestCheckpointingSameGradients(t *testing.T) {
	c := tinyConfig("qwen3")
	w := randomWeights(c, tensor.F32, 2)
	m := model.New(c, w)
	e := ref.Engine{}
	b := tinyBatch(c, false)
	var grads [2]*model.Weights
	for i, ckpt := range []bool{false, true} {
		grads[i] = zeroGrads(c, w)
		a := m.NewActivations(b.B, b.T, ckpt)
		m.Forward(e, b, a, true)
		m.Loss(e, b, a, grads[i], 0.1, true)
		m.Backward(e, b, a, grads[i])
	}
	p0, p1 := grads[0].Params(c), grads[1].Params(c)
	for i := range p0 {
		a, b := (*p0[i].Ptr).F32(), (*p1[i].Ptr).F32()
		for j := range a {
			if a[j] != b[j] {
				t.Fatalf("%s[%d]: %v with checkpointing, %v without", p0[i].Name, j, b[j], a[j])
			}
		}
	}
}

// TestDecodeMatchesFullForward: logits from the KV-cached decoder, fed one
// token at a time or in chunks, equal those of the full forward pass.
func TestDecodeMatchesFullForward(t *testing.T) {
	for _, fam := range []string{"llama", "qwen2", "qwen3", "llama3"} {
		t.Run(fam, func(t *testing.T) {
			c := tinyConfig(fam)
			m := model.New(c, randomWeights(c, tensor.F32, 3))
			e := ref.Engine{}
			ids := []int32{1, 4, 7, 3, 9, 2, 8, 8}
			full, err := m.Logits(e, &model.Batch{B: 1, T: len(ids), IDs: ids})
			if err != nil {
				t.Fatal(err)
			}
			cache := m.NewCache(len(ids))
			out := tensor.New(tensor.F32, 3, c.Vocab)
			if err := m.Decode(e, cache, ids[:3], out); err != nil {
				t.Fatal(err)
			}
			got := append([]float32(nil), out.F32()...)
			one := tensor.New(tensor.F32, 1, c.Vocab)
			for _, id := range ids[3:] {
				if err := m.Decode(e, cache, []int32{id}, one); err != nil {
					t.Fatal(err)
				}
				got = append(got, one.F32()...)
			}
			for i, v := range full.F32() {
				if math.Abs(float64(v-got[i])) > 1e-5 {
					t.Fatalf("logit %d (position %d): decode %v, full forward %v", i, i/c.Vocab, got[i], v)
				}
			}
			if err := m.Decode(e, cache, []int32{1}, one); err == nil {
				t.Error("decoding past the cache capacity succeeded")
			}
		})
	}
}

func ExampleModel_Check() {
	c := tinyConfig("llama")
	m := model.New(c, randomWeights(c, tensor.F32, 1))
	fmt.Println(m.Check(&model.Batch{B: 1, T: 2, IDs: []int32{1, 99}}))
	// Output: token id 99 at position 1 is outside the vocabulary of 11
}
