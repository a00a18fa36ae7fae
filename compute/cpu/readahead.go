package cpu

import (
	"runtime"
	"unsafe"

	"hone/tensor"
)

// Reading ahead. A decoding step is a chain of few-row passes, each bound
// by reading its weights from memory, with small ops between them (norms,
// RoPE, attention) and, at the end of each pass, a thread that has run out
// of chunks waiting for the others: memory idles while the workers wait.
// So the model announces, just before each pass, the weights of the pass
// after it (Engine.ReadAhead); the first worker, whenever it waits, reads
// up to readAheadBytes of them into its caches from where the workers'
// region of that pass begins (pool.runSplit), so that the worker then
// computes with what it read. It only moves reads earlier, into time that
// was idle: the results do not depend on it.
//
// On the 2-core Zen 4 machine (1 MiB L2 a core), decoding at the
// SmolLM2-135M shape, each token alternated with one decoded another way in
// one process (8 x 64 tokens a variant, contexts 16-80, median of the
// paired ratios, 3 processes each): with shares of up to 256 KiB, reading
// 128 KiB ahead took 0.5-2.6% off a token, 256 KiB 1.5-4.1%, 512 KiB
// 2.0-4.8%, 768 KiB and 1 MiB 2.6-4.4%; with the final 1 MiB shares, 512
// KiB took 2.7-3.3% off against no reading ahead, 1 MiB the same as 512
// KiB, 256 KiB 0.7% less; with the passes in 64 KiB chunks (gemv.go),
// 256 KiB and 1 MiB decoded the same as 512 KiB, within 0.5%
// (docs/PERFORMANCE.md).
const readAheadBytes = 512 << 10

// aheadChunk is how many float32s the worker reads between two looks for
// a new job or a change of announcement (4 KiB: about 0.15 µs from
// memory).
const aheadChunk = 1024

// aheadRegions is the most pieces of weights one announcement names.
const aheadRegions = 4

// aheadSlots is how many announcements the pool keeps, reused (pool.go's
// tickets and tenancy): the one the worker reads, the one being made, and
// room for concurrent decoders.
const aheadSlots = 4

// readAhead is one announcement: the pieces of weights to read, in order,
// and key, the first announced weight's data, by which the pass that reads
// it withdraws the announcement.
type readAhead struct {
	tenancy
	key  unsafe.Pointer
	data [aheadRegions][]float32
	n    int
}

// aheadState is how far the worker has read the announcement gen.
type aheadState struct {
	gen      uint64
	i, off   int
	finished bool
}

// ReadAhead announces the weights that the few-row pass after the coming
// one will read (compute.ReadAheader): ws in the order given to
// MatMulShared or MatMul, or with gated set the gate and up of
// MatMulSwiGLU, which reads them as MatMulShared would. The first worker
// reads where the workers' region of that pass begins (gemv.go's chunks,
// pool.runSplit), as much as its caches keep. Nil weights and ones
// neither F32 nor BF16 are skipped; no weights withdraws the
// announcement, and returns once no worker reads it. Announcing needs a
// worker thread: a one-thread engine ignores it.
func (e *Engine) ReadAhead(gated bool, ws ...*tensor.Tensor) {
	if e.threads < 2 {
		return
	}
	var keep [aheadRegions]*tensor.Tensor
	n, tasks, total := 0, 0, 0
	for _, w := range ws {
		if w == nil || (w.DType != tensor.F32 && w.DType != tensor.BF16) || len(w.Data) < 64 || w.Rows() == 0 || n == aheadRegions {
			continue
		}
		keep[n] = w
		n++
		tasks += weightChunks(w)
		total += len(w.Data)
	}
	if n == 0 {
		e.pool.announce(nil)
		return
	}
	// the workers' region starts at chunk split of the pass
	skip := splitTasks(tasks, e.threads)
	budget := min(readAheadBytes, total/e.threads)
	var data [aheadRegions][]float32
	m := 0
	for _, w := range keep[:n] {
		if wt := weightChunks(w); skip >= wt {
			skip -= wt
			continue
		}
		rowBytes := w.Cols() * w.DType.Size()
		start := skip * chunkRows(w.Rows(), rowBytes, true) * rowBytes &^ 63
		skip = 0
		d := w.Data[start:min(len(w.Data), start+budget)]
		if len(d) < 64 {
			break
		}
		data[m] = unsafe.Slice((*float32)(unsafe.Pointer(&d[0])), len(d)/4)
		m++
		if budget -= len(d); budget < 64 {
			break
		}
	}
	e.pool.announce(unsafe.Pointer(&keep[0].Data[0]), data[:m]...)
}

// weightChunks returns how many chunks a few-row pass cuts weight w
// (stored [n, k], the b of a product with tb) into.
func weightChunks(w *tensor.Tensor) int {
	rows := chunkRows(w.Rows(), w.Cols()*w.DType.Size(), true)
	return (w.Rows() + rows - 1) / rows
}

// announce publishes the pieces of weights to read ahead, in order, with
// key the first weight's data, in a free record; with every record in use
// (concurrent decoders) the announcement is dropped, a hint lost. With
// no pieces it withdraws the announcement and empties every record, once
// nobody is in it, so that none holds or reads weights after it returns.
func (p *pool) announce(key unsafe.Pointer, data ...[]float32) {
	gen := p.gen.Add(1)
	if len(data) == 0 {
		p.ahead.Store(0)
		for i := range p.aheads {
			// a worker reading the record leaves it within a chunk,
			// seeing the announcement gone: wait, so that the weights
			// are not read after this returns (a model closed next may
			// unmap them)
			a := &p.aheads[i]
			for !a.claim(gen) {
				runtime.Gosched()
			}
			a.key, a.n = nil, 0
			clear(a.data[:])
			a.leave()
		}
		return
	}
	for i := range p.aheads {
		k := (int(gen) + i) % aheadSlots
		a := &p.aheads[k]
		if !a.claim(gen) {
			continue
		}
		a.key, a.n = key, copy(a.data[:], data)
		clear(a.data[a.n:])
		a.leave()
		p.ahead.Store(gen<<slotBits | uint64(k))
		return
	}
}

// withdraw ends the announcement of a pass that reads b (its first
// weight's data), once that pass has run.
func (p *pool) withdraw(b unsafe.Pointer) {
	t := p.ahead.Load()
	if t == 0 {
		return
	}
	a := &p.aheads[t&(1<<slotBits-1)]
	if !a.enter(t >> slotBits) {
		return
	}
	ours := a.key == b
	a.leave()
	if ours {
		p.ahead.CompareAndSwap(t, 0)
	}
}

// announced returns the current announcement's record, nil when there is
// none (for tests: it reads the record without entering it).
func (p *pool) announced() *readAhead {
	t := p.ahead.Load()
	if t == 0 {
		return nil
	}
	return &p.aheads[t&(1<<slotBits-1)]
}

// readAhead reads the announced weights from where it last stopped until
// it has read them all, a job other than seen comes or the announcement
// changes, and reports whether there was anything to read.
func (p *pool) readAhead(seen uint64, st *aheadState) bool {
	t := p.ahead.Load()
	if t == 0 {
		return false
	}
	gen := t >> slotBits
	if gen != st.gen {
		*st = aheadState{gen: gen}
	}
	if st.finished {
		return false
	}
	a := &p.aheads[t&(1<<slotBits-1)]
	if !a.enter(gen) {
		return false // replaced already
	}
	defer a.leave()
	for ; st.i < a.n; st.i, st.off = st.i+1, 0 {
		d := a.data[st.i]
		for st.off < len(d) {
			if p.latest.Load() != seen || p.ahead.Load() != t {
				return true // a job came, or the announcement went
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
