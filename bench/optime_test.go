//go:build linux

package bench

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"hone/compute"
	"hone/compute/cpu"
	"hone/model"
	"hone/tensor"
)

// timed wraps an engine and adds up the wall time of each kind of call.
type timed struct {
	compute.Engine
	mu sync.Mutex
	t  map[string]time.Duration
	n  map[string]int
}

func (e *timed) add(k string, t0 time.Time) {
	e.mu.Lock()
	e.t[k] += time.Since(t0)
	e.n[k]++
	e.mu.Unlock()
}

func (e *timed) MatMul(c, a, b *tensor.Tensor, ta, tb, acc bool) {
	if os.Getenv("HONE_OPTIME_TWICE") != "" && !acc {
		// time a first call and a second one, with warm caches
		t0 := time.Now()
		e.Engine.MatMul(c, a, b, ta, tb, acc)
		e.add(fmt.Sprintf("first %dx%dx%d tb=%v", c.Rows(), a.Cols(), c.Cols(), tb), t0)
	}
	defer e.add(fmt.Sprintf("MatMul %dx%dx%d ta=%v tb=%v b=%v", c.Rows(), map[bool]int{false: a.Cols(), true: a.Rows()}[ta], c.Cols(), ta, tb, b.DType), time.Now())
	e.Engine.MatMul(c, a, b, ta, tb, acc)
}
func (e *timed) Attention(out, q, k, v, lse *tensor.Tensor, s compute.AttnShape) {
	defer e.add("Attention", time.Now())
	e.Engine.Attention(out, q, k, v, lse, s)
}
func (e *timed) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse *tensor.Tensor, s compute.AttnShape) {
	defer e.add("AttentionBackward", time.Now())
	e.Engine.AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, s)
}
func (e *timed) CrossEntropy(logits *tensor.Tensor, labels []int32, dlogits *tensor.Tensor, gs float32) (float64, int) {
	defer e.add("CrossEntropy", time.Now())
	return e.Engine.CrossEntropy(logits, labels, dlogits, gs)
}
func (e *timed) RMSNorm(out, x, w *tensor.Tensor, eps float32, rstd *tensor.Tensor) {
	defer e.add("RMSNorm", time.Now())
	e.Engine.RMSNorm(out, x, w, eps, rstd)
}
func (e *timed) RMSNormBackward(dx, dw, dout, x, w, rstd *tensor.Tensor) {
	defer e.add("RMSNormBackward", time.Now())
	e.Engine.RMSNormBackward(dx, dw, dout, x, w, rstd)
}
func (e *timed) SwiGLU(out, gate, up *tensor.Tensor) {
	defer e.add("SwiGLU", time.Now())
	e.Engine.SwiGLU(out, gate, up)
}
func (e *timed) SwiGLUBackward(dgate, dup, dout, gate, up *tensor.Tensor) {
	defer e.add("SwiGLUBackward", time.Now())
	e.Engine.SwiGLUBackward(dgate, dup, dout, gate, up)
}
func (e *timed) Add(dst, a, b *tensor.Tensor) {
	defer e.add("Add", time.Now())
	e.Engine.Add(dst, a, b)
}
func (e *timed) AddScaled(dst, x *tensor.Tensor, alpha float32) {
	defer e.add("AddScaled", time.Now())
	e.Engine.AddScaled(dst, x, alpha)
}
func (e *timed) RoPE(x *tensor.Tensor, pos []int32, heads int, cos, sin *tensor.Tensor) {
	defer e.add("RoPE", time.Now())
	e.Engine.RoPE(x, pos, heads, cos, sin)
}
func (e *timed) RoPEBackward(x *tensor.Tensor, pos []int32, heads int, cos, sin *tensor.Tensor) {
	defer e.add("RoPEBackward", time.Now())
	e.Engine.RoPEBackward(x, pos, heads, cos, sin)
}

// TestOpTimes prints where a bf16 LoRA step's time goes at the SmolLM2-135M
// shape, op by op (wall time of each call, summed by kind and shape):
// HONE_OPTIME=threads go test ./bench -run TestOpTimes -v. With
// HONE_OPTIME_TWICE=1 each product that does not accumulate runs twice and
// both are timed ("first ..." and the second, with warm caches).
func TestOpTimes(t *testing.T) {
	if os.Getenv("HONE_OPTIME") == "" {
		t.Skip("set HONE_OPTIME=threads to print a step's time op by op")
	}
	threads, _ := strconv.Atoi(os.Getenv("HONE_OPTIME"))
	te := &timed{Engine: cpu.New(threads), t: map[string]time.Duration{}, n: map[string]int{}}
	o := TrainOptions{Seq: 256, Batch: 1, Rank: 8, Alpha: 16, Steps: 4, Warmup: 1}
	c, err := Shape("smollm2-135m")
	if err != nil {
		t.Fatal(err)
	}
	m := RandomModel(c, model.BF16, 0.02, 1)
	r, err := Train(te, m, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var tot time.Duration
	for k, v := range te.t {
		keys = append(keys, k)
		tot += v
	}
	sort.Slice(keys, func(i, j int) bool { return te.t[keys[i]] > te.t[keys[j]] })
	steps := time.Duration(o.Steps + o.Warmup)
	fmt.Printf("median step %v; ops total %v a step\n", r.Median, tot/steps)
	for _, k := range keys {
		fmt.Printf("%8.1f ms %5.1f%% %6d  %s\n", float64(te.t[k]/steps)/1e6, 100*float64(te.t[k])/float64(tot), te.n[k]/int(steps), k)
	}
}

// TestFrozenAB alternates train runs (4 steps each) on an engine that keeps
// the frozen weights packed and one that does not (HONE_FROZENAB=threads;
// with HONE_AB_THREADS=1 the second is a 1-thread engine instead), printing
// the median step and each step's process CPU time (getrusage).
func TestFrozenAB(t *testing.T) {
	if os.Getenv("HONE_FROZENAB") == "" {
		t.Skip("set HONE_FROZENAB=threads")
	}
	threads, _ := strconv.Atoi(os.Getenv("HONE_FROZENAB"))
	c, err := Shape("smollm2-135m")
	if err != nil {
		t.Fatal(err)
	}
	m := RandomModel(c, model.BF16, 0.02, 1)
	on, off := cpu.New(threads), cpu.New(threads)
	off.SetFrozenBudget(0)
	if os.Getenv("HONE_AB_THREADS") != "" { // compare 1 thread (off) with threads (on), both frozen
		off = cpu.New(1)
	}
	o := TrainOptions{Seq: 256, Batch: 1, Rank: 8, Alpha: 16, Steps: 3, Warmup: 1}
	cpuTime := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for i := 0; i < 3; i++ {
		for _, e := range []*cpu.Engine{on, off} {
			var cpus []time.Duration
			last := cpuTime()
			r, err := Train(e, m, o, func(StepReport) {
				now := cpuTime()
				cpus = append(cpus, now-last)
				last = now
			})
			if err != nil {
				t.Fatal(err)
			}
			fmt.Printf("frozen=%v threads %d median %v, CPU per step %v\n", e == on, e.Threads(), r.Median, cpus)
		}
	}
}
