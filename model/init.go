package model

import (
	"math/rand/v2"
	"strings"

	"hone/tensor"
)

// Init returns freshly initialised float32 weights, as transformers
// initialises a Llama-family model: every matrix drawn from N(0, std²)
// (initializer_range, 0.02 by default), biases zero, norm weights one. The
// same seed gives the same weights; each tensor draws from its own stream
// keyed by its name, so adding a layer does not change the others.
func Init(c *Config, std float64, seed uint64) *Weights {
	w := &Weights{}
	for _, p := range w.Params(c) {
		t := tensor.New(tensor.F32, p.Shape...)
		v := t.F32()
		switch {
		case strings.HasSuffix(p.Name, "norm.weight"):
			for i := range v {
				v[i] = 1
			}
		case strings.HasSuffix(p.Name, ".bias"):
		default:
			rng := rand.New(rand.NewPCG(seed, hashName(p.Name)))
			for i := range v {
				v[i] = float32(rng.NormFloat64() * std)
			}
		}
		*p.Ptr = t
	}
	if c.TieEmbeddings {
		w.LMHead = w.Embed
	}
	return w
}

func hashName(s string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
