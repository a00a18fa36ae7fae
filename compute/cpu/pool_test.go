package cpu

import (
	"sync/atomic"
	"testing"
)

func TestPool(t *testing.T) {
	for _, threads := range []int{1, 2, 5} {
		p := newPool(threads)
		for _, tasks := range []int{0, 1, 3, 100} {
			var hits = make([]atomic.Int32, tasks)
			p.run(tasks, func(i int) { hits[i].Add(1) })
			for i := range hits {
				if n := hits[i].Load(); n != 1 {
					t.Fatalf("pool(%d).run(%d): task %d ran %d times, want 1", threads, tasks, i, n)
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
	p := newPool(2)
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
	p := newPool(2)
	defer p.close()
	for b.Loop() {
		p.run(8, func(int) {})
	}
}
