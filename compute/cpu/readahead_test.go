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
// share, splitTasks), within the budget, and the pass that reads the
// first weight withdraws it.
func TestReadAheadAnnounce(t *testing.T) {
	e := New(2)
	defer e.Close()
	bf := func(n, k int) *tensor.Tensor { return tensor.New(tensor.BF16, n, k) }
	q, k, v := bf(576, 576), bf(192, 576), bf(192, 576) // 648, 216, 216 KiB
	gate, up := bf(1536, 576), bf(1536, 576)            // 1728 KiB each
	small := bf(1024, 64)                               // 128 KiB, two chunks
	at := func(t *tensor.Tensor, off int) uintptr { return uintptr(unsafe.Pointer(&t.Data[0])) + uintptr(off) }
	// want: the weight, the piece's offset in it and its bytes
	type piece struct {
		w          *tensor.Tensor
		off, bytes int
	}
	check := func(name string, want []piece) {
		t.Helper()
		a := e.pool.announced()
		if a == nil {
			t.Fatalf("%s: no announcement", name)
		}
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
	// a small pass: the worker's half
	e.ReadAhead(false, small)
	check("small", []piece{{small, 64 << 10, 64 << 10}})
	// a pass reading another weight leaves it; one reading small ends it
	x, y := tensor.New(tensor.F32, 1, 64), tensor.New(tensor.F32, 1, 64)
	e.MatMul(y, x, bf(64, 64), false, true, false)
	if e.pool.announced() == nil {
		t.Fatal("a pass over other weights withdrew the announcement")
	}
	e.MatMul(tensor.New(tensor.F32, 1, 1024), x, small, false, true, false)
	if e.pool.announced() != nil {
		t.Fatal("the announced pass did not withdraw its announcement")
	}
	// nil and nothing withdraw; a one-thread engine ignores announcements
	e.ReadAhead(false, small)
	e.ReadAhead(false, nil)
	if e.pool.announced() != nil {
		t.Fatal("an announcement of nothing did not withdraw the last one")
	}
	one := New(1)
	defer one.Close()
	one.ReadAhead(false, q)
	if one.pool.announced() != nil {
		t.Fatal("a one-thread engine kept an announcement")
	}
}

// TestReadAheadRead: the worker's reading covers every announced byte
// once, stops when a job comes and resumes where it stopped, and starts
// over for a new announcement.
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
	p.announce(unsafe.Pointer(&w[0]), w[:3*aheadChunk], w[3*aheadChunk:])
	var st aheadState
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
	p.announce(unsafe.Pointer(&w[0]), w[:aheadChunk])
	if !p.readAhead(j0, &st) || read != 4*len(w)+4*aheadChunk {
		t.Fatal("a new announcement was not read")
	}
	p.announce(nil)
	if p.readAhead(j0, &st) {
		t.Fatal("read with no announcement")
	}
	for i := range p.aheads {
		if a := &p.aheads[i]; a.key != nil || a.n != 0 || a.data[0] != nil {
			t.Fatalf("announcement record %d still holds weights after the withdrawal", i)
		}
	}
}

// TestReadAheadRecords: announcements reuse the pool's records, skip the
// one the worker is in, and a worker cannot enter one replaced.
func TestReadAheadRecords(t *testing.T) {
	p := &pool{read: func([]float32) float32 { return 0 }}
	w := make([]float32, 4*aheadChunk)
	p.announce(unsafe.Pointer(&w[0]), w)
	t0 := p.ahead.Load()
	in := &p.aheads[t0&(1<<slotBits-1)]
	if !in.enter(t0 >> slotBits) { // the worker is reading it
		t.Fatal("could not enter the announcement just made")
	}
	for i := 0; i < 3*aheadSlots; i++ {
		p.announce(unsafe.Pointer(&w[1]), w[1:])
		if a := p.announced(); a == nil || a == in || a.key != unsafe.Pointer(&w[1]) {
			t.Fatalf("announcement %d: record %p (the worker's %p)", i, a, in)
		}
	}
	if in.key != unsafe.Pointer(&w[0]) {
		t.Fatal("the record the worker is in was rewritten")
	}
	in.leave()
	for i := 0; i < aheadSlots; i++ { // one of them claims it again
		p.announce(unsafe.Pointer(&w[1]), w[1:])
	}
	if in.enter(t0 >> slotBits) {
		t.Fatal("entered an announcement whose record was claimed again")
	}
	if n := testing.AllocsPerRun(20, func() { p.announce(unsafe.Pointer(&w[0]), w); p.withdraw(unsafe.Pointer(&w[0])) }); n != 0 {
		t.Fatalf("announcing and withdrawing allocate %v times", n)
	}
}

// TestReadAheadWithdrawWaits: a worker reading an announcement stops at
// the next chunk once it is withdrawn, and the withdrawal returns only
// after the worker has left the record: the weights may be unmapped then.
func TestReadAheadWithdrawWaits(t *testing.T) {
	w := make([]float32, 8*aheadChunk)
	p := &pool{}
	p.latest.Store(1 << slotBits)
	chunks := 0
	p.read = func([]float32) float32 {
		if chunks++; chunks == 2 {
			p.ahead.Store(0) // withdrawn while the worker reads (announce(nil) then waits for it)
		}
		return 0
	}
	p.announce(unsafe.Pointer(&w[0]), w)
	var st aheadState
	if !p.readAhead(1<<slotBits, &st) || chunks != 2 {
		t.Fatalf("the worker read %d chunks, want 2: it went on after the withdrawal", chunks)
	}
	// a worker in the record holds the withdrawal back until it leaves
	p.read = func([]float32) float32 { return 0 }
	p.announce(unsafe.Pointer(&w[0]), w)
	tk := p.ahead.Load()
	a := &p.aheads[tk&(1<<slotBits-1)]
	if !a.enter(tk >> slotBits) {
		t.Fatal("could not enter the announcement")
	}
	done := make(chan bool)
	go func() {
		p.announce(nil)
		done <- true
	}()
	select {
	case <-done:
		t.Fatal("the withdrawal returned while a worker was in the record")
	case <-time.After(20 * time.Millisecond):
	}
	a.leave()
	<-done
	if a.n != 0 || a.data[0] != nil {
		t.Fatal("the withdrawn record still holds weights")
	}
}
