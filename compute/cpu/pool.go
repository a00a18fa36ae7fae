package cpu

import (
	"os"
	"runtime"
	"strconv"
	"strings"
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
// weights that the next few-row pass will give it (readahead.go).
type pool struct {
	workers int // goroutines besides the caller
	jobs    chan *job
	quit    chan struct{}
	// latest is the newest job, which spinning workers watch; spinning
	// counts them, so that run sends the job only to as many parked
	// workers as it needs.
	latest   atomic.Pointer[job]
	spinning atomic.Int32
	// ahead is what the first worker reads while it waits, and read the
	// kernel it reads with
	ahead atomic.Pointer[readAhead]
	read  func([]float32) float32
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
// (Linux's /proc/loadavg), or false where it cannot be read.
func otherLoad(threads int) (float64, bool) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	l, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, false
	}
	return max(0, l-float64(threads)), true
}

// job is one call to run or runEnds.
type job struct {
	n, next, done atomic.Int64
	// ends is set by runEnds: claimed counts the tasks taken, next those
	// taken by the caller from the front and back those taken by the
	// workers from the back
	ends          bool
	claimed, back atomic.Int64
	f             func(int)
	fin           chan struct{}
	// failed holds the first panic of a task, re-raised by run on the
	// caller's goroutine so that it can be recovered there.
	failed atomic.Pointer[any]
}

// newPool starts threads-1 workers: the caller of run is the last thread.
// read is the kernel with which the first worker reads ahead.
func newPool(threads int, read func([]float32) float32) *pool {
	p := &pool{workers: threads - 1, jobs: make(chan *job, 4*threads), quit: make(chan struct{}), read: read}
	for i := 0; i < p.workers; i++ {
		go p.loop(i == 0 && read != nil)
	}
	return p
}

// loop is a worker; the first one (first set) reads ahead while it spins.
func (p *pool) loop(first bool) {
	var seen *job
	var ra aheadState
	for {
		select {
		case j := <-p.jobs:
			j.work(true)
			seen = j
		case <-p.quit:
			return
		}
		seen = p.spin(seen, first, &ra)
	}
}

// spin runs every new job published in latest until none has come for
// spinTime, and returns the last one it saw. With ahead set, it reads the
// announced weights meanwhile, stopping as soon as a job comes.
func (p *pool) spin(seen *job, ahead bool, ra *aheadState) *job {
	p.spinning.Add(1)
	defer p.spinning.Add(-1)
	limit := spinTime(p.workers + 1)
	start := time.Now()
	for i := 1; ; i++ {
		if j := p.latest.Load(); j != seen {
			j.work(true)
			seen = j
			start = time.Now()
			continue
		}
		if ahead && p.readAhead(seen, ra) {
			start = time.Now()
			continue
		}
		if i%64 == 0 && time.Since(start) > limit {
			return seen
		}
	}
}

// work takes tasks until none is left: from the front, or in a job of
// runEnds from the back when worker is set.
func (j *job) work(worker bool) {
	n := j.n.Load()
	if j.ends {
		for j.claimed.Add(1) <= n {
			if worker {
				j.do(int(n-j.back.Add(1)), n)
			} else {
				j.do(int(j.next.Add(1)-1), n)
			}
		}
		return
	}
	for {
		i := j.next.Add(1) - 1
		if i >= n {
			return
		}
		j.do(int(i), n)
	}
}

// do runs task i, recording a panic instead of letting it kill a worker.
func (j *job) do(i int, n int64) {
	defer func() {
		if r := recover(); r != nil {
			// a new variable: taking r's address would move it to the
			// heap on every task, not just on a panic
			p := new(any)
			*p = r
			j.failed.CompareAndSwap(nil, p)
		}
		if j.done.Add(1) == n {
			close(j.fin)
		}
	}()
	j.f(i)
}

// run calls f(0), ..., f(tasks-1) across the pool and returns when all
// have returned.
func (p *pool) run(tasks int, f func(int)) { p.start(tasks, f, false) }

// runEnds is run with the caller taking tasks from the front and the
// workers from the back, where the weights the first worker read ahead
// lie (readahead.go).
func (p *pool) runEnds(tasks int, f func(int)) { p.start(tasks, f, true) }

// start is run or, with ends, runEnds.
func (p *pool) start(tasks int, f func(int), ends bool) {
	if tasks <= 0 {
		return
	}
	if tasks == 1 || p.workers == 0 {
		for i := 0; i < tasks; i++ {
			f(i)
		}
		return
	}
	j := &job{f: f, fin: make(chan struct{}), ends: ends}
	j.n.Store(int64(tasks))
	p.latest.Store(j)
	for i := int(p.spinning.Load()); i < min(p.workers, tasks-1); i++ {
		select {
		case p.jobs <- j:
		default: // every worker is busy and the queue full: do it ourselves
		}
	}
	j.work(false)
	// The other threads are finishing their last tasks: watch for the end
	// a while before parking, which would cost a wake-up on the critical
	// path of every small op.
	n := int64(tasks)
	limit := spinTime(p.workers + 1)
	for start, i := time.Now(), 1; j.done.Load() < n; i++ {
		if i%64 == 0 && time.Since(start) > limit {
			break
		}
	}
	// With every task counted the run is over: its last thread closes
	// fin just after counting, and waiting for that could park this
	// goroutine, to be woken onto the run queue of that thread's P, where
	// a spinning worker holds it off until another P steals it or the
	// worker parks (waiting on fin after the count, a two-task run on the
	// 2-core machine found the worker absent and ran every task itself
	// 6-30% of the time).
	if j.done.Load() < n {
		<-j.fin
	}
	if r := j.failed.Load(); r != nil {
		panic(*r)
	}
}

// close stops the workers once they finish their current job.
func (p *pool) close() { close(p.quit) }
