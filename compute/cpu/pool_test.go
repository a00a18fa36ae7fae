package cpu

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"hone/internal/race"
)

func TestPool(t *testing.T) {
	for _, threads := range []int{1, 2, 5} {
		p := newPool(threads, nil)
		for _, tasks := range []int{0, 1, 2, 3, 100} {
			for _, split := range []int{0, 1, tasks / 2, tasks - 1, tasks} {
				var hits = make([]atomic.Int32, tasks)
				if split == 0 {
					p.run(tasks, func(i int) { hits[i].Add(1) })
				} else {
					p.runSplit(tasks, split, func(i int) { hits[i].Add(1) })
				}
				for i := range hits {
					if n := hits[i].Load(); n != 1 {
						t.Fatalf("pool(%d), %d tasks split at %d: task %d ran %d times, want 1", threads, tasks, split, i, n)
					}
				}
			}
		}
		// nested and concurrent runs complete
		done := make(chan bool)
		for g := 0; g < 3; g++ {
			go func() {
				var n atomic.Int32
				p.run(10, func(int) { p.run(4, func(int) { n.Add(1) }) })
				done <- n.Load() == 40
			}()
		}
		for g := 0; g < 3; g++ {
			if !<-done {
				t.Fatalf("pool(%d): concurrent nested runs lost tasks", threads)
			}
		}
		p.close()
	}
}

func TestPoolPanic(t *testing.T) {
	p := newPool(2, nil)
	defer p.close()
	defer func() {
		if r := recover(); r != "task 7" {
			t.Fatalf("pool.run with a panicking task: recovered %v, want \"task 7\"", r)
		}
	}()
	p.run(16, func(i int) {
		if i == 7 {
			panic("task 7")
		}
	})
}

// BenchmarkPoolRun measures the cost of one run of 8 empty tasks.
func BenchmarkPoolRun(b *testing.B) {
	p := newPool(2, nil)
	defer p.close()
	for b.Loop() {
		p.run(8, func(int) {})
	}
}

// BenchmarkPoolPair times runs of two tasks of about 10 µs each on two
// threads, the shape of a decoding pass, and reports how often they did not
// overlap (%-serial): one thread ran both, the other joined too late.
func BenchmarkPoolPair(b *testing.B) {
	p := newPool(2, nil)
	defer p.close()
	var sink [16]float64
	var span [2][2]time.Time
	task := func(i int) {
		span[i][0] = time.Now()
		a := 1.0
		for range 5000 {
			a = a*0.9999 + 1
		}
		sink[8*i] = a
		span[i][1] = time.Now()
	}
	serial := 0
	for b.Loop() {
		p.run(2, task)
		if !span[1][0].Before(span[0][1]) || !span[0][0].Before(span[1][1]) {
			serial++
		}
	}
	b.ReportMetric(100*float64(serial)/float64(b.N), "%-serial")
}

// TestSpinTime: the spin time is one of the two settings, and on Linux the
// load is read (the others' share is never negative).
func TestSpinTime(t *testing.T) {
	loadCheck.Store(0) // read now
	if d := spinTime(2); d != spinAlone && d != spinShared {
		t.Fatalf("spinTime = %v, want %v or %v", d, spinAlone, spinShared)
	}
	if l, ok := otherLoad(2); runtime.GOOS == "linux" && (!ok || l < 0) {
		t.Fatalf("otherLoad = %v, %v on Linux", l, ok)
	}
	if race.Enabled {
		return // the race detector's instrumentation allocates where a plain build does not
	}
	if n := testing.AllocsPerRun(10, func() { otherLoad(2) }); n != 0 {
		t.Errorf("otherLoad allocates %v times a call, want 0 (decoding steps read it)", n)
	}
}

// TestPoolTagWrap: a job whose generation's low 32 bits (its tag) are
// those of the slot's previous job, 2^32 generations on, still runs every
// task: the words that could carry the old counts are cleared, after a
// job of runSplit and after a job of run alike.
func TestPoolTagWrap(t *testing.T) {
	// one worker that never runs: the caller takes every task itself
	p := &pool{workers: 1, jobs: make(chan uint64, 64)}
	for _, first := range []int{0, 3} { // the earlier job: of run, or split at 3
		for _, split := range []int{0, 2} {
			gen := p.gen.Load()
			var hits [6]atomic.Int32
			count := func(i int) { hits[i].Add(1) }
			p.start(6, count, first)
			// the next generation that lands in the same slot with the
			// same tag
			p.gen.Store(gen + 1<<32)
			p.start(6, count, split)
			for i := range hits {
				if n := hits[i].Load(); n != 2 {
					t.Fatalf("job split at %d after one split at %d, same slot and tag: task %d ran %d times in two jobs, want 2", split, first, i, n)
				}
			}
		}
	}
}
