package hub

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultEndpoint is the Hub's address when HF_ENDPOINT is not set.
const DefaultEndpoint = "https://huggingface.co"

// Options configures the client. The zero value is usable: FromEnv fills it
// the way huggingface_hub reads its environment.
type Options struct {
	// Endpoint is the Hub's base URL (HF_ENDPOINT), without a trailing slash.
	Endpoint string
	// Token authorises gated and private repositories (HF_TOKEN); empty for
	// anonymous access. It is sent to Endpoint only, never to a CDN a
	// download is redirected to.
	Token string
	// CacheDir is the hub cache (HF_HUB_CACHE, else $HF_HOME/hub, else
	// ~/.cache/huggingface/hub).
	CacheDir string
	// Offline answers from the cache alone (HF_HUB_OFFLINE=1).
	Offline bool
	// Include lists path.Match patterns of the files to download, matched
	// against the file's path in the repository. Empty means DefaultInclude.
	Include []string
	// Retries is how many times a failed request is retried (network errors,
	// 429 and 5xx); negative means none. Zero means the default, 5.
	Retries int
	// Backoff is the wait before the first retry, doubled at each further
	// one up to 30 s; a Retry-After header takes precedence. Zero means 1 s.
	Backoff time.Duration
	// Client is the HTTP client; nil means one with no overall timeout (model
	// files are large) that does not follow redirects by itself.
	Client *http.Client
	// Progress, when not nil, receives download events.
	Progress Progress
	// UserAgent is sent with every request.
	UserAgent string
}

// DefaultInclude are the files pulled when Options.Include is empty: what a
// model folder needs to load, train and export in hone (config, generation
// config, tokenizer files, chat template, safetensors weights and their
// index), at the top level of the repository. PyTorch pickles, GGUF, ONNX,
// Flax and TF weights and the original/ folders of Meta's repositories are
// left out.
var DefaultInclude = []string{"*.json", "*.safetensors", "tokenizer.model", "*.jinja", "*.tiktoken", "merges.txt", "vocab.txt"}

// FromEnv returns Options filled from the environment variables
// huggingface_hub reads: HF_ENDPOINT, HF_TOKEN (else the token file,
// $HF_TOKEN_PATH or $HF_HOME/token), HF_HUB_CACHE / HF_HOME /
// XDG_CACHE_HOME, and HF_HUB_OFFLINE.
func FromEnv() Options {
	o := Options{
		Endpoint: strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/"),
		Token:    strings.TrimSpace(os.Getenv("HF_TOKEN")),
		CacheDir: CacheDir(),
		Offline:  truthy(os.Getenv("HF_HUB_OFFLINE")),
	}
	if o.Token == "" {
		tp := os.Getenv("HF_TOKEN_PATH")
		if tp == "" {
			tp = filepath.Join(hfHome(), "token")
		}
		if b, err := os.ReadFile(tp); err == nil {
			o.Token = strings.TrimSpace(string(b))
		}
	}
	return o
}

// CacheDir returns the hub cache folder the way huggingface_hub finds it:
// $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
// else ~/.cache/huggingface/hub.
func CacheDir() string {
	if d := os.Getenv("HF_HUB_CACHE"); d != "" {
		return expandHome(d)
	}
	return filepath.Join(hfHome(), "hub")
}

func hfHome() string {
	if d := os.Getenv("HF_HOME"); d != "" {
		return expandHome(d)
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(expandHome(d), "huggingface")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	return filepath.Join(home, ".cache", "huggingface")
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// truthy reads a boolean environment value the way huggingface_hub does.
func truthy(v string) bool {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

func (o *Options) withDefaults() Options {
	c := *o
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	c.Endpoint = strings.TrimRight(c.Endpoint, "/")
	if c.CacheDir == "" {
		c.CacheDir = CacheDir()
	}
	if len(c.Include) == 0 {
		c.Include = DefaultInclude
	}
	if c.Retries == 0 {
		c.Retries = 5
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.Backoff == 0 {
		c.Backoff = time.Second
	}
	if c.Client == nil {
		c.Client = &http.Client{}
	}
	// Redirects are followed by hand so that the Hub's own headers
	// (X-Repo-Commit, X-Linked-Etag) are read before the CDN's, and the
	// token is not sent to another host.
	cl := *c.Client
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Client = &cl
	if c.UserAgent == "" {
		c.UserAgent = "hone (+https://huggingface.co/docs/huggingface_hub)"
	}
	if c.Progress == nil {
		c.Progress = noProgress{}
	}
	return c
}

// Progress receives download events. Implementations must be cheap: Event
// with Kind Bytes arrives for every chunk read.
type Progress interface {
	OnEvent(Event)
}

// EventKind says what an Event reports.
type EventKind int

// The kinds of Event.
const (
	// FileStart: a file is about to be downloaded; Total is its size (0 when
	// unknown) and Done the bytes already present from an earlier attempt.
	FileStart EventKind = iota
	// Bytes: Done of Total bytes of File are on disk.
	Bytes
	// FileDone: File is complete and verified.
	FileDone
	// FileCached: File was already in the cache (Total is its size).
	FileCached
	// Retry: a request for File failed with Err and is retried after Wait
	// (Attempt counts from 1).
	Retry
	// Note: Message says something the user should know (e.g. that the Hub
	// was unreachable and the cached snapshot is used).
	Note
)

// Event is one progress report.
type Event struct {
	Kind        EventKind
	File        string
	Done, Total int64
	Attempt     int
	Wait        time.Duration
	Err         error
	Message     string
}

type noProgress struct{}

func (noProgress) OnEvent(Event) {}

// ProgressFunc adapts a function to Progress.
type ProgressFunc func(Event)

// OnEvent calls f(e).
func (f ProgressFunc) OnEvent(e Event) { f(e) }
