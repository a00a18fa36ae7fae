package cpu

import (
	"slices"
	"testing"
	"time"
	"unsafe"

	"hone/tensor"
)

// TestRunSplit: in a job of runSplit each thread takes its own region's
// tasks in order and then half of what is left of the other's from the
// back, in order, each task once: a worker starts, the caller joins during
// its first task, takes its region, then two of the three tasks left in
// the worker's (5 and 6) and then the last (4).
func TestRunSplit(t *testing.T) {
	j := &job{split: 3}
	j.n.Store(7)
	var order []int
	j.f = func(i int) {
		order = append(order, i)
		if len(order) == 1 {
			j.work(false) // the caller joins
		}
	}
	j.work(true)
	if want := []int{3, 0, 1, 2, 5, 6, 4}; !slices.Equal(order, want) {
		t.Fatalf("tasks ran in the order %v, want %v", order, want)
	}
	if j.done.Load() != 7 {
		t.Fatalf("%d tasks counted done, want 7", j.done.Load())
	}
}

// TestReadAheadAnnounce: an announcement names the weights of the pass
// from where its workers' region begins (the chunk after the caller's
// share, splitTasks), within the budget; the next few-row pass run across
// the threads takes it to the worker, and announcing nothing withdraws it.
func TestReadAheadAnnounce(t *testing.T) {
	e := New(2)
	defer e.Close()
	bf := func(n, k int) *tensor.Tensor { return tensor.New(tensor.BF16, n, k) }
	q, k, v := bf(576, 576), bf(192, 576), bf(192, 576) // 648, 216, 216 KiB
	if e.kern.vec == nil {
		// no few-row passes (the portable build): nothing would take an
		// announcement, and none is kept
		e.ReadAhead(false, q, k, v)
		e.ReadAheadThen(false, q)
		if e.pool.ahead.next.n != 0 {
			t.Fatal("an engine without few-row passes kept an announcement")
		}
		t.Skip("no few-row passes on this build: the announcements' pieces are not tested")
	}
	gate, up := bf(1536, 576), bf(1536, 576) // 1728 KiB each
	small := bf(1024, 64)                    // 128 KiB, two chunks
	at := func(t *tensor.Tensor, off int) uintptr { return uintptr(unsafe.Pointer(&t.Data[0])) + uintptr(off) }
	// want: the weight, the piece's offset in it and its bytes
	type piece struct {
		w          *tensor.Tensor
		off, bytes int
	}
	check := func(name string, want []piece) {
		t.Helper()
		a := &e.pool.ahead.next
		if a.n != len(want) {
			t.Fatalf("%s: %d pieces, want %d", name, a.n, len(want))
		}
		for i, w := range want {
			d := a.data[i]
			if got := uintptr(unsafe.Pointer(&d[0])); got != at(w.w, w.off) {
				t.Errorf("%s: piece %d starts at %#x, want %#x", name, i, got, at(w.w, w.off))
			}
			if 4*len(d) != w.bytes {
				t.Errorf("%s: piece %d is %d bytes, want %d", name, i, 4*len(d), w.bytes)
			}
		}
	}
	// q, k and v: chunks of 56 rows, 11 + 4 + 4; the workers' start at
	// q's 11th, the last: its 16 rows, then k and v whole (within 512 KiB)
	e.ReadAhead(false, q, k, v)
	check("qkv", []piece{{q, 10 * 56 * 1152, 16 * 1152}, {k, 0, 216 << 10}, {v, 0, 216 << 10}})
	// gate and up, 28 chunks each: the workers' region is up's
	e.ReadAhead(true, gate, up)
	check("gated", []piece{{up, 0, 512 << 10}})
	// then the pass after it: its workers' region, up to 256 KiB, while
	// there is room for its pieces
	e.ReadAhead(false, small)
	e.ReadAheadThen(true, gate, up)
	check("then", []piece{{small, 64 << 10, 64 << 10}, {up, 0, 256 << 10}})
	e.ReadAheadThen(false, q, k, v)
	check("then full", []piece{{small, 64 << 10, 64 << 10}, {up, 0, 256 << 10}, {q, 10 * 56 * 1152, 16 * 1152}, {k, 0, 216 << 10}})
	e.ReadAheadThen(false, small)
	check("then past full", []piece{{small, 64 << 10, 64 << 10}, {up, 0, 256 << 10}, {q, 10 * 56 * 1152, 16 * 1152}, {k, 0, 216 << 10}})
	// a small pass: the worker's half
	e.ReadAhead(false, small)
	check("small", []piece{{small, 64 << 10, 64 << 10}})
	// a pass on the caller alone leaves it; one across the threads takes it
	x := tensor.New(tensor.F32, 1, 64)
	e.MatMul(tensor.New(tensor.F32, 1, 64), x, bf(64, 64), false, true, false)
	check("after a serial pass", []piece{{small, 64 << 10, 64 << 10}})
	e.MatMul(tensor.New(tensor.F32, 1, 1024), x, small, false, true, false)
	check("after a parallel pass", nil)
	// nothing withdraws, counted
	e.ReadAhead(false, small)
	epoch := e.pool.ahead.epoch.Load()
	e.ReadAhead(false, nil)
	check("withdrawn", nil)
	if e.pool.ahead.epoch.Load() != epoch+1 {
		t.Fatal("the withdrawal was not counted")
	}
	// a one-thread engine ignores announcements
	one := New(1)
	defer one.Close()
	one.ReadAhead(false, q)
	one.ReadAheadThen(false, q)
	if one.pool.ahead.next.n != 0 {
		t.Fatal("a one-thread engine kept an announcement")
	}
}

// TestReadAheadJob: a job of runSplit takes the announcement, with the
// count of withdrawals, and the worker that joins it takes it from there;
// a job of run leaves it. Announcing and passing it on allocate nothing.
func TestReadAheadJob(t *testing.T) {
	// one worker that never runs: the caller takes every task itself
	p := &pool{workers: 1, jobs: make(chan uint64, 64), read: func([]float32) float32 { return 0 }}
	w := make([]float32, 8*aheadChunk)
	p.ahead.epoch.Store(3)
	p.ahead.set(w[:aheadChunk], w[2*aheadChunk:])
	p.run(2, func(int) {})
	if p.ahead.next.n != 2 {
		t.Fatal("a job of run took the announcement")
	}
	var st aheadState
	joined := false
	p.runSplit(4, 2, func(i int) {
		if joined {
			return
		}
		joined = true
		tk := p.latest.Load()
		j := &p.slots[tk&(1<<slotBits-1)]
		if a := &j.ahead; a.n != 2 || &a.data[0][0] != &w[0] || &a.data[1][0] != &w[2*aheadChunk] || a.epoch != 3 {
			t.Errorf("the job holds %d pieces of epoch %d, want the 2 announced of epoch 3", a.n, a.epoch)
		}
		p.join(tk, &st) // a worker joins: it takes the announcement and the tasks left
	})
	if p.ahead.next.n != 0 || p.ahead.next.data[0] != nil {
		t.Fatal("the job left the announcement to be taken again")
	}
	if st.a.n != 2 || len(st.a.data[1]) != 6*aheadChunk || st.i != 0 || st.off != 0 {
		t.Fatalf("the worker took %d pieces at %d/%d, want 2 from the start", st.a.n, st.i, st.off)
	}
	if n := testing.AllocsPerRun(20, func() {
		p.ahead.set(w)
		var a announcement
		p.ahead.pass(&a)
	}); n != 0 {
		t.Fatalf("announcing and passing on allocate %v times", n)
	}
}

// TestReadAheadRead: the worker's reading covers every announced byte
// once, stops when a job comes and resumes where it stopped, and starts
// over for a new announcement; it holds no weights once it has read them.
func TestReadAheadRead(t *testing.T) {
	var read int
	var stopAt int
	p := &pool{}
	j0, j1 := uint64(1<<slotBits), uint64(2<<slotBits) // two tickets
	p.latest.Store(j0)
	p.read = func(x []float32) float32 {
		read += 4 * len(x)
		if read == stopAt {
			p.latest.Store(j1) // a job comes
		}
		return 0
	}
	w := make([]float32, 10*aheadChunk+5)
	var st aheadState
	st.take(&announcement{data: [aheadRegions][]float32{w[:3*aheadChunk], w[3*aheadChunk:]}, n: 2})
	stopAt = 4 * 4 * aheadChunk
	if !p.readAhead(j0, &st) || read != stopAt {
		t.Fatalf("read %d bytes before the job came, want %d", read, stopAt)
	}
	p.latest.Store(j0)
	if !p.readAhead(j0, &st) || read != 4*len(w) {
		t.Fatalf("read %d bytes in all, want %d", read, 4*len(w))
	}
	if p.readAhead(j0, &st) || read != 4*len(w) {
		t.Fatal("read a finished announcement again")
	}
	if st.a.data[0] != nil || st.a.data[1] != nil {
		t.Fatal("the worker holds weights it has read")
	}
	st.take(&announcement{data: [aheadRegions][]float32{w[:aheadChunk]}, n: 1})
	if !p.readAhead(j0, &st) || read != 4*len(w)+4*aheadChunk {
		t.Fatal("a new announcement was not read")
	}
	if p.ahead.reading.Load() != 0 {
		t.Fatal("the worker still says it reads")
	}
}

// TestReadAheadWithdrawWaits: a worker reading an announcement stops at
// the next chunk once it is withdrawn, or at once when it comes from
// before a withdrawal, and a withdrawal returns only once the worker no
// longer says it reads one from before: the weights may be unmapped then.
func TestReadAheadWithdrawWaits(t *testing.T) {
	w := make([]float32, 8*aheadChunk)
	p := &pool{}
	p.latest.Store(1 << slotBits)
	chunks := 0
	p.read = func([]float32) float32 {
		if p.ahead.reading.Load() != 1 {
			t.Error("the worker reads without saying so")
		}
		if chunks++; chunks == 2 {
			p.ahead.epoch.Add(1) // withdrawn while the worker reads (withdraw counts it, then waits)
		}
		return 0
	}
	var st aheadState
	st.take(&announcement{data: [aheadRegions][]float32{w}, n: 1})
	if !p.readAhead(1<<slotBits, &st) || chunks != 2 {
		t.Fatalf("the worker read %d chunks, want 2: it went on after the withdrawal", chunks)
	}
	if st.a.n != 0 || st.a.data[0] != nil {
		t.Fatal("the worker holds withdrawn weights")
	}
	st.take(&announcement{data: [aheadRegions][]float32{w}, n: 1}) // epoch 0, withdrawn since
	if p.readAhead(1<<slotBits, &st); chunks != 2 {
		t.Fatal("the worker read an announcement made before a withdrawal")
	}
	// a worker that says it reads holds the withdrawal back until it stops
	p.ahead.set(w)
	p.ahead.reading.Store(p.ahead.epoch.Load() + 1)
	done := make(chan bool)
	go func() {
		p.ahead.withdraw()
		done <- true
	}()
	select {
	case <-done:
		t.Fatal("the withdrawal returned while the worker read")
	case <-time.After(20 * time.Millisecond):
	}
	p.ahead.reading.Store(0)
	<-done
	if p.ahead.next.n != 0 || p.ahead.next.data[0] != nil {
		t.Fatal("the withdrawn announcement is still to be taken")
	}
}
