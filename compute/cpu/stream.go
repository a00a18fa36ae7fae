package cpu

import "unsafe"

// streamChunk is the share of streamed memory one task reads, in float32s
// (256 KiB): small enough that a layer's weights are spread over every
// thread.
const streamChunk = 1 << 16

// StreamRead reads every byte of each of data once (a trailing partial
// word of each aside), spread over the engine's threads with the widest
// vector loads the CPU has, and returns a sum over what it read so that the
// reads cannot be optimised away. The bytes are summed as float32 words,
// whatever they hold: timing it over weights much larger than the caches
// gives the memory bandwidth that decoding, which streams every weight once
// per token, is bound by.
func (e *Engine) StreamRead(data ...[]byte) float64 {
	var pieces [][]float32
	for _, d := range data {
		if len(d) < 4 {
			continue
		}
		buf := unsafe.Slice((*float32)(unsafe.Pointer(&d[0])), len(d)/4)
		for lo := 0; lo < len(buf); lo += streamChunk {
			pieces = append(pieces, buf[lo:min(len(buf), lo+streamChunk)])
		}
	}
	sums := make([]float64, len(pieces))
	e.pool.run(len(pieces), func(i int) {
		sums[i] = float64(dot(e.kern.vec, pieces[i], pieces[i]))
	})
	var s float64
	for _, v := range sums {
		s += v
	}
	return s
}
