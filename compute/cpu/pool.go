package cpu

import (
	"bytes"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// pool is a persistent set of worker goroutines. A call to run hands its
// tasks out through a shared counter, so that the caller and every worker
// that joins take the next task until none is left; a worker busy
// elsewhere simply joins late or not at all.
//
// A worker that finishes a job spins for spinTime() watching for the next one
// before it parks on the channel: the ops of a decoding step come a few
// microseconds apart, and waking a parked goroutine costs about as much as
// a small op itself. While it spins, the first worker reads ahead the
// weights that the next few-row pass will give it, announced to it by the
// job it last joined (readahead.go).
//
// Jobs live in a fixed set of slots, reused, so that a run allocates
// nothing: a decoding step runs over a hundred jobs, and a new allocation
// is memory that the weights streaming through the caches have evicted,
// met as misses on the critical path (the wake-up channel that every job
// made cost 1.2-1.7% of a decoded token at the SmolLM2-135M shape, paired
// tokens on the 2-core machine). A job is named by a ticket, its slot and
// a generation; a thread joins it only while the slot still holds that
// generation, counted in the slot's state, and a slot is reused only
// when nobody is in it.
//
// Starting a job writes as few cache lines that the workers touched as it
// can: writing one takes it back from the other core, and an atomic
// operation waits for every line its thread has written (one line passed
// between two threads and back on the 2-core machine: 90-125 ns in its
// usual state, 450-680 ns in the state where two threads read memory
// twice as fast as one, its cores apparently on different dies). So the
// counters that threads claim tasks and count them done with carry the
// generation's low bits, and a count of another generation reads as
// zero: a job starts without clearing them; and the generation counter is
// the callers' alone, on a line of its own. (Traced, a decoding step's
// read-ahead announcement took 0.2-0.3 µs instead of 0.5-1.1 µs; whole
// tokens were the same within the noise, docs/PERFORMANCE.md.)
type pool struct {
	workers int // goroutines besides the caller
	jobs    chan uint64
	quit    chan struct{}
	// latest is the ticket of the newest job, which spinning workers
	// watch; spinning counts them, so that run sends the ticket only to
	// as many parked workers as it needs.
	latest   atomic.Uint64
	spinning atomic.Int32
	_        [64]byte
	gen      atomic.Uint64
	_        [56]byte
	slots    [poolSlots]job
	// ahead is the callers' side of reading ahead (readahead.go): the
	// announcement that the next job of runSplit takes to the workers,
	// and the count of withdrawals, which the first worker watches; read
	// is the kernel it reads with
	ahead aheadRecord
	read  func([]float32) float32
}

// poolSlots is the most jobs in flight at once (nested and concurrent
// runs); a run that finds every slot taken runs its tasks alone.
const poolSlots = 16

// A ticket is gen<<slotBits | slot: a record reused (a job's slot) and
// the use it is in. The record's tenancy counts the threads in it.
const (
	slotBits = 8
	refBits  = 16
)

// tenancy is gen<<refBits | refs: the use a reused record is in and how
// many threads are in it. A thread reads a record only while in it, and
// a record is written only by the thread that claimed it with nobody in.
type tenancy struct{ state atomic.Uint64 }

// enter joins use gen of the record; false when that use is over (the
// record claimed again).
func (c *tenancy) enter(gen uint64) bool {
	for {
		s := c.state.Load()
		if s>>refBits != gen {
			return false
		}
		if c.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// leave ends a thread's stay in the record.
func (c *tenancy) leave() { c.state.Add(^uint64(0)) }

// claim starts use gen of the record, entering it, if nobody is in it.
func (c *tenancy) claim(gen uint64) bool {
	s := c.state.Load()
	return s&(1<<refBits-1) == 0 && c.state.CompareAndSwap(s, gen<<refBits|1)
}

// How long an idle worker watches for a new job before it parks, and how
// long the caller watches for its last tasks to end. Long when the machine
// has a core for each of the engine's threads: the ops of a training step
// and of a decoding step come microseconds apart, and a parked worker
// costs a wake-up on the critical path of each (200 µs against 10 µs: the
// bf16 LoRA step at the SmolLM2-135M shape took 0.60-0.78 s against
// 0.67-0.94 s, alternated runs on the quiet 2-core machine). Short when
// other processes want the cores too: a spinning worker then takes CPU
// time from its own caller, which is on the critical path (decoding on 2
// cores with a load of 4: 49-65% of the bandwidth limit at 50 µs, 65-75%
// at 10 µs; docs/PERFORMANCE.md).
const (
	spinAlone  = 200 * time.Microsecond
	spinShared = 10 * time.Microsecond
)

// spinNanos is the current spin time; loadCheck is when the load was
// last read (Unix nanoseconds).
var spinNanos, loadCheck atomic.Int64

func init() { spinNanos.Store(int64(spinAlone)) }

// spinTime returns the spin time, reading the system's load at most every
// 250 ms: with more runnable threads than the cores left after this
// engine's threads, spinning is cut short. Where the load cannot be read
// the long spin stays.
func spinTime(threads int) time.Duration {
	now := time.Now().UnixNano()
	if last := loadCheck.Load(); now-last > int64(250*time.Millisecond) && loadCheck.CompareAndSwap(last, now) {
		if others, ok := otherLoad(threads); ok {
			if others > float64(runtime.NumCPU()-threads)+0.5 {
				spinNanos.Store(int64(spinShared))
			} else {
				spinNanos.Store(int64(spinAlone))
			}
		}
	}
	return time.Duration(spinNanos.Load())
}

// otherLoad returns the 1-minute load average less this engine's threads
// (Linux's /proc/loadavg), or false where it cannot be read. The file
// stays open and is read into a fixed buffer: nothing is allocated in
// the ops that look.
func otherLoad(threads int) (float64, bool) {
	loadOnce.Do(func() { loadFile, _ = os.Open("/proc/loadavg") })
	if loadFile == nil {
		return 0, false
	}
	var b [64]byte
	n, err := loadFile.ReadAt(b[:], 0)
	if n == 0 || (err != nil && err != io.EOF) {
		return 0, false
	}
	f := b[:n]
	if i := bytes.IndexByte(f, ' '); i >= 0 {
		f = f[:i]
	}
	l, err := strconv.ParseFloat(string(f), 64)
	if err != nil {
		return 0, false
	}
	return max(0, l-float64(threads)), true
}

var (
	loadOnce sync.Once
	loadFile *os.File
)

// job is one call to run or runSplit, in its slot.
type job struct {
	tenancy
	n atomic.Int64
	// split > 0 (runSplit): tasks [0, split) are the caller's region,
	// [split, n) the workers'
	split int64
	f     func(int)
	// tag is the generation's low bits, which the claim words and done
	// carry; last and lastSplit are the tags of the slot's previous job
	// and previous job of runSplit, which its words may still carry
	tag, last, lastSplit uint32
	// ahead is the announcement that a job of runSplit takes to the
	// first worker (readahead.go)
	ahead announcement
	// wake is made only by a caller that stops watching for the end and
	// parks; the thread that counts the last task closes it
	wake atomic.Pointer[chan struct{}]
	// failed holds the first panic of a task, re-raised by run on the
	// caller's goroutine so that it can be recovered there.
	failed atomic.Pointer[any]
	// the claim words and done on cache lines of their own, apart from
	// the fields that every task reads
	_ [64]byte
	// taken counts the tasks taken: in a job of run, all of them, in the
	// low 32 bits; in a job of runSplit, those of the caller's region,
	// taken from its front in the low 16 bits and from its back in the
	// next 16, claimed together by one compare-and-swap. The high 32 bits
	// are the job's tag: a word of another tag counts nothing.
	taken atomic.Uint64
	_     [56]byte
	// takenW is taken for the workers' region of a job of runSplit
	takenW atomic.Uint64
	_      [56]byte
	// done counts the tasks finished in the low 32 bits, under the tag,
	// each thread adding its own once it finds none left to take
	done atomic.Uint64
	_    [56]byte
}

// newPool starts threads-1 workers: the caller of run is the last thread.
// read is the kernel with which the first worker reads ahead.
func newPool(threads int, read func([]float32) float32) *pool {
	p := &pool{workers: threads - 1, jobs: make(chan uint64, 4*threads), quit: make(chan struct{}), read: read}
	for i := 0; i < p.workers; i++ {
		go p.loop(i == 0 && read != nil)
	}
	return p
}

// loop is a worker; the first one (first set) reads ahead while it spins.
func (p *pool) loop(first bool) {
	var seen uint64
	var ra aheadState
	var ahead *aheadState
	if first {
		ahead = &ra
	}
	for {
		select {
		case t := <-p.jobs:
			p.join(t, ahead)
			seen = t
		case <-p.quit:
			return
		}
		seen = p.spin(seen, ahead)
		ra = aheadState{} // parking: hold no weights
	}
}

// spin runs every new job published in latest until none has come for
// spinTime, and returns the ticket of the last one it saw. With ra set
// (the first worker), it reads the announced weights meanwhile, stopping
// as soon as a job comes.
func (p *pool) spin(seen uint64, ra *aheadState) uint64 {
	p.spinning.Add(1)
	defer p.spinning.Add(-1)
	limit := spinTime(p.workers + 1)
	start := time.Now()
	for i := 1; ; i++ {
		if t := p.latest.Load(); t != seen {
			p.join(t, ra)
			seen = t
			start = time.Now()
			continue
		}
		if ra != nil && p.readAhead(seen, ra) {
			start = time.Now()
			continue
		}
		if i%64 == 0 && time.Since(start) > limit {
			return seen
		}
	}
}

// join takes tasks of the job of ticket t until none is left, if that job
// is still in its slot; with ra set (the first worker) it first takes the
// job's announcement, if it has one, to read once its tasks are done.
func (p *pool) join(t uint64, ra *aheadState) {
	if t == 0 {
		return
	}
	j := &p.slots[t&(1<<slotBits-1)]
	if !j.enter(t >> slotBits) {
		return // over, its slot reused
	}
	if ra != nil && j.split > 0 && j.ahead.n > 0 {
		ra.take(&j.ahead)
	}
	j.work(true)
	j.leave()
}

// work takes tasks until none is left: in a job of run from the one
// counter; in a job of runSplit, from the front of the thread's own region
// (the caller's, or with worker set the workers') and then from the back
// of the other (region); then it counts the tasks it ran as done, all at
// once (a task costs one claim on a cache line, not three).
func (j *job) work(worker bool) {
	n := j.n.Load()
	var ran int64
	if split := j.split; split > 0 {
		own, other := &j.taken, &j.takenW
		ownLo, ownN, otherLo, otherN := int64(0), split, split, n-split
		if worker {
			own, other = other, own
			ownLo, ownN, otherLo, otherN = otherLo, otherN, ownLo, ownN
		}
		ran = j.region(own, ownLo, ownN, true)
		ran += j.region(other, otherLo, otherN, false)
	} else {
		for {
			i := int64((j.taken.Add(1) - 1) & (1<<32 - 1))
			if i >= n {
				break
			}
			j.do(int(i))
			ran++
		}
	}
	j.finish(ran, n)
}

// region runs the tasks of the region [lo, lo+n) of a job of runSplit
// whose claim word is w until none is left, and returns how many it ran.
// The region's own thread (front set) takes them one at a time from the
// front; another takes half of what is left from the back at once and
// runs it in order, one run of memory rather than a run a task (on the
// 2-core Zen 4 machine, decoding the SmolLM2-135M shape token by token
// alternated with taking one task at a time from the back: tokens 0.4-1.2%
// faster where two threads read twice as fast as one, four processes;
// 0.1% in one where one thread read nearly as fast as two; a third at
// once: 0.4-0.6% where two read twice as fast).
func (j *job) region(w *atomic.Uint64, lo, n int64, front bool) int64 {
	var ran int64
	for {
		s := w.Load()
		var f, b int64
		if uint32(s>>32) == j.tag { // else another job's: nothing taken
			f, b = int64(s&(1<<16-1)), int64(s>>16&(1<<16-1))
		}
		left := n - f - b
		if left <= 0 {
			return ran
		}
		cur := uint64(j.tag)<<32 | uint64(b)<<16 | uint64(f)
		if front {
			if !w.CompareAndSwap(s, cur+1) {
				continue
			}
			j.do(int(lo + f))
			ran++
			continue
		}
		k := (left + 1) / 2
		if !w.CompareAndSwap(s, cur+uint64(k)<<16) {
			continue
		}
		for i := lo + n - b - k; i < lo+n-b; i++ {
			j.do(int(i))
			ran++
		}
	}
}

// finish counts ran more tasks done, and wakes a parked caller when that
// makes all n.
func (j *job) finish(ran, n int64) {
	if ran == 0 {
		return
	}
	for {
		s := j.done.Load()
		d := j.doneOf(s) + ran
		if !j.done.CompareAndSwap(s, uint64(j.tag)<<32|uint64(d)) {
			continue
		}
		if d == n {
			if c := j.wake.Load(); c != nil {
				close(*c)
			}
		}
		return
	}
}

// doneOf returns the tasks that the done word s counts for this job.
func (j *job) doneOf(s uint64) int64 {
	if uint32(s>>32) != j.tag {
		return 0
	}
	return int64(s & (1<<32 - 1))
}

// finished returns how many of the job's tasks are done.
func (j *job) finished() int64 { return j.doneOf(j.done.Load()) }

// do runs task i, recording a panic instead of letting it kill a worker.
func (j *job) do(i int) {
	defer func() {
		if r := recover(); r != nil {
			// a new variable: taking r's address would move it to the
			// heap on every task, not just on a panic
			p := new(any)
			*p = r
			j.failed.CompareAndSwap(nil, p)
		}
	}()
	j.f(i)
}

// run calls f(0), ..., f(tasks-1) across the pool and returns when all
// have returned.
func (p *pool) run(tasks int, f func(int)) { p.start(tasks, f, 0) }

// runSplit is run with the tasks in two regions: the caller takes those
// of [0, split) in order and the workers those of [split, tasks), where
// the weights the first worker read ahead lie (readahead.go); a thread
// that has run out takes half of what is left of the other region from
// its back, in order, and again. Each thread thus reads a few long runs
// of memory, claiming on a cache line that only it writes until the
// regions meet. split is clamped to [1, tasks).
func (p *pool) runSplit(tasks, split int, f func(int)) {
	p.start(tasks, f, min(max(split, 1), tasks-1))
}

// take claims a free slot for a new job, entering it, and returns its
// ticket; false when every slot is in use.
func (p *pool) take() (*job, uint64, bool) {
	gen := p.gen.Add(1)
	for i := range p.slots {
		k := (int(gen) + i) % poolSlots
		if j := &p.slots[k]; j.claim(gen) {
			return j, gen<<slotBits | uint64(k), true
		}
	}
	return nil, 0, false
}

// start is run or, with split > 0, runSplit.
func (p *pool) start(tasks int, f func(int), split int) {
	if tasks <= 0 {
		return
	}
	if tasks >= 1<<16 {
		split = 0 // more than the quarters of a claim word count
		if tasks >= 1<<31 {
			// more than a done word counts
			for i := 0; i < tasks; i++ {
				f(i)
			}
			return
		}
	}
	var j *job
	var t uint64
	ok := tasks > 1 && p.workers > 0
	if ok {
		j, t, ok = p.take()
	}
	if !ok {
		for i := 0; i < tasks; i++ {
			f(i)
		}
		return
	}
	// nobody else is in the slot until the ticket is out. Of the words
	// that the threads count in, only those that may carry the new tag
	// from 2^32 generations before are cleared (a word of another tag
	// counts nothing), and in a job of run its one counter.
	tag := uint32(t >> slotBits)
	j.tag = tag
	if split == 0 || tag == j.last {
		j.taken.Store(uint64(tag) << 32)
	}
	if tag == j.last {
		j.done.Store(uint64(^tag) << 32)
	}
	if split > 0 && tag == j.lastSplit {
		j.takenW.Store(uint64(^tag) << 32)
	}
	j.last = tag
	if j.ahead.data[0] != nil {
		j.ahead = announcement{} // an earlier job's: hold no weights
	}
	if split > 0 {
		j.lastSplit = tag
		p.ahead.pass(&j.ahead)
	}
	j.n.Store(int64(tasks))
	j.split = int64(split)
	j.f = f
	j.wake.Store(nil)
	j.failed.Store(nil)
	p.latest.Store(t)
	for i := int(p.spinning.Load()); i < min(p.workers, tasks-1); i++ {
		select {
		case p.jobs <- t:
		default: // every worker is busy and the queue full: do it ourselves
		}
	}
	j.work(false)
	// The other threads are finishing their last tasks: watch for the end
	// a while before parking, which would cost a wake-up on the critical
	// path of every small op.
	n := int64(tasks)
	limit := spinTime(p.workers + 1)
	for start, i := time.Now(), 1; j.finished() < n; i++ {
		if i%64 == 0 && time.Since(start) > limit {
			break
		}
	}
	// With every task counted the run is over. Parking on a channel
	// closed just after the count could park this goroutine, to be woken
	// onto the run queue of that thread's P, where a spinning worker
	// holds it off until another P steals it or the worker parks (waiting
	// after the count, a two-task run on the 2-core machine found the
	// worker absent and ran every task itself 6-30% of the time): park
	// only when tasks are left, on a channel made then. The thread that
	// counts the last task closes it if it is there once it has counted;
	// if not, this sees the count after storing it.
	if j.finished() < n {
		c := make(chan struct{})
		j.wake.Store(&c)
		if j.finished() < n {
			<-c
		}
	}
	r := j.failed.Load()
	j.f = nil // hold nothing of the caller's
	j.leave()
	if r != nil {
		panic(*r)
	}
}

// close stops the workers once they finish their current job.
func (p *pool) close() { close(p.quit) }
