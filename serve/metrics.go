package serve

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// metrics are the server's Prometheus series, written in the text
// exposition format by hand (a handful of counters, gauges and histograms
// do not need a client library).
type metrics struct {
	requests         *counterVec
	tokens           *counter
	promptTokens     *counter
	completionTokens *counter
	rejected         *counter
	cancelled        *counter
	active           *gauge
	queued           *gauge
	latency          *histogram
	ttft             *histogram
	queueWait        *histogram
	stepSeconds      *histogram
	batchSize        *histogram
	all              []series
}

type series interface {
	write(b *strings.Builder)
}

func newMetrics() *metrics {
	lat := []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
	m := &metrics{
		requests:         &counterVec{name: "hone_http_requests_total", help: "HTTP requests by path and status code.", v: map[[2]string]float64{}},
		tokens:           &counter{name: "hone_generated_tokens_total", help: "Tokens sampled, over all requests."},
		promptTokens:     &counter{name: "hone_prompt_tokens_total", help: "Prompt tokens of finished requests."},
		completionTokens: &counter{name: "hone_completion_tokens_total", help: "Completion tokens of finished requests."},
		rejected:         &counter{name: "hone_rejected_requests_total", help: "Requests answered 429 because the queue was full."},
		cancelled:        &counter{name: "hone_cancelled_requests_total", help: "Requests whose client went away before the end."},
		active:           &gauge{name: "hone_active_sequences", help: "Sequences being decoded."},
		queued:           &gauge{name: "hone_queued_requests", help: "Requests waiting for a place in the batch."},
		latency:          newHistogram("hone_request_duration_seconds", "Time from admission to the last token of successful requests.", lat),
		ttft:             newHistogram("hone_time_to_first_token_seconds", "Time from queueing to the first sampled token.", lat),
		queueWait:        newHistogram("hone_queue_wait_seconds", "Time requests waited in the queue.", lat),
		stepSeconds:      newHistogram("hone_decode_step_seconds", "Duration of one batched decode step.", []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}),
		batchSize:        newHistogram("hone_decode_batch_size", "Sequences per batched decode step.", []float64{1, 2, 4, 8, 16, 32, 64, 128}),
	}
	m.all = []series{m.requests, m.tokens, m.promptTokens, m.completionTokens, m.rejected, m.cancelled,
		m.active, m.queued, m.latency, m.ttft, m.queueWait, m.stepSeconds, m.batchSize}
	return m
}

func (m *metrics) serve(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	for _, s := range m.all {
		s.write(&b)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprint(w, b.String())
}

func num(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return fmt.Sprint(v)
}

type counter struct {
	mu         sync.Mutex
	name, help string
	v          float64
}

func (c *counter) inc()           { c.add(1) }
func (c *counter) value() float64 { c.mu.Lock(); defer c.mu.Unlock(); return c.v }
func (c *counter) add(x float64)  { c.mu.Lock(); c.v += x; c.mu.Unlock() }
func (c *counter) write(b *strings.Builder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s counter\n%s %s\n", c.name, c.help, c.name, c.name, num(c.v))
}

type gauge struct {
	mu         sync.Mutex
	name, help string
	v          float64
}

func (g *gauge) set(x float64)  { g.mu.Lock(); g.v = x; g.mu.Unlock() }
func (g *gauge) value() float64 { g.mu.Lock(); defer g.mu.Unlock(); return g.v }
func (g *gauge) write(b *strings.Builder) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", g.name, g.help, g.name, g.name, num(g.v))
}

// counterVec is a counter with path and code labels.
type counterVec struct {
	mu         sync.Mutex
	name, help string
	v          map[[2]string]float64
}

func (c *counterVec) inc(path string, code int) {
	if !strings.HasPrefix(path, "/v1/") && path != "/healthz" && path != "/metrics" {
		path = "other" // bound the label values
	}
	c.mu.Lock()
	c.v[[2]string{path, fmt.Sprint(code)}]++
	c.mu.Unlock()
}

func (c *counterVec) write(b *strings.Builder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s counter\n", c.name, c.help, c.name)
	keys := make([][2]string, 0, len(c.v))
	for k := range c.v {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		fmt.Fprintf(b, "%s{path=%q,code=%q} %s\n", c.name, k[0], k[1], num(c.v[k]))
	}
}

type histogram struct {
	mu         sync.Mutex
	name, help string
	bounds     []float64
	counts     []uint64 // per bucket, not cumulative
	sum        float64
	n          uint64
}

func newHistogram(name, help string, bounds []float64) *histogram {
	return &histogram{name: name, help: help, bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(x float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := sort.SearchFloat64s(h.bounds, x)
	h.counts[i]++
	h.sum += x
	h.n++
}

func (h *histogram) write(b *strings.Builder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s histogram\n", h.name, h.help, h.name)
	var cum uint64
	for i, ub := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(b, "%s_bucket{le=%q} %d\n", h.name, num(ub), cum)
	}
	fmt.Fprintf(b, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %s\n%s_count %d\n", h.name, h.n, h.name, num(h.sum), h.name, h.n)
}
