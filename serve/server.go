package serve

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"hone/chat"
	"hone/compute"
	"hone/generate"
	"hone/model"
	"hone/tokenizer"
)

// Config holds the server's settings; the zero value of a field means its
// default (Defaults fills them).
type Config struct {
	// Name is the base model's name in the API (the "model" field);
	// adapters are served as Name:adapter.
	Name string
	// MaxBatch is the most sequences decoded together (default 32).
	MaxBatch int
	// QueueSize is the most requests waiting for a place in the batch;
	// beyond it requests are answered 429 (default 64).
	QueueSize int
	// MaxRequestBytes bounds a request body; larger ones get 413
	// (default 8 MiB).
	MaxRequestBytes int64
	// DefaultMaxTokens is max_tokens when a request does not say (default
	// 512; at most the context).
	DefaultMaxTokens int
	// APIKeys, when not empty, are the bearer tokens accepted on /v1/;
	// other requests get 401.
	APIKeys []string
	// Log receives one line per request and the server's notices; nil
	// discards them.
	Log *slog.Logger
}

// Defaults fills the zero fields of c with their defaults.
func (c *Config) Defaults() {
	if c.Name == "" {
		c.Name = "hone"
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 32
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 64
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = 8 << 20
	}
	if c.DefaultMaxTokens <= 0 {
		c.DefaultMaxTokens = 512
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Backend is what the server runs: one tokenizer and chat template, the
// base model and its adapter variants (each a model.Model sharing the
// base's tensors), and the engine.
type Backend struct {
	Tokenizer *tokenizer.Tokenizer
	// Template renders chat messages; nil disables /v1/chat/completions.
	Template *chat.Template
	Engine   compute.Engine
	// Base is the base model.
	Base *model.Model
	// Adapters maps an adapter name to the base model with that adapter
	// attached.
	Adapters map[string]*model.Model
	// StopIDs end every generation (the EOS ids of generation_config.json);
	// the template's end-of-turn tokens are added for chat.
	StopIDs []int32
}

// variant is one servable model name.
type variant struct {
	name string
	m    *model.Model
	bd   *model.BatchDecoder
}

// Server is the OpenAI-compatible API over one base model and its
// adapters. Requests are decoded together by one scheduler goroutine
// (continuous batching); Handler serves HTTP; Shutdown drains it.
type Server struct {
	cfg      Config
	tok      *tokenizer.Tokenizer
	tmpl     *chat.Template
	engine   compute.Engine
	vocab    int
	variants map[string]*variant
	names    []string
	stopIDs  []int32
	chatStop []int32
	created  int64

	tokenBytes func() *generate.Vocabulary
	schemas    *schemaCache
	objSchema  *generate.Schema

	queue   chan *job
	quit    chan struct{}
	stopped chan struct{}
	closing chan struct{}
	once    sync.Once
	reqs    sync.WaitGroup

	metrics *metrics
}

// New starts a server over b. Close or Shutdown stops its scheduler.
func New(cfg Config, b Backend) (*Server, error) {
	cfg.Defaults()
	if b.Tokenizer == nil || b.Base == nil || b.Engine == nil {
		return nil, errors.New("serve: the backend needs a tokenizer, a base model and an engine")
	}
	s := &Server{cfg: cfg, tok: b.Tokenizer, tmpl: b.Template, engine: b.Engine, vocab: b.Base.Config.Vocab,
		variants: map[string]*variant{}, stopIDs: b.StopIDs, created: time.Now().Unix(),
		queue: make(chan *job, cfg.QueueSize), quit: make(chan struct{}), stopped: make(chan struct{}),
		closing: make(chan struct{}), metrics: newMetrics(), schemas: newSchemaCache(64), objSchema: generate.JSONObject()}
	if tv := b.Tokenizer.VocabSize(); tv > s.vocab {
		return nil, fmt.Errorf("serve: the tokenizer has %d tokens, the model's vocabulary %d", tv, s.vocab)
	}
	add := func(name string, m *model.Model) error {
		if m.Config.Vocab != s.vocab {
			return fmt.Errorf("serve: model %s has a vocabulary of %d, the base %d", name, m.Config.Vocab, s.vocab)
		}
		s.variants[name] = &variant{name: name, m: m, bd: m.NewBatchDecoder()}
		s.names = append(s.names, name)
		return nil
	}
	if err := add(cfg.Name, b.Base); err != nil {
		return nil, err
	}
	adapters := make([]string, 0, len(b.Adapters))
	for n := range b.Adapters {
		adapters = append(adapters, n)
	}
	sort.Strings(adapters)
	for _, n := range adapters {
		if n == "" || strings.ContainsAny(n, ": \t") {
			return nil, fmt.Errorf("serve: adapter name %q: want a non-empty name without ':' or blanks", n)
		}
		if err := add(cfg.Name+":"+n, b.Adapters[n]); err != nil {
			return nil, err
		}
	}
	s.chatStop = append([]int32(nil), s.stopIDs...)
	if b.Template != nil {
		for _, st := range b.Template.StopStrings() {
			if id, ok := b.Tokenizer.TokenID(st); ok {
				s.chatStop = append(s.chatStop, id)
			}
		}
	}
	var vocabOnce sync.Once
	var vocab *generate.Vocabulary
	s.tokenBytes = func() *generate.Vocabulary {
		vocabOnce.Do(func() {
			tb := generate.TokenBytes(b.Tokenizer)
			for len(tb) < s.vocab {
				tb = append(tb, nil) // ids the tokenizer does not have
			}
			vocab = generate.NewVocabulary(tb, s.chatStop)
		})
		return vocab
	}
	go s.run()
	return s, nil
}

// Models returns the names the server answers to.
func (s *Server) Models() []string { return append([]string(nil), s.names...) }

// Close stops the scheduler at once: requests in flight end with an error.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		close(s.quit)
	})
	<-s.stopped
}

// Shutdown stops accepting requests (new ones get 503) and waits until
// those in flight have finished or done is closed, then stops the
// scheduler.
func (s *Server) Shutdown(done <-chan struct{}) {
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
	wait := make(chan struct{})
	go func() { s.reqs.Wait(); close(wait) }()
	select {
	case <-wait:
	case <-done:
	}
	s.once.Do(func() { close(s.quit) })
	<-s.stopped
}

// Handler returns the HTTP API: /v1/chat/completions, /v1/completions,
// /v1/models, /healthz and /metrics. A known path with another method gets
// 405 and an Allow header; an unknown path 404.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	routes := []struct {
		method, path string
		h            http.HandlerFunc
	}{
		{"POST", "/v1/chat/completions", s.auth(s.handleChat)},
		{"POST", "/v1/completions", s.auth(s.handleCompletion)},
		{"GET", "/v1/models", s.auth(s.handleModels)},
		{"GET", "/v1/models/{id...}", s.auth(s.handleModel)},
		{"GET", "/healthz", s.handleHealth},
		{"GET", "/metrics", s.metrics.serve},
	}
	for _, rt := range routes {
		mux.HandleFunc(rt.method+" "+rt.path, rt.h)
		// The same path with any other method: 405 with an Allow header and
		// an OpenAI error body (a GET route answers HEAD too).
		allow := rt.method
		if allow == "GET" {
			allow = "GET, HEAD"
		}
		mux.HandleFunc(rt.path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			s.fail(w, r, http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed",
				fmt.Sprintf("%s %s: method not allowed; use %s", r.Method, r.URL.Path, rt.method))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "invalid_request_error", "unknown_url", fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// auth checks the bearer token when API keys are configured.
func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	if len(s.cfg.APIKeys) == 0 {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		good := 0
		for _, k := range s.cfg.APIKeys {
			good |= subtle.ConstantTimeCompare([]byte(key), []byte(k))
		}
		if !ok || good == 0 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hone"`)
			s.fail(w, r, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "missing or incorrect API key (send Authorization: Bearer KEY)")
			return
		}
		h(w, r)
	}
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.closing:
		http.Error(w, "shutting down\n", http.StatusServiceUnavailable)
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	}
}
