package cpu

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"hone/tensor"
)

// Reading ahead. A decoding step is a chain of few-row passes, each bound
// by reading its weights from memory, with small ops between them (norms,
// RoPE, attention) and, at the end of each pass, a thread that has run out
// of chunks waiting for the others: memory idles while the workers wait.
// So the model announces, just before each pass, the weights of the pass
// after it (Engine.ReadAhead); the pass's job takes the announcement to
// the first worker, which, once its tasks are done and until the next job
// comes, reads up to readAheadBytes of those weights into its caches from
// where the workers' region of that pass begins (pool.runSplit), so that
// the worker then computes with what it read. It only moves reads
// earlier, into time that was idle: the results do not depend on it.
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

// announcement is what a job of runSplit tells the first worker to read
// once its own tasks are done: pieces of weights, in order, and the count
// of withdrawals when it was made.
type announcement struct {
	data  [aheadRegions][]float32
	n     int
	epoch uint64
}

// aheadRecord is the callers' side of reading ahead, in the pool: the
// announcement that the next job of runSplit takes (next, guarded by lock
// against concurrent callers: one that finds it held drops its
// announcement, a hint lost), the count of withdrawals, which the first
// worker checks between chunks, and what the worker is reading, which a
// withdrawal waits on. Each on a line of its own: next is the callers',
// epoch is written once a token, reading is the worker's.
type aheadRecord struct {
	lock atomic.Uint32
	next announcement
	_    [64]byte
	// epoch counts the withdrawals
	epoch atomic.Uint64
	_     [56]byte
	// reading is 1 + the epoch of the announcement the worker reads, 0
	// when it reads none
	reading atomic.Uint64
	_       [56]byte
}

// aheadState is the first worker's announcement and how far it has read
// it.
type aheadState struct {
	a      announcement
	i, off int
}

// take starts reading announcement a, a job's.
func (st *aheadState) take(a *announcement) { *st = aheadState{a: *a} }

// ReadAhead announces the weights that the few-row pass after the coming
// one will read (compute.ReadAheader): ws in the order given to
// MatMulShared or MatMul, or with gated set the gate and up of
// MatMulSwiGLU, which reads them as MatMulShared would. The first worker
// reads where the workers' region of that pass begins (gemv.go's chunks,
// pool.runSplit), as much as its caches keep. Nil weights and ones
// neither F32 nor BF16 are skipped; no weights withdraws the
// announcement, and returns once no worker reads it. Announcing needs a
// worker thread and the few-row passes that take announcements to it: an
// engine without either ignores it (readsAhead).
func (e *Engine) ReadAhead(gated bool, ws ...*tensor.Tensor) {
	if !e.readsAhead() {
		return
	}
	data, m, ok := e.aheadPieces(readAheadBytes, ws)
	if !ok {
		e.pool.ahead.withdraw()
		return
	}
	e.pool.ahead.set(data[:m]...)
}

// readsAhead reports whether the engine takes announcements: it has a
// worker thread, and the vector kernels of the few-row passes (gemv.go),
// the only passes that take an announcement to the worker (without them,
// as in the portable build, a few-row product runs as a GEMM).
func (e *Engine) readsAhead() bool { return e.threads >= 2 && e.kern.vec != nil }

// readAheadThenBytes is the most that ReadAheadThen adds: on the 2-core
// Zen 4 machine, decoding the SmolLM2-135M shape with the gate and up
// added to the output projection's announcement (before the attention,
// where the worker ran out of the 331 KiB it was given and waited about 5
// µs), tokens alternated with tokens without in one process (8 x 64 pairs,
// seven processes) took 0.2-0.9% less over all and 0.3-0.9% less on the
// tokens where two threads read twice what one does; 512 KiB gained about
// as much (0.4-0.7%), 128 KiB 0.1-0.3%.
const readAheadThenBytes = 256 << 10

// ReadAheadThen adds to the last announcement the weights of the pass
// after the announced one (compute.ReadAheadThener), taken as ReadAhead
// takes them, up to readAheadThenBytes, while the announcement has room
// for their pieces.
func (e *Engine) ReadAheadThen(gated bool, ws ...*tensor.Tensor) {
	if !e.readsAhead() {
		return
	}
	if data, m, ok := e.aheadPieces(readAheadThenBytes, ws); ok {
		e.pool.ahead.add(data[:m]...)
	}
}

// aheadPieces returns the pieces of ws, the weights of one few-row pass,
// that the workers' region of that pass begins with, up to limit bytes and
// the workers' share of the pass; false when no weight is to be read.
func (e *Engine) aheadPieces(limit int, ws []*tensor.Tensor) ([aheadRegions][]float32, int, bool) {
	var data [aheadRegions][]float32
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
		return data, 0, false
	}
	// the workers' region starts at chunk split of the pass
	skip := splitTasks(tasks, e.threads)
	budget := min(limit, total/e.threads)
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
	return data, m, true
}

// weightChunks returns how many chunks a few-row pass cuts weight w
// (stored [n, k], the b of a product with tb) into.
func weightChunks(w *tensor.Tensor) int {
	rows := chunkRows(w.Rows(), w.Cols()*w.DType.Size(), true)
	return (w.Rows() + rows - 1) / rows
}

// set makes data the announcement that the next job of runSplit takes.
func (r *aheadRecord) set(data ...[]float32) {
	if !r.lock.CompareAndSwap(0, 1) {
		return // another caller's: a hint lost
	}
	r.next.n = copy(r.next.data[:], data)
	clear(r.next.data[r.next.n:])
	r.lock.Store(0)
}

// add appends data to the announcement to be taken, as far as it has
// room for their pieces.
func (r *aheadRecord) add(data ...[]float32) {
	if !r.lock.CompareAndSwap(0, 1) {
		return
	}
	r.next.n += copy(r.next.data[r.next.n:], data)
	r.lock.Store(0)
}

// pass moves the announcement to be taken into dst, a new job's (dst.n
// is 0 when there is none).
func (r *aheadRecord) pass(dst *announcement) {
	if !r.lock.CompareAndSwap(0, 1) {
		return
	}
	if r.next.n > 0 {
		*dst = r.next
		dst.epoch = r.epoch.Load()
		r.next = announcement{}
	}
	r.lock.Store(0)
}

// withdraw drops the announcement to be taken and ends those that jobs
// took: once it returns, the worker reads none of them (a model closed
// next may unmap its weights). The worker checks the count of withdrawals
// between chunks, after saying what it reads; so it is enough to count
// this one and then wait while the worker says it reads one from before.
func (r *aheadRecord) withdraw() {
	for !r.lock.CompareAndSwap(0, 1) {
		runtime.Gosched()
	}
	r.next = announcement{}
	r.lock.Store(0)
	old := r.epoch.Add(1) - 1
	for r.reading.Load() == old+1 {
		runtime.Gosched()
	}
}

// readAhead reads the worker's announcement from where it last stopped
// until it has read it all, a job other than seen comes or the
// announcement is withdrawn, and reports whether there was anything to
// read.
func (p *pool) readAhead(seen uint64, st *aheadState) bool {
	if st.i >= st.a.n {
		return false
	}
	r := &p.ahead
	r.reading.Store(st.a.epoch + 1)
	defer r.reading.Store(0)
	for ; st.i < st.a.n; st.i, st.off = st.i+1, 0 {
		d := st.a.data[st.i]
		for st.off < len(d) {
			if r.epoch.Load() != st.a.epoch {
				*st = aheadState{} // withdrawn: hold no weights
				return true
			}
			if p.latest.Load() != seen {
				return true // a job came
			}
			hi := min(len(d), st.off+aheadChunk)
			p.read(d[st.off:hi])
			st.off = hi
		}
	}
	*st = aheadState{} // all read: hold no weights
	return true
}
