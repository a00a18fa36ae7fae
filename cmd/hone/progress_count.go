package main

import (
	"fmt"
	"strings"
	"time"
)

// Count shows progress through a known number of items (the layers being
// quantised, the matrices being merged) in the style of a training run's
// bar: on a terminal a redrawn bar with the count and an ETA, otherwise a
// plain line for the first and the last item and at most one every two
// seconds between. what names the work ("quantizing layers"); since is
// when it began, for the ETA. Stage or Note lines clear the bar; so does
// done.
func (p *progress) Count(what string, done, total int, since time.Time) {
	el := time.Since(since)
	eta := time.Duration(0)
	if done > 0 {
		eta = time.Duration(float64(el) / float64(done) * float64(total-done))
	}
	if p.tty {
		const width = 30
		filled := width * done / max(1, total)
		fmt.Fprintf(p.w, "\r\033[K[%s%s] %s %d/%d ETA %s",
			strings.Repeat("=", filled), strings.Repeat(" ", width-filled), what, done, total, eta.Round(time.Second))
		p.lastBar = true
		if done == total {
			p.clearBar()
			fmt.Fprintf(p.w, "hone: %s: %d/%d in %s\n", what, done, total, el.Round(time.Millisecond))
		}
		return
	}
	if done == total || done == 1 || time.Since(p.lastLog) >= 2*time.Second {
		fmt.Fprintf(p.w, "hone: %s: %d/%d elapsed %s ETA %s\n", what, done, total, el.Round(time.Millisecond), eta.Round(time.Second))
		p.lastLog = time.Now()
	}
}
