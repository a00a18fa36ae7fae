package serve

import (
	"context"
	"errors"
	"sync"
	"time"

	"hone/generate"
	"hone/model"
	"hone/tensor"
)

// job is one admitted generation request.
type job struct {
	ctx     context.Context
	variant *variant
	prompt  []int32
	max     int
	sampler *generate.Sampler
	penalty generate.Processor // the sampling penalties (repetition, presence, frequency), or nil
	json    *generate.JSONProcessor
	stopIDs map[int32]bool
	stops   []string
	enq     time.Time

	out outbox
}

// event is what the scheduler tells a request's handler.
type event struct {
	text   string
	done   bool
	reason string // finish_reason when done
	err    error
	usage  usage
}

type usage struct{ prompt, completion int }

// outbox is an unbounded, never-blocking queue of events from the
// scheduler to one handler: a slow client never stalls the batch.
type outbox struct {
	mu     sync.Mutex
	events []event
	ready  chan struct{} // capacity 1: something was added
}

func (o *outbox) put(e event) {
	o.mu.Lock()
	o.events = append(o.events, e)
	o.mu.Unlock()
	select {
	case o.ready <- struct{}{}:
	default:
	}
}

func (o *outbox) take() []event {
	o.mu.Lock()
	defer o.mu.Unlock()
	ev := o.events
	o.events = nil
	return ev
}

// seq is a job being decoded.
type seq struct {
	*job
	cache    *model.Cache
	fed      int       // prompt tokens in the cache
	tokens   []int32   // prompt and generated tokens
	gen      []int32   // generated tokens
	logits   []float32 // the next token's logits, when ready
	next     int32     // the token to feed at the next decode step
	text     generate.Stream
	detok    generate.Detokenizer
	finished bool
	first    bool // the first token was reported to the metrics
}

// prefillChunk bounds the prompt tokens run in one step, so that a long
// prompt does not stall the sequences already decoding.
const prefillChunk = 256

// run is the scheduler loop: it admits queued jobs while the batch has
// room, runs prompts a chunk at a time, samples every sequence whose
// logits are ready, and decodes one token for all the others together,
// grouped by model variant (continuous batching).
func (s *Server) run() {
	defer close(s.stopped)
	var active []*seq
	prefillLogits := tensor.New(tensor.F32, 1, s.vocab)
	batchLogits := map[int]*tensor.Tensor{}
	for {
		// admit
		for len(active) < s.cfg.MaxBatch {
			var j *job
			if len(active) == 0 {
				select {
				case j = <-s.queue:
				case <-s.quit:
					return
				}
			} else {
				select {
				case j = <-s.queue:
				default:
				}
			}
			if j == nil {
				break
			}
			s.metrics.queueWait.observe(time.Since(j.enq).Seconds())
			capacity := len(j.prompt) + j.max
			if mp := j.variant.m.Config.MaxPositions; mp > 0 {
				capacity = min(capacity, mp)
			}
			active = append(active, &seq{job: j, cache: j.variant.m.NewCache(capacity),
				tokens: append([]int32(nil), j.prompt...), text: generate.Stream{Stops: j.stops},
				detok: generate.Detokenizer{Dec: s.tok}})
		}
		s.metrics.active.set(float64(len(active)))
		s.metrics.queued.set(float64(len(s.queue)))
		// drop the sequences whose clients went away
		for _, q := range active {
			if err := q.ctx.Err(); err != nil && !q.finished {
				s.metrics.cancelled.inc()
				q.finish("", err)
			}
		}
		// prompts, a chunk at a time
		budget := prefillChunk
		for _, q := range active {
			if q.finished || q.fed == len(q.prompt) || budget == 0 {
				continue
			}
			n := min(len(q.prompt)-q.fed, budget)
			budget -= n
			if err := q.variant.m.Decode(s.engine, q.cache, q.prompt[q.fed:q.fed+n], prefillLogits); err != nil {
				q.finish("", err)
				continue
			}
			q.fed += n
			if q.fed == len(q.prompt) {
				q.logits = append(q.logits[:0], prefillLogits.F32()...)
			}
		}
		// sample
		for _, q := range active {
			if !q.finished && q.logits != nil {
				s.sample(q)
			}
		}
		// decode the continuing sequences, one batch per variant
		groups := map[*variant][]*seq{}
		var order []*variant
		for _, q := range active {
			if q.finished || q.logits != nil || q.fed < len(q.prompt) {
				continue
			}
			if groups[q.variant] == nil {
				order = append(order, q.variant)
			}
			groups[q.variant] = append(groups[q.variant], q)
		}
		for _, v := range order {
			g := groups[v]
			caches := make([]*model.Cache, len(g))
			ids := make([]int32, len(g))
			for i, q := range g {
				caches[i], ids[i] = q.cache, q.next
			}
			lg := batchLogits[len(g)]
			if lg == nil {
				lg = tensor.New(tensor.F32, len(g), s.vocab)
				batchLogits[len(g)] = lg
			}
			start := time.Now()
			if err := v.bd.Decode(s.engine, caches, ids, lg); err != nil {
				for _, q := range g {
					q.finish("", err)
				}
				continue
			}
			s.metrics.stepSeconds.observe(time.Since(start).Seconds())
			s.metrics.batchSize.observe(float64(len(g)))
			all := lg.F32()
			for i, q := range g {
				q.logits = append(q.logits[:0], all[i*s.vocab:(i+1)*s.vocab]...)
			}
		}
		// forget finished sequences
		kept := active[:0]
		for _, q := range active {
			if !q.finished {
				kept = append(kept, q)
			}
		}
		clear(active[len(kept):])
		active = kept
		select {
		case <-s.quit:
			for _, q := range active {
				q.finish("", errShutdown)
			}
			return
		default:
		}
	}
}

var errShutdown = errors.New("the server is shutting down")

// sample chooses the next token of q from its ready logits and handles it:
// a stop token, the token budget, a stop string or a complete JSON
// document finish the sequence; otherwise its text is streamed and the
// token is decoded at the next step.
func (s *Server) sample(q *seq) {
	lv := q.logits
	q.logits = nil
	if q.penalty != nil {
		q.penalty.Process(q.tokens, lv)
	}
	if q.json != nil {
		q.json.Mask(lv)
	}
	tok := q.sampler.Sample(lv)
	if !q.first {
		q.first = true
		s.metrics.ttft.observe(time.Since(q.enq).Seconds())
	}
	if q.json != nil {
		if err := q.json.Accept(tok); err != nil {
			q.finish("", err) // cannot happen: the mask allowed tok
			return
		}
	}
	if q.stopIDs[tok] {
		q.finish("stop", nil)
		return
	}
	q.gen = append(q.gen, tok)
	q.tokens = append(q.tokens, tok)
	s.metrics.tokens.inc()
	delta, stopped := q.text.Update(q.detok.Text(q.gen))
	if delta != "" {
		q.out.put(event{text: delta})
	}
	if stopped {
		q.finish("stop", nil)
		return
	}
	switch {
	case q.json != nil && q.json.Done():
		q.finish("stop", nil)
	case len(q.gen) >= q.max || q.cache.Len >= q.cache.Capacity():
		q.finish("length", nil)
	default:
		q.next = tok
	}
}

// finish ends q with a finish reason or an error and tells its handler.
func (q *seq) finish(reason string, err error) {
	if q.finished {
		return
	}
	q.finished = true
	q.cache = nil
	if err == nil {
		if d := q.text.Flush(); d != "" {
			q.out.put(event{text: d})
		}
	}
	q.out.put(event{done: true, reason: reason, err: err, usage: usage{len(q.prompt), len(q.gen)}})
}
