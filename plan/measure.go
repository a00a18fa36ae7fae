package plan

import (
	"time"

	"hone/compute"
	"hone/tensor"
)

// MeasureFLOPS times the engine's matrix product on a linear layer's shape
// (512 tokens through a 1024×1024 weight, dtype dt) for about d and returns
// the FLOP/s it sustained: the rate Hone's time estimates use. Training
// also spends time outside products (norms, attention, the optimizer), so
// epoch times built on it are lower bounds.
func MeasureFLOPS(e compute.Engine, dt tensor.DType, d time.Duration) float64 {
	const n, k, m = 512, 1024, 1024
	x := tensor.New(dt, n, k)
	w := tensor.New(dt, m, k)
	y := tensor.New(tensor.F32, n, m)
	if dt != tensor.F32 {
		y = tensor.New(dt, n, m)
	}
	e.MatMul(y, x, w, false, true, false) // warm up: threads, packing buffers
	var reps int
	start := time.Now()
	for reps == 0 || time.Since(start) < d {
		e.MatMul(y, x, w, false, true, false)
		reps++
	}
	return 2 * n * k * m * float64(reps) / time.Since(start).Seconds()
}
