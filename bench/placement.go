package bench

import (
	"runtime"
	"sync/atomic"
	"time"
)

// RoundTrip returns the median of five timings of a cache line passed back
// and forth between two threads, each locked to an OS thread: what every
// handoff between an engine's threads costs, and a sign of where the
// machine placed them. On the 2-core Zen 4 development VM it was 54-103 ns
// when the two vCPUs shared a CCD (one L3, one memory link) and 326-335 ns
// when they were on two (docs/PERFORMANCE.md); decoding's speed against its
// bandwidth limit differs between the two. It returns false, having timed
// nothing, when the process may run fewer than two threads at once, and
// when the rounds take more than a second (a machine with more runnable
// threads than cores).
func RoundTrip() (time.Duration, bool) {
	if runtime.GOMAXPROCS(0) < 2 || runtime.NumCPU() < 2 {
		return 0, false
	}
	const rounds = 20000
	var ts []time.Duration
	for range 5 {
		d, ok := roundTrip(rounds, time.Second)
		if !ok {
			return 0, false
		}
		ts = append(ts, d)
	}
	return median(ts), true
}

// roundTrip times rounds round trips of a counter between this goroutine
// and another, both locked to OS threads, giving up after limit.
func roundTrip(rounds int64, limit time.Duration) (time.Duration, bool) {
	var flag atomic.Int64
	var quit atomic.Bool
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(done)
		for i := int64(0); i < rounds; i++ {
			for flag.Load() != 2*i+1 {
				if quit.Load() {
					return
				}
			}
			flag.Store(2*i + 2)
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0 := time.Now()
	ok := true
	for i := int64(0); i < rounds && ok; i++ {
		flag.Store(2*i + 1)
		for j := 1; flag.Load() != 2*i+2; j++ {
			if j%1024 == 0 && time.Since(t0) > limit {
				ok = false
				break
			}
		}
	}
	d := time.Since(t0)
	quit.Store(true)
	<-done
	return d / time.Duration(rounds), ok
}
