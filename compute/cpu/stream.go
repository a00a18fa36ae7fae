package cpu

// streamChunk is the share of a streamed buffer one task reads.
const streamChunk = 1 << 18 // float32s: 1 MiB

// StreamRead reads every element of buf once, spread over the engine's
// threads with the widest vector loads the CPU has, and returns the sum of
// their squares (so that the reads cannot be optimised away). Timing it over
// a buffer much larger than the caches gives the memory bandwidth that
// decoding, which streams every weight once per token, is bound by.
func (e *Engine) StreamRead(buf []float32) float64 {
	tasks := (len(buf) + streamChunk - 1) / streamChunk
	sums := make([]float64, tasks)
	e.pool.run(tasks, func(i int) {
		part := buf[i*streamChunk : min(len(buf), (i+1)*streamChunk)]
		sums[i] = float64(dot(e.kern.vec, part, part))
	})
	var s float64
	for _, v := range sums {
		s += v
	}
	return s
}
