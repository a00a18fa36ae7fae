package cpu

import (
	"fmt"
	"math/rand/v2"
	"time"

	"hone/tensor"
)

// BenchConfig says what Bench measures.
type BenchConfig struct {
	// Threads is the engine's thread count (0: one per core).
	Threads int
	// Shapes lists the products as (m, k, n): C [m, n] = A [m, k] · Bᵀ
	// with B stored [n, k], a linear layer's forward. Empty means
	// DefaultBenchShapes.
	Shapes [][3]int
	// MinTime is how long each product is repeated for (at least once);
	// 0 means one second.
	MinTime time.Duration
	// DTypes are the dtypes of B to measure (F32, BF16); empty means both.
	DTypes []tensor.DType
}

// DefaultBenchShapes are the products of a small Llama (d=576, ffn=1536,
// vocab=49152) over 512 tokens: an MLP up/gate projection, its down
// projection and the LM head.
var DefaultBenchShapes = [][3]int{{512, 576, 1536}, {512, 1536, 576}, {512, 576, 49152}}

// BenchResult is the speed of one product.
type BenchResult struct {
	M, K, N int
	// DType is the dtype of B: F32, or BF16 (the bf16 mode where the CPU
	// has it).
	DType tensor.DType
	// PerOp is the best time of one product.
	PerOp time.Duration
	// GFLOPS is 2mnk / PerOp, in 10⁹ floating-point operations a second.
	GFLOPS float64
}

// String formats the result as one line.
func (r BenchResult) String() string {
	return fmt.Sprintf("%5d %5d %6d %-4v %10v %8.1f GFLOP/s", r.M, r.K, r.N, r.DType, r.PerOp.Round(time.Microsecond), r.GFLOPS)
}

// Bench times the engine's matrix products in F32 and BF16 at each shape
// and calls report (when not nil) after each, returning all the results
// and the engine's name. The best of the repetitions is kept, since other
// load on the machine only ever slows a run down.
func Bench(cfg BenchConfig, report func(BenchResult)) (string, []BenchResult, error) {
	shapes := cfg.Shapes
	if len(shapes) == 0 {
		shapes = DefaultBenchShapes
	}
	for _, s := range shapes {
		if s[0] <= 0 || s[1] <= 0 || s[2] <= 0 {
			return "", nil, fmt.Errorf("bench shape %dx%dx%d: dimensions must be positive", s[0], s[1], s[2])
		}
	}
	minTime := cfg.MinTime
	if minTime <= 0 {
		minTime = time.Second
	}
	dtypes := cfg.DTypes
	if len(dtypes) == 0 {
		dtypes = []tensor.DType{tensor.F32, tensor.BF16}
	}
	for _, dt := range dtypes {
		if dt != tensor.F32 && dt != tensor.BF16 {
			return "", nil, fmt.Errorf("bench dtype %v: want F32 or BF16", dt)
		}
	}
	e := New(cfg.Threads)
	defer e.Close()
	r := rand.New(rand.NewPCG(1, 2))
	fill := func(t *tensor.Tensor) *tensor.Tensor {
		for i := range t.F32() {
			t.F32()[i] = float32(r.NormFloat64())
		}
		return t
	}
	var out []BenchResult
	for _, s := range shapes {
		m, k, n := s[0], s[1], s[2]
		a := fill(tensor.New(tensor.F32, m, k))
		w := fill(tensor.New(tensor.F32, n, k))
		c := tensor.New(tensor.F32, m, n)
		for _, dt := range dtypes {
			b := w.To(dt)
			e.MatMul(c, a, b, false, true, false) // warm up: scratch, caches
			best := time.Duration(1<<63 - 1)
			for start := time.Now(); time.Since(start) < minTime; {
				t0 := time.Now()
				e.MatMul(c, a, b, false, true, false)
				best = min(best, time.Since(t0))
			}
			res := BenchResult{M: m, K: k, N: n, DType: dt, PerOp: best,
				GFLOPS: 2 * float64(m) * float64(n) * float64(k) / best.Seconds() / 1e9}
			out = append(out, res)
			if report != nil {
				report(res)
			}
		}
	}
	return e.Name(), out, nil
}
