package serve

import (
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"hone/chat"
	"hone/generate"
	"hone/serve/api"
)

// apiError is a request error with its HTTP status and OpenAI error type.
type apiError struct {
	status int
	typ    string
	code   string
	param  string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(param, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", param: param, msg: fmt.Sprintf(format, args...)}
}

// fail writes an OpenAI-style error body.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, typ, code, msg string) {
	s.failErr(w, r, &apiError{status: status, typ: typ, code: code, msg: msg})
}

func (s *Server) failErr(w http.ResponseWriter, r *http.Request, e *apiError) {
	body := api.ErrorResponse{Error: api.Error{Message: e.msg, Type: e.typ}}
	if e.param != "" {
		body.Error.Param = &e.param
	}
	if e.code != "" {
		body.Error.Code = &e.code
	}
	s.metrics.requests.inc(r.URL.Path, e.status)
	s.cfg.Log.Info("request", "method", r.Method, "path", r.URL.Path, "status", e.status, "error", e.msg)
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// decode reads a JSON body of at most MaxRequestBytes into v.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) *apiError {
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBytes)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return &apiError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error",
				msg: fmt.Sprintf("the request body exceeds %d bytes", mb.Limit)}
		}
		return badRequest("", "the request body is not valid JSON for this endpoint: %v", err)
	}
	if dec.More() {
		return badRequest("", "the request body has data after its JSON value")
	}
	return nil
}

func newID(prefix string) string {
	var b [12]byte
	crand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	list := api.ModelList{Object: "list"}
	for _, n := range s.names {
		list.Data = append(list.Data, api.Model{ID: n, Object: "model", Created: s.created, OwnedBy: "hone"})
	}
	s.metrics.requests.inc(r.URL.Path, 200)
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.variants[id] == nil {
		s.failErr(w, r, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found", param: "model",
			msg: fmt.Sprintf("the model %q does not exist; this server has %s", id, strings.Join(s.names, ", "))})
		return
	}
	s.metrics.requests.inc("/v1/models/{id}", 200)
	writeJSON(w, http.StatusOK, api.Model{ID: id, Object: "model", Created: s.created, OwnedBy: "hone"})
}

// newJob checks the shared sampling parameters and builds the job for a
// prompt of token ids.
func (s *Server) newJob(r *http.Request, p *api.Sampling, maxTokens *int, prompt []int32, stopIDs []int32) (*job, *apiError) {
	v := s.variants[p.Model]
	if p.Model == "" {
		v = s.variants[s.cfg.Name]
	}
	if v == nil {
		return nil, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found", param: "model",
			msg: fmt.Sprintf("the model %q does not exist; this server has %s", p.Model, strings.Join(s.names, ", "))}
	}
	if maxTokens == nil {
		maxTokens = p.MaxTokens
	}
	max := s.cfg.DefaultMaxTokens
	if maxTokens != nil {
		if *maxTokens <= 0 {
			return nil, badRequest("max_tokens", "max_tokens is %d; want 1 or more", *maxTokens)
		}
		max = *maxTokens
	}
	temp := 1.0
	if p.Temperature != nil {
		temp = *p.Temperature
		if temp < 0 || temp > 2 || math.IsNaN(temp) {
			return nil, badRequest("temperature", "temperature is %v; want 0 to 2", temp)
		}
	}
	topP := 1.0
	if p.TopP != nil {
		topP = *p.TopP
		if !(topP > 0 && topP <= 1) {
			return nil, badRequest("top_p", "top_p is %v; want more than 0 and at most 1", topP)
		}
	}
	topK := 0
	if p.TopK != nil {
		if topK = *p.TopK; topK < 0 {
			return nil, badRequest("top_k", "top_k is %d; want 0 (off) or more", topK)
		}
	}
	if p.N != nil && *p.N != 1 {
		return nil, badRequest("n", "n is %d; this server returns one choice (n = 1)", *p.N)
	}
	pen := generate.Penalties{Prompt: len(prompt)}
	for name, x := range map[string]*float64{"frequency_penalty": p.FrequencyPenalty, "presence_penalty": p.PresencePenalty} {
		if x == nil {
			continue
		}
		if !(*x >= -2 && *x <= 2) {
			return nil, badRequest(name, "%s is %v; want -2 to 2", name, *x)
		}
		if name == "frequency_penalty" {
			pen.Frequency = float32(*x)
		} else {
			pen.Presence = float32(*x)
		}
	}
	if l := strings.TrimSpace(string(p.Logprobs)); l != "" && l != "null" && l != "false" && l != "0" {
		return nil, badRequest("logprobs", "logprobs are not supported")
	}
	if len(p.Stop) > 4 {
		return nil, badRequest("stop", "stop has %d strings; at most 4", len(p.Stop))
	}
	var penalty generate.Processor
	if p.RepetitionPenalty != nil {
		rp := *p.RepetitionPenalty
		if !(rp > 0) || rp > 10 {
			return nil, badRequest("repetition_penalty", "repetition_penalty is %v; want more than 0 and at most 10", rp)
		}
		if rp != 1 {
			penalty = generate.RepetitionPenalty{Penalty: float32(rp)}
		}
	}
	if pen.Presence != 0 || pen.Frequency != 0 {
		if penalty != nil {
			penalty = generate.Chain{penalty, pen}
		} else {
			penalty = pen
		}
	}
	if len(prompt) == 0 {
		return nil, badRequest("", "the prompt encodes to no tokens")
	}
	ctxLen := v.m.Config.MaxPositions
	if ctxLen > 0 {
		if len(prompt) >= ctxLen {
			return nil, &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "context_length_exceeded",
				msg: fmt.Sprintf("the prompt has %d tokens; the model's context is %d", len(prompt), ctxLen)}
		}
		max = min(max, ctxLen-len(prompt))
	}
	seed := rand.Uint64()
	if p.Seed != nil {
		seed = uint64(*p.Seed)
	}
	stops := map[int32]bool{}
	for _, id := range stopIDs {
		stops[id] = true
	}
	var stopStrings []string
	for _, st := range p.Stop {
		if st != "" {
			stopStrings = append(stopStrings, st)
		}
	}
	return &job{ctx: r.Context(), variant: v, prompt: prompt, max: max, penalty: penalty,
		sampler: generate.NewSampler(temp, topK, topP, seed), stopIDs: stops, stops: stopStrings,
		out: outbox{ready: make(chan struct{}, 1)}}, nil
}

// submit queues j, or answers 429 when the queue is full and 503 while
// shutting down. It reports whether j was queued; then the caller must call
// s.reqs.Done when it has finished with j.
func (s *Server) submit(w http.ResponseWriter, r *http.Request, j *job) bool {
	select {
	case <-s.closing:
		s.failErr(w, r, &apiError{status: http.StatusServiceUnavailable, typ: "server_error", msg: "the server is shutting down"})
		return false
	default:
	}
	s.reqs.Add(1)
	j.enq = time.Now()
	select {
	case s.queue <- j:
		s.metrics.queued.set(float64(len(s.queue)))
		return true
	default:
		s.reqs.Done()
		s.metrics.rejected.inc()
		w.Header().Set("Retry-After", "1")
		s.failErr(w, r, &apiError{status: http.StatusTooManyRequests, typ: "rate_limit_error", code: "queue_full",
			msg: fmt.Sprintf("the server is busy (%d requests decoding, %d waiting); retry later", s.cfg.MaxBatch, s.cfg.QueueSize)})
		return false
	}
}

// wait delivers j's events to fn until the last one, which it returns; it
// returns nil when the client goes away first.
func wait(r *http.Request, j *job, fn func(event) error) *event {
	for {
		select {
		case <-j.out.ready:
			for _, e := range j.out.take() {
				if e.done {
					return &e
				}
				if fn(e) != nil {
					return nil // the client went away; the scheduler will notice
				}
			}
		case <-r.Context().Done():
			return nil
		}
	}
}

// jobError turns a failed generation into an API error.
func jobError(err error) *apiError {
	if errors.Is(err, errShutdown) {
		return &apiError{status: http.StatusServiceUnavailable, typ: "server_error", msg: err.Error()}
	}
	return &apiError{status: http.StatusInternalServerError, typ: "server_error", msg: "generation failed: " + err.Error()}
}

// sse writes server-sent events.
type sse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func startSSE(w http.ResponseWriter) *sse {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return &sse{w: w, rc: http.NewResponseController(w)}
}

func (e *sse) send(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(e.w, "data: %s\n\n", data); err != nil {
		return err
	}
	return e.rc.Flush()
}

func (e *sse) done() {
	fmt.Fprint(e.w, "data: [DONE]\n\n")
	e.rc.Flush()
}

// fail sends an error event, {"error": {...}} as OpenAI streams send it,
// then ends the stream with [DONE] so that clients reading to the end stop
// there (the OpenAI clients raise the error and stop at the error event).
func (e *sse) fail(ae *apiError) {
	if e.send(api.ErrorResponse{Error: api.Error{Message: ae.msg, Type: ae.typ}}) == nil {
		e.done()
	}
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	if s.tmpl == nil {
		s.fail(w, r, http.StatusNotFound, "invalid_request_error", "", "this model has no chat template; use /v1/completions")
		return
	}
	var req api.ChatCompletionRequest
	if e := s.decode(w, r, &req); e != nil {
		s.failErr(w, r, e)
		return
	}
	if len(req.Messages) == 0 {
		s.failErr(w, r, badRequest("messages", "messages is empty"))
		return
	}
	if ae := flattenContent(req.Messages); ae != nil {
		s.failErr(w, r, ae)
		return
	}
	var tools []any
	for _, t := range req.Tools {
		tools = append(tools, t)
	}
	text, err := s.tmpl.RenderText(req.Messages, chat.Options{AddGenerationPrompt: true, Tools: tools})
	if err != nil {
		s.failErr(w, r, badRequest("messages", "the chat template cannot render these messages: %v", err))
		return
	}
	prompt := s.tok.Encode(text, false)
	maxTokens := req.MaxCompletionTokens
	if maxTokens == nil {
		maxTokens = req.MaxTokens
	}
	j, ae := s.newJob(r, &req.Sampling, maxTokens, prompt, s.chatStop)
	if ae != nil {
		s.failErr(w, r, ae)
		return
	}
	if ae := s.constrain(j, req.ResponseFormat); ae != nil {
		s.failErr(w, r, ae)
		return
	}
	if !s.submit(w, r, j) {
		return
	}
	defer s.reqs.Done()
	id, created, name := newID("chatcmpl-"), time.Now().Unix(), j.variant.name
	start := time.Now()
	if !req.Stream {
		var b strings.Builder
		last := wait(r, j, func(e event) error { b.WriteString(e.text); return nil })
		if last == nil {
			return
		}
		if last.err != nil {
			s.failErr(w, r, jobError(last.err))
			return
		}
		s.finished(r, start, last)
		writeJSON(w, http.StatusOK, api.ChatCompletion{ID: id, Object: "chat.completion", Created: created, Model: name,
			SystemFingerprint: "hone",
			Choices:           []api.ChatChoice{{Message: api.Message{Role: "assistant", Content: b.String()}, FinishReason: last.reason}},
			Usage:             last.usage.api()})
		return
	}
	ev := startSSE(w)
	chunk := func(d api.Delta, finish *string) api.ChatCompletionChunk {
		return api.ChatCompletionChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: name, SystemFingerprint: "hone",
			Choices: []api.ChunkChoice{{Delta: d, FinishReason: finish}}}
	}
	empty := ""
	if ev.send(chunk(api.Delta{Role: "assistant", Content: &empty}, nil)) != nil {
		return
	}
	last := wait(r, j, func(e event) error {
		t := e.text
		return ev.send(chunk(api.Delta{Content: &t}, nil))
	})
	if last == nil {
		return
	}
	if last.err != nil {
		ev.fail(jobError(last.err))
		return
	}
	s.finished(r, start, last)
	if ev.send(chunk(api.Delta{}, &last.reason)) != nil {
		return
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		u := last.usage.api()
		c := chunk(api.Delta{}, nil)
		c.Choices = []api.ChunkChoice{}
		c.Usage = &u
		ev.send(c)
	}
	ev.done()
}

// flattenContent turns list-valued message content into the string the
// chat template expects: the texts of the parts concatenated in order, as
// OpenAI reads text parts. A part of another type (image_url, input_audio,
// file, ...) is refused, naming messages[i].content[j].type. Null content
// (an assistant message with tool calls) stays the empty string.
func flattenContent(msgs []chat.Message) *apiError {
	for i := range msgs {
		m := &msgs[i]
		if m.Parts == nil {
			continue
		}
		var b strings.Builder
		for j, p := range m.Parts {
			if p.Type != "text" {
				return badRequest(fmt.Sprintf("messages[%d].content[%d].type", i, j),
					"messages[%d].content[%d].type is %q; this server reads text parts only", i, j, p.Type)
			}
			b.WriteString(p.Text)
		}
		m.Content, m.Parts = b.String(), nil
	}
	return nil
}

func (u usage) api() api.Usage {
	return api.Usage{PromptTokens: u.prompt, CompletionTokens: u.completion, TotalTokens: u.prompt + u.completion}
}

// finished records a successful request.
func (s *Server) finished(r *http.Request, start time.Time, last *event) {
	d := time.Since(start).Seconds()
	s.metrics.requests.inc(r.URL.Path, 200)
	s.metrics.latency.observe(d)
	s.metrics.promptTokens.add(float64(last.usage.prompt))
	s.metrics.completionTokens.add(float64(last.usage.completion))
	s.cfg.Log.Info("request", "method", r.Method, "path", r.URL.Path, "status", 200, "seconds", fmt.Sprintf("%.3f", d),
		"prompt_tokens", last.usage.prompt, "completion_tokens", last.usage.completion, "finish", last.reason)
}

// constrain attaches a JSON processor for response_format.
func (s *Server) constrain(j *job, rf *api.ResponseFormat) *apiError {
	if rf == nil || rf.Type == "" || rf.Type == "text" {
		return nil
	}
	var schema *generate.Schema
	switch rf.Type {
	case "json_object":
		schema = s.objSchema
	case "json_schema":
		if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
			return badRequest("response_format.json_schema.schema", "response_format json_schema needs json_schema.schema")
		}
		var err error
		if schema, err = s.schemas.get(rf.JSONSchema.Schema); err != nil {
			return badRequest("response_format.json_schema.schema", "%v", err)
		}
	default:
		return badRequest("response_format.type", "response_format type %q: want text, json_object or json_schema", rf.Type)
	}
	j.json = s.schemas.constraint(schema, s.tokenBytes()).NewProcessor()
	return nil
}

func (s *Server) handleCompletion(w http.ResponseWriter, r *http.Request) {
	var req api.CompletionRequest
	if e := s.decode(w, r, &req); e != nil {
		s.failErr(w, r, e)
		return
	}
	var text string
	if err := json.Unmarshal(req.Prompt, &text); err != nil {
		var list []string
		if err := json.Unmarshal(req.Prompt, &list); err != nil || len(list) != 1 {
			s.failErr(w, r, badRequest("prompt", "prompt must be a string or a list of one string"))
			return
		}
		text = list[0]
	}
	// Without max_tokens the server's DefaultMaxTokens applies, as for chat
	// (OpenAI's own default for completions, 16, is not hone's).
	j, ae := s.newJob(r, &req.Sampling, req.MaxTokens, s.tok.Encode(text, true), s.stopIDs)
	if ae != nil {
		s.failErr(w, r, ae)
		return
	}
	if !s.submit(w, r, j) {
		return
	}
	defer s.reqs.Done()
	id, created, name := newID("cmpl-"), time.Now().Unix(), j.variant.name
	start := time.Now()
	echo := ""
	if req.Echo {
		echo = text
	}
	if !req.Stream {
		var b strings.Builder
		b.WriteString(echo)
		last := wait(r, j, func(e event) error { b.WriteString(e.text); return nil })
		if last == nil {
			return
		}
		if last.err != nil {
			s.failErr(w, r, jobError(last.err))
			return
		}
		s.finished(r, start, last)
		u := last.usage.api()
		writeJSON(w, http.StatusOK, api.Completion{ID: id, Object: "text_completion", Created: created, Model: name, SystemFingerprint: "hone",
			Choices: []api.CompletionChoice{{Text: b.String(), FinishReason: &last.reason}}, Usage: &u})
		return
	}
	ev := startSSE(w)
	chunk := func(t string, finish *string) api.Completion {
		return api.Completion{ID: id, Object: "text_completion", Created: created, Model: name, SystemFingerprint: "hone",
			Choices: []api.CompletionChoice{{Text: t, FinishReason: finish}}}
	}
	if echo != "" && ev.send(chunk(echo, nil)) != nil {
		return
	}
	last := wait(r, j, func(e event) error { return ev.send(chunk(e.text, nil)) })
	if last == nil {
		return
	}
	if last.err != nil {
		ev.fail(jobError(last.err))
		return
	}
	s.finished(r, start, last)
	if ev.send(chunk("", &last.reason)) != nil {
		return
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		u := last.usage.api()
		c := chunk("", nil)
		c.Choices = []api.CompletionChoice{}
		c.Usage = &u
		ev.send(c)
	}
	ev.done()
}

// schemaCache remembers compiled schemas by their text, and the
// constraints built over the vocabulary (whose masks are worth keeping
// across requests that share a schema).
type schemaCache struct {
	mu    sync.Mutex
	max   int
	byKey map[string]*generate.Schema
	cons  map[*generate.Schema]*generate.Constraint
}

func newSchemaCache(n int) *schemaCache {
	return &schemaCache{max: n, byKey: map[string]*generate.Schema{}, cons: map[*generate.Schema]*generate.Constraint{}}
}

func (c *schemaCache) get(raw json.RawMessage) (*generate.Schema, error) {
	key := string(raw)
	c.mu.Lock()
	s, ok := c.byKey[key]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := generate.CompileSchema(raw)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.byKey) >= c.max {
		clear(c.byKey)
		clear(c.cons)
	}
	c.byKey[key] = s
	c.mu.Unlock()
	return s, nil
}

func (c *schemaCache) constraint(s *generate.Schema, v *generate.Vocabulary) *generate.Constraint {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.cons[s]; ok {
		return k
	}
	k := generate.NewConstraint(s, v)
	c.cons[s] = k
	return k
}
