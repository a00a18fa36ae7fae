package cpu

import "sync/atomic"

// pool is a persistent set of worker goroutines. A call to run hands its
// tasks out through a shared counter, so that the caller and every worker
// that joins take the next task until none is left; a worker busy
// elsewhere simply joins late or not at all.
type pool struct {
	workers int // goroutines besides the caller
	jobs    chan *job
	quit    chan struct{}
}

// job is one call to run.
type job struct {
	n, next, done atomic.Int64
	f             func(int)
	fin           chan struct{}
	// failed holds the first panic of a task, re-raised by run on the
	// caller's goroutine so that it can be recovered there.
	failed atomic.Pointer[any]
}

// newPool starts threads-1 workers: the caller of run is the last thread.
func newPool(threads int) *pool {
	p := &pool{workers: threads - 1, jobs: make(chan *job, 4*threads), quit: make(chan struct{})}
	for i := 0; i < p.workers; i++ {
		go p.loop()
	}
	return p
}

func (p *pool) loop() {
	for {
		select {
		case j := <-p.jobs:
			j.work()
		case <-p.quit:
			return
		}
	}
}

// work takes tasks until none is left.
func (j *job) work() {
	n := j.n.Load()
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
			j.failed.CompareAndSwap(nil, &r)
		}
		if j.done.Add(1) == n {
			close(j.fin)
		}
	}()
	j.f(i)
}

// run calls f(0), ..., f(tasks-1) across the pool and returns when all
// have returned.
func (p *pool) run(tasks int, f func(int)) {
	if tasks <= 0 {
		return
	}
	if tasks == 1 || p.workers == 0 {
		for i := 0; i < tasks; i++ {
			f(i)
		}
		return
	}
	j := &job{f: f, fin: make(chan struct{})}
	j.n.Store(int64(tasks))
	for i := 0; i < min(p.workers, tasks-1); i++ {
		select {
		case p.jobs <- j:
		default: // every worker is busy and the queue full: do it ourselves
		}
	}
	j.work()
	<-j.fin
	if r := j.failed.Load(); r != nil {
		panic(*r)
	}
}

// close stops the workers once they finish their current job.
func (p *pool) close() { close(p.quit) }
