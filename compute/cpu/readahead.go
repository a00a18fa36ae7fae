package cpu

import (
	"sync/atomic"
	"unsafe"

	"hone/tensor"
)

// Reading ahead. A decoding step is a chain of few-row passes, each bound
// by reading its weights from memory, with small ops between them (norms,
// RoPE, attention on one thread) and, at the end of each pass, a thread
// that has run out of shares waiting for the others: memory idles while
// the workers wait. So the model announces, just before each pass, the
// weights of the pass after it (Engine.ReadAhead); the first worker,
// whenever it waits, reads the last readAheadBytes of them into its
// caches, and a few-row pass (pool.runEnds) hands its shares to the
// caller from the front and to the workers from the back, so that the
// worker computes with what it read. It only moves reads earlier, into
// time that was idle: the results do not depend on it.
//
// On the 2-core Zen 4 machine (1 MiB L2 a core), decoding at the
// SmolLM2-135M shape, each token alternated with one decoded another way in
// one process (8 x 64 tokens a variant, contexts 16-80, median of the
// paired ratios, 3 processes each): with shares of up to 256 KiB, reading
// 128 KiB ahead took 0.5-2.6% off a token, 256 KiB 1.5-4.1%, 512 KiB
// 2.0-4.8%, 768 KiB and 1 MiB 2.6-4.4%; with the final 1 MiB shares, 512
// KiB took 2.7-3.3% off against no reading ahead, 1 MiB the same as 512
// KiB, 256 KiB 0.7% less (docs/PERFORMANCE.md).
const readAheadBytes = 512 << 10

// aheadChunk is how many float32s the worker reads between two looks for
// a new job (4 KiB: about 0.15 µs from memory).
const aheadChunk = 1024

// aheadRegions is the most pieces of weights one announcement names.
const aheadRegions = 4

// readAhead is one announcement: the pieces of weights to read, in order,
// and key, the first announced weight's data, by which the pass that reads
// it withdraws the announcement.
type readAhead struct {
	gen  uint64
	key  unsafe.Pointer
	data [aheadRegions][]float32
	n    int
}

// aheadGen numbers the announcements, so that a worker can tell a new one
// without holding on to the old (and its weights).
var aheadGen atomic.Uint64

// aheadState is how far the worker has read the announcement gen.
type aheadState struct {
	gen      uint64
	i, off   int
	finished bool
}

// ReadAhead announces the weights that the few-row pass after the coming
// one will read (compute.ReadAheader): ws in the order given to
// MatMulShared or MatMul, or with gated set the gate and up of
// MatMulSwiGLU. Nil weights and ones neither F32 nor BF16 are skipped; no
// weights withdraws the announcement. Announcing needs a worker thread:
// a one-thread engine ignores it.
func (e *Engine) ReadAhead(gated bool, ws ...*tensor.Tensor) {
	if e.threads < 2 {
		return
	}
	var keep [aheadRegions][]byte
	n, total := 0, 0
	for _, w := range ws {
		if w == nil || (w.DType != tensor.F32 && w.DType != tensor.BF16) || len(w.Data) < 64 || n == aheadRegions {
			continue
		}
		keep[n] = w.Data
		n++
		total += len(w.Data)
	}
	if n == 0 {
		e.pool.ahead.Store(nil)
		return
	}
	// the worker's part of the pass, at most what its caches keep
	budget := min(readAheadBytes, total/e.threads)

	a := &readAhead{gen: aheadGen.Add(1), key: unsafe.Pointer(&keep[0][0])}
	tail := func(d []byte, bytes int) {
		start := max(0, len(d)-bytes) &^ 63
		t := d[start:]
		a.data[a.n] = unsafe.Slice((*float32)(unsafe.Pointer(&t[0])), len(t)/4)
		a.n++
	}
	if gated && n == 2 {
		// a share of a gated pass takes the same rows of both
		tail(keep[1], budget/2)
		tail(keep[0], budget/2)
	} else {
		// the last shares are those of the last weights
		for i := n - 1; i >= 0 && budget >= 64; i-- {
			b := min(budget, len(keep[i]))
			tail(keep[i], b)
			budget -= b
		}
	}
	e.pool.ahead.Store(a)
}

// withdraw ends the announcement of a pass that reads b (its first
// weight's data), once that pass has run.
func (p *pool) withdraw(b unsafe.Pointer) {
	if a := p.ahead.Load(); a != nil && a.key == b {
		p.ahead.CompareAndSwap(a, nil)
	}
}

// readAhead reads the announced weights from where it last stopped until
// it has read them all or a job other than seen comes, and reports
// whether there was anything to read.
func (p *pool) readAhead(seen *job, st *aheadState) bool {
	a := p.ahead.Load()
	if a == nil {
		return false
	}
	if a.gen != st.gen {
		*st = aheadState{gen: a.gen}
	}
	if st.finished {
		return false
	}
	for ; st.i < a.n; st.i, st.off = st.i+1, 0 {
		d := a.data[st.i]
		for st.off < len(d) {
			if p.latest.Load() != seen {
				return true
			}
			hi := min(len(d), st.off+aheadChunk)
			p.read(d[st.off:hi])
			st.off = hi
		}
	}
	st.finished = true
	return true
}

// data is the address of o's first element, nil when o is empty.
func (o operand) data() unsafe.Pointer {
	switch {
	case len(o.h) > 0:
		return unsafe.Pointer(&o.h[0])
	case len(o.f) > 0:
		return unsafe.Pointer(&o.f[0])
	}
	return nil
}
