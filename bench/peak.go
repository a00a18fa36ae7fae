package bench

import (
	"time"

	"hone/compute/cpu"
	"hone/model"
	"hone/tensor"
)

// PeakShape is the product whose speed stands for the engine's peak: the
// up projection of SmolLM2-135M over 256 tokens, bound by arithmetic and
// the shape the engine's blocking is tuned for (on the AMD Zen 4 machine
// of docs/PERFORMANCE.md it runs faster than 1024³, whose k is split into
// three blocks).
var PeakShape = [3]int{256, 576, 1536}

// PeakGFLOPS measures the CPU engine's matrix-product speed on PeakShape
// with B in dt (the best of repetitions over minTime): the rate that the
// other benchmarks' GFLOP/s are a fraction of.
func PeakGFLOPS(threads int, dt tensor.DType, minTime time.Duration) (float64, error) {
	_, res, err := cpu.Bench(cpu.BenchConfig{Threads: threads, Shapes: [][3]int{PeakShape}, MinTime: minTime, DTypes: []tensor.DType{dt}}, nil)
	if err != nil {
		return 0, err
	}
	return res[0].GFLOPS, nil
}

// Products lists the distinct matrix products (m, k, n) of a forward pass
// of c over tokens tokens: each projection of a layer and the LM head,
// as a linear layer multiplies them (C [m, n] = A [m, k] · Wᵀ).
func Products(c *model.Config, tokens int) [][3]int {
	h, q, kv, f := c.Hidden, c.QDim(), c.KVDim(), c.Intermediate
	var out [][3]int
	seen := map[[3]int]bool{}
	for _, p := range [][3]int{{tokens, h, q}, {tokens, h, kv}, {tokens, q, h}, {tokens, h, f}, {tokens, f, h}, {tokens, h, c.Vocab}} {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// DType returns the dtype of the weight matrices at a precision.
func DType(p model.Precision) tensor.DType {
	if p == model.BF16 {
		return tensor.BF16
	}
	return tensor.F32
}
