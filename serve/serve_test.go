package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/shared"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"hone/chat"
	"hone/compute/cpu"
	"hone/generate"
	"hone/lora"
	"hone/model"
	"hone/serve/api"
	"hone/tokenizer"
)

// fixture is a tiny random model with a tokenizer trained by the test, an
// adapter over a shared copy of the base, and a running server.
type fixture struct {
	srv     *Server
	ts      *httptest.Server
	tok     *tokenizer.Tokenizer
	tmpl    *chat.Template
	base    *model.Model
	adapted *model.Model
	eos     int32
}

var (
	tokOnce sync.Once
	testTok *tokenizer.Tokenizer
)

func trainedTokenizer(t testing.TB) *tokenizer.Tokenizer {
	tokOnce.Do(func() {
		var texts []string
		for i := 0; i < 200; i++ {
			texts = append(texts, fmt.Sprintf(`The cat %d sat on the mat. {"name": "cat", "age": %d, "tags": ["a", "b"]} hello world`, i, i%17))
		}
		tok, err := tokenizer.Train(slices.Values(texts), tokenizer.TrainOptions{VocabSize: 360})
		if err != nil {
			panic(err)
		}
		testTok = tok
	})
	return testTok
}

// fixturePositions is the fixture model's context length.
var fixturePositions = 1024

func newFixture(t testing.TB, cfg Config) *fixture {
	tok := trainedTokenizer(t)
	eos, _ := tok.TokenID(tokenizer.EndOfText)
	c := &model.Config{
		ModelType: "llama", Hidden: 32, Intermediate: 64, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 8,
		Vocab: tok.VocabSize(), MaxPositions: fixturePositions, RMSEps: 1e-5, BOS: 0, EOS: []int{int(eos)}, Pad: -1,
		Rope: model.Rope{Theta: 10000, Type: "default", Factor: 1},
	}
	base := model.New(c, model.Init(c, 0.3, 11))
	adapted := ShareBase(base)
	set, err := lora.New(adapted, lora.Config{R: 4, Alpha: 8, Targets: []string{"all-linear"}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, a := range set.Adapters {
		for i, v := range a.B.F32() {
			a.B.F32()[i] = v + float32(rng.NormFloat64()*0.5)
		}
	}
	tmpl, err := chat.Named("chatml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name == "" {
		cfg.Name = "hone"
	}
	srv, err := New(cfg, Backend{Tokenizer: tok, Template: tmpl, Engine: cpu.New(2), Base: base,
		Adapters: map[string]*model.Model{"ad": adapted}, StopIDs: []int32{eos}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return &fixture{srv: srv, ts: ts, tok: tok, tmpl: tmpl, base: base, adapted: adapted, eos: eos}
}

// direct is what generate.Generate says for the same chat, greedily.
func (f *fixture) direct(t *testing.T, m *model.Model, msgs []chat.Message, maxTokens int) string {
	text, err := f.tmpl.RenderText(msgs, chat.Options{AddGenerationPrompt: true})
	if err != nil {
		t.Fatal(err)
	}
	stops := []int32{f.eos}
	if id, ok := f.tok.TokenID("<|im_end|>"); ok {
		stops = append(stops, id)
	}
	res, err := generate.Generate(context.Background(), cpu.New(1), m, f.tok, f.tok.Encode(text, false),
		generate.Options{MaxTokens: maxTokens, StopTokens: stops}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Text
}

const factSchema = `{"type": "object", "properties": {"name": {"type": "string", "maxLength": 10},
 "age": {"type": "integer"}, "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 3}},
 "required": ["name", "age"], "additionalProperties": false}`

// TestOpenAIClient drives the server with the official Go client: models,
// chat (equal to generating directly, for the base and the adapter),
// streaming, json_schema, completions and a wrong key.
func TestOpenAIClient(t *testing.T) {
	f := newFixture(t, Config{APIKeys: []string{"sekrit"}})
	client := openai.NewClient(option.WithBaseURL(f.ts.URL+"/v1/"), option.WithAPIKey("sekrit"), option.WithMaxRetries(0))
	ctx := context.Background()

	models, err := client.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range models.Data {
		ids = append(ids, m.ID)
	}
	if !slices.Equal(ids, []string{"hone", "hone:ad"}) {
		t.Fatalf("models = %v, want [hone hone:ad]", ids)
	}

	msgs := []chat.Message{{Role: "user", Content: "The cat sat on"}}
	params := openai.ChatCompletionNewParams{Model: "hone", MaxTokens: openai.Int(24), Temperature: openai.Float(0),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("The cat sat on")}}
	answers := map[string]string{}
	for _, name := range []string{"hone", "hone:ad"} {
		params.Model = name
		res, err := client.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatalf("chat with %s: %v", name, err)
		}
		m := f.base
		if name == "hone:ad" {
			m = f.adapted
		}
		want := f.direct(t, m, msgs, 24)
		got := res.Choices[0].Message.Content
		if got != want {
			t.Errorf("chat with %s = %q, want %q (generate.Generate on the same model)", name, got, want)
		}
		if res.Usage.PromptTokens == 0 || res.Usage.TotalTokens != res.Usage.PromptTokens+res.Usage.CompletionTokens {
			t.Errorf("usage %+v is inconsistent", res.Usage)
		}
		if fr := res.Choices[0].FinishReason; fr != "stop" && fr != "length" {
			t.Errorf("finish_reason = %q", fr)
		}
		answers[name] = got
	}
	if answers["hone"] == answers["hone:ad"] {
		t.Errorf("the adapter changed nothing: both answered %q", answers["hone"])
	}

	// streaming gives the same text in pieces, then the usage
	params.Model = "hone"
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var b strings.Builder
	chunks, finish := 0, ""
	var usage openai.CompletionUsage
	for stream.Next() {
		c := stream.Current()
		if len(c.Choices) > 0 {
			b.WriteString(c.Choices[0].Delta.Content)
			if c.Choices[0].FinishReason != "" {
				finish = c.Choices[0].FinishReason
			}
		}
		if c.Usage.TotalTokens > 0 {
			usage = c.Usage
		}
		chunks++
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if b.String() != answers["hone"] || finish == "" || chunks < 3 || usage.CompletionTokens == 0 {
		t.Errorf("stream: %q in %d chunks, finish %q, usage %+v; want %q", b.String(), chunks, finish, usage, answers["hone"])
	}

	// json_schema: sampled answers validate
	var schema map[string]any
	json.Unmarshal([]byte(factSchema), &schema)
	val := compileValidator(t, factSchema)
	for seed := int64(0); seed < 8; seed++ {
		res, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "hone:ad", MaxTokens: openai.Int(400), Temperature: openai.Float(1), Seed: openai.Int(seed),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Facts about the cat as JSON")},
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "facts", Schema: schema, Strict: openai.Bool(true)}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		out := res.Choices[0].Message.Content
		if res.Choices[0].FinishReason != "stop" {
			t.Fatalf("json_schema answer %q ended by %s", out, res.Choices[0].FinishReason)
		}
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
		if err != nil {
			t.Fatalf("json_schema answer %q is not JSON: %v", out, err)
		}
		if err := val.Validate(v); err != nil {
			t.Fatalf("json_schema answer %q does not validate: %v", out, err)
		}
	}

	// completions
	cres, err := client.Completions.New(ctx, openai.CompletionNewParams{Model: openai.CompletionNewParamsModel("hone"),
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("hello world")}, MaxTokens: openai.Int(10), Temperature: openai.Float(0)})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := generate.Generate(ctx, cpu.New(1), f.base, f.tok, f.tok.Encode("hello world", true), generate.Options{MaxTokens: 10, StopTokens: []int32{f.eos}}, nil)
	if got := cres.Choices[0].Text; got != want.Text {
		t.Errorf("completion = %q, want %q", got, want.Text)
	}

	// a wrong key
	bad := openai.NewClient(option.WithBaseURL(f.ts.URL+"/v1/"), option.WithAPIKey("wrong"), option.WithMaxRetries(0))
	_, err = bad.Chat.Completions.New(ctx, params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong key gave %v, want a 401", err)
	}
	if apiErr.Code != "invalid_api_key" {
		t.Errorf("401 code = %q, want invalid_api_key", apiErr.Code)
	}
}

func compileValidator(t testing.TB, schema string) *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AddResource("mem:///s.json", doc)
	s, err := c.Compile("mem:///s.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func post(t testing.TB, url, body string) (int, api.ErrorResponse) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e api.ErrorResponse
	json.Unmarshal(data, &e)
	return resp.StatusCode, e
}

// TestBadRequests: malformed or impossible requests get a 4xx with an
// OpenAI error body, and the server keeps serving.
func TestBadRequests(t *testing.T) {
	f := newFixture(t, Config{MaxRequestBytes: 1 << 20})
	chatURL, cmplURL := f.ts.URL+"/v1/chat/completions", f.ts.URL+"/v1/completions"
	huge := `{"model": "hone", "prompt": "` + strings.Repeat("cat ", 10<<20/4) + `"}`
	tests := []struct {
		name, url, body string
		status          int
		param           string
	}{
		{"malformed JSON", chatURL, `{"model": "hone", "messages": [`, 400, ""},
		{"not an object", chatURL, `[1, 2]`, 400, ""},
		{"unknown model", chatURL, `{"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}`, 404, "model"},
		{"unknown adapter", chatURL, `{"model": "hone:zz", "messages": [{"role": "user", "content": "hi"}]}`, 404, "model"},
		{"negative max_tokens", chatURL, `{"model": "hone", "max_tokens": -5, "messages": [{"role": "user", "content": "hi"}]}`, 400, "max_tokens"},
		{"no messages", chatURL, `{"model": "hone", "messages": []}`, 400, "messages"},
		{"temperature", chatURL, `{"model": "hone", "temperature": 3, "messages": [{"role": "user", "content": "hi"}]}`, 400, "temperature"},
		{"n", chatURL, `{"model": "hone", "n": 2, "messages": [{"role": "user", "content": "hi"}]}`, 400, "n"},
		{"presence_penalty", chatURL, `{"model": "hone", "presence_penalty": 2.5, "messages": [{"role": "user", "content": "hi"}]}`, 400, "presence_penalty"},
		{"frequency_penalty", cmplURL, `{"model": "hone", "frequency_penalty": -3, "prompt": "hi"}`, 400, "frequency_penalty"},
		{"bad schema", chatURL, `{"model": "hone", "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "string", "pattern": "a"}}}, "messages": [{"role": "user", "content": "hi"}]}`, 400, "response_format.json_schema.schema"},
		{"bad format", chatURL, `{"model": "hone", "response_format": {"type": "xml"}, "messages": [{"role": "user", "content": "hi"}]}`, 400, "response_format.type"},
		{"prompt list", cmplURL, `{"model": "hone", "prompt": [1, 2]}`, 400, "prompt"},
		{"context", cmplURL, `{"model": "hone", "prompt": "` + strings.Repeat("cat ", 1200) + `"}`, 400, ""},
		{"10 MB prompt", cmplURL, huge, 413, ""},
		{"unknown route", f.ts.URL + "/v1/embeddings", `{}`, 404, ""},
	}
	for _, tc := range tests {
		status, e := post(t, tc.url, tc.body)
		if status != tc.status || e.Error.Message == "" || e.Error.Type == "" {
			t.Errorf("%s: status %d, error %+v; want %d with an OpenAI error body", tc.name, status, e.Error, tc.status)
			continue
		}
		if tc.param != "" && (e.Error.Param == nil || *e.Error.Param != tc.param) {
			t.Errorf("%s: param %v, want %q", tc.name, e.Error.Param, tc.param)
		}
	}
	status, _ := post(t, chatURL, `{"model": "hone", "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}]}`)
	if status != 200 {
		t.Fatalf("after the bad requests a good one got %d", status)
	}
	status, e := post(t, chatURL, `{"model": "hone", "max_tokens": 3, "presence_penalty": 1.5, "frequency_penalty": -0.5, "repetition_penalty": 1.1, "messages": [{"role": "user", "content": "hi"}]}`)
	if status != 200 {
		t.Fatalf("a request with presence, frequency and repetition penalties got %d: %+v", status, e.Error)
	}
	resp, err := http.Get(f.ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`hone_http_requests_total{path="/v1/chat/completions",code="400"}`, `hone_http_requests_total{path="/v1/chat/completions",code="200"} 2`, "hone_decode_batch_size_count"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestCancellation: a client that goes away mid-stream frees its place. A
// sampled generation can end by itself (EOS) before the client leaves; such
// a try proves nothing and is repeated with another seed.
func TestCancellation(t *testing.T) {
	// A generation that cannot end by itself for seconds: no stop ids (the
	// EOS does not end it) and a long context, so that the only way out is
	// the scheduler dropping it when its client leaves.
	defer func(n int) { fixturePositions = n }(fixturePositions)
	fixturePositions = 1 << 16
	f := newFixture(t, Config{})
	f.srv.stopIDs = nil
	ctx, cancel := context.WithCancel(context.Background())
	body := `{"model": "hone", "prompt": "the cat", "max_tokens": 60000, "stream": true, "temperature": 1, "seed": 1}`
	req, _ := http.NewRequestWithContext(ctx, "POST", f.ts.URL+"/v1/completions", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for f.srv.metrics.cancelled.value() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the scheduler did not drop the cancelled request (%v tokens generated)", f.srv.metrics.tokens.value())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := f.srv.metrics.tokens.value(); n >= 60000 {
		t.Fatalf("the cancelled request ran to its end (%v tokens)", n)
	}
}

// TestShutdown: requests in flight finish, new ones get 503.
func TestShutdown(t *testing.T) {
	f := newFixture(t, Config{})
	done := make(chan int)
	go func() {
		status, _ := post(t, f.ts.URL+"/v1/completions", `{"model": "hone", "prompt": "the cat", "max_tokens": 200, "temperature": 0}`)
		done <- status
	}()
	for f.srv.metrics.tokens.value() == 0 { // wait until it decodes
		time.Sleep(time.Millisecond)
	}
	go f.srv.Shutdown(make(chan struct{}))
	for {
		select {
		case <-f.srv.closing:
		default:
			time.Sleep(time.Millisecond)
			continue
		}
		break
	}
	if status, e := post(t, f.ts.URL+"/v1/completions", `{"model": "hone", "prompt": "x"}`); status != 503 || e.Error.Message == "" {
		t.Errorf("during shutdown a new request got %d, want 503", status)
	}
	if status := <-done; status != 200 {
		t.Errorf("the request in flight got %d, want 200", status)
	}
	<-f.srv.stopped
}

// TestLoad runs 32 concurrent streaming clients against loopback for 3 s
// (60 s with HONE_LOADTEST=1): no errors besides 429s, memory stable.
func TestLoad(t *testing.T) {
	dur := 3 * time.Second
	if os.Getenv("HONE_LOADTEST") == "1" {
		dur = 60 * time.Second
	} else if testing.Short() {
		t.Skip("load test skipped in -short")
	}
	f := newFixture(t, Config{MaxBatch: 16, QueueSize: 8})
	const clients = 32
	var (
		mu        sync.Mutex
		latencies []time.Duration
		ok, busy  atomic.Int64
		tokens    atomic.Int64
		failures  []string
	)
	var heapStart runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heapStart)
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(200 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
		}
	}()
	end := time.Now().Add(dur)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; time.Now().Before(end); i++ {
				body := fmt.Sprintf(`{"model": "%s", "messages": [{"role": "user", "content": "cat %d says"}], "max_tokens": %d, "temperature": 0.8, "seed": %d, "stream": true, "stream_options": {"include_usage": true}}`,
					[]string{"hone", "hone:ad"}[c%2], i, 16+c%32, c*1000+i)
				start := time.Now()
				resp, err := http.Post(f.ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					return
				}
				if resp.StatusCode == http.StatusTooManyRequests {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					busy.Add(1)
					time.Sleep(20 * time.Millisecond)
					continue
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !bytes.HasSuffix(data, []byte("data: [DONE]\n\n")) {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("status %d: %.200s", resp.StatusCode, data))
					mu.Unlock()
					continue
				}
				for _, line := range strings.Split(string(data), "\n") {
					var c api.ChatCompletionChunk
					if strings.HasPrefix(line, "data: {") && json.Unmarshal([]byte(line[6:]), &c) == nil && c.Usage != nil {
						tokens.Add(int64(c.Usage.CompletionTokens))
					}
				}
				ok.Add(1)
				mu.Lock()
				latencies = append(latencies, time.Since(start))
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	close(stopSampling)
	elapsed := dur + time.Since(end)
	var heapEnd runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heapEnd)
	if len(failures) > 0 {
		t.Fatalf("%d failures besides 429s, first: %s", len(failures), failures[0])
	}
	if ok.Load() == 0 {
		t.Fatal("no request succeeded")
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	p := func(q float64) time.Duration { return latencies[int(q*float64(len(latencies)-1))] }
	t.Logf("%v, %d clients: %d requests ok, %d answered 429; latency p50 %v p99 %v; %.0f completion tokens/s; heap %d MiB at start, %d MiB after GC at the end, peak %d MiB",
		elapsed.Round(time.Second), clients, ok.Load(), busy.Load(), p(0.5).Round(time.Millisecond), p(0.99).Round(time.Millisecond),
		float64(tokens.Load())/elapsed.Seconds(), heapStart.HeapAlloc>>20, heapEnd.HeapAlloc>>20, peak.Load()>>20)
	if heapEnd.HeapAlloc > heapStart.HeapAlloc+64<<20 {
		t.Errorf("heap grew from %d to %d MiB", heapStart.HeapAlloc>>20, heapEnd.HeapAlloc>>20)
	}
	if f.srv.metrics.active.value() != 0 && len(f.srv.queue) != 0 {
		t.Errorf("sequences left after the clients finished")
	}
}

// FuzzRequest posts arbitrary bodies to both endpoints: the server answers
// every one without a 5xx and without panicking.
func FuzzRequest(f *testing.F) {
	f.Add([]byte(`{"model": "hone", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}`), false)
	f.Add([]byte(`{"model": "hone", "prompt": "hi", "max_tokens": 2, "stop": ["a"]}`), true)
	f.Add([]byte(`{"model": "hone:ad", "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}], "response_format": {"type": "json_object"}, "max_tokens": 3}`), false)
	f.Add([]byte(`{"messages": null}`), false)
	fx := newFixture(f, Config{DefaultMaxTokens: 4})
	h := fx.srv.Handler()
	f.Fuzz(func(t *testing.T, body []byte, completion bool) {
		path := "/v1/chat/completions"
		if completion {
			path = "/v1/completions"
		}
		var probe map[string]any
		if json.Unmarshal(body, &probe) == nil {
			if mt, ok := probe["max_tokens"].(float64); ok && mt > 8 {
				return // keep each input fast
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, bytes.NewReader(body)))
		if rec.Code >= 500 {
			t.Fatalf("%s %q: status %d: %s", path, body, rec.Code, rec.Body.String())
		}
	})
}

// chatText posts a greedy chat request and returns the answer's text, or
// fails the test.
func chatText(t *testing.T, url, messages string) string {
	t.Helper()
	body := `{"model": "hone", "max_tokens": 12, "temperature": 0, "messages": ` + messages + `}`
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var res api.ChatCompletion
	if resp.StatusCode != 200 || json.Unmarshal(data, &res) != nil || len(res.Choices) != 1 {
		t.Fatalf("messages %s: status %d: %s", messages, resp.StatusCode, data)
	}
	return res.Choices[0].Message.Content
}

// TestContentParts: list-valued content is read as OpenAI reads it, the
// text parts concatenated in order, so it answers as the same text given
// as a string; other part types are refused naming the part; an assistant
// message with null content is accepted.
func TestContentParts(t *testing.T) {
	f := newFixture(t, Config{})
	asString := chatText(t, f.ts.URL, `[{"role": "user", "content": "The cat sat on the mat"}]`)
	asParts := chatText(t, f.ts.URL, `[{"role": "user", "content": [{"type": "text", "text": "The cat sat"}, {"type": "text", "text": " on the mat"}]}]`)
	if asParts != asString {
		t.Errorf("text parts answered %q, the same text as a string %q", asParts, asString)
	}
	want := f.direct(t, f.base, []chat.Message{{Role: "user", Content: "The cat sat on the mat"}}, 12)
	if asParts != want {
		t.Errorf("text parts answered %q, want %q (generate.Generate on the joined text)", asParts, want)
	}
	chatText(t, f.ts.URL, `[{"role": "user", "content": "hi"}, {"role": "assistant", "content": null}, {"role": "user", "content": "again"}]`)
	for _, typ := range []string{"image_url", "input_audio", "file"} {
		body := `{"model": "hone", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "what is this?"}, {"type": "` + typ + `", "` + typ + `": {}}]}]}`
		status, e := post(t, f.ts.URL+"/v1/chat/completions", body)
		const param = "messages[1].content[1].type"
		if status != 400 || e.Error.Param == nil || *e.Error.Param != param || !strings.Contains(e.Error.Message, param) {
			t.Errorf("a %s part: status %d, error %+v; want 400 naming %s", typ, status, e.Error, param)
		}
	}
}

// TestCompletionDefaultMaxTokens: /v1/completions without max_tokens
// generates up to the server's DefaultMaxTokens (hone serve --max-tokens),
// not OpenAI's 16.
func TestCompletionDefaultMaxTokens(t *testing.T) {
	f := newFixture(t, Config{DefaultMaxTokens: 23})
	f.srv.stopIDs = nil // nothing ends it but the budget
	resp, err := http.Post(f.ts.URL+"/v1/completions", "application/json", strings.NewReader(`{"model": "hone", "prompt": "the cat", "temperature": 0}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var res api.Completion
	if resp.StatusCode != 200 || json.Unmarshal(data, &res) != nil || res.Usage == nil {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	if res.Usage.CompletionTokens != 23 || *res.Choices[0].FinishReason != "length" {
		t.Errorf("completion without max_tokens: %d tokens, finish %s; want 23 (DefaultMaxTokens), length", res.Usage.CompletionTokens, *res.Choices[0].FinishReason)
	}
}

// TestMethodNotAllowed: a known route with the wrong method is a 405 with
// an Allow header and an OpenAI error body; an unknown route stays 404.
func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t, Config{APIKeys: []string{"k"}})
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/v1/chat/completions", 405, "POST"},
		{"PUT", "/v1/completions", 405, "POST"},
		{"POST", "/v1/models", 405, "GET, HEAD"},
		{"DELETE", "/v1/models/hone", 405, "GET, HEAD"},
		{"POST", "/healthz", 405, "GET, HEAD"},
		{"POST", "/metrics", 405, "GET, HEAD"},
		{"GET", "/v1/embeddings", 404, ""},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, f.ts.URL+tc.path, strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e api.ErrorResponse
		json.Unmarshal(data, &e)
		if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow || e.Error.Message == "" || e.Error.Type == "" {
			t.Errorf("%s %s: status %d, Allow %q, body %s; want %d, Allow %q, an OpenAI error body",
				tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), data, tc.status, tc.allow)
		}
	}
}

// TestStreamErrorEndsWithDone: an error after a stream has started is sent
// as an error event, and the stream still ends with data: [DONE].
func TestStreamErrorEndsWithDone(t *testing.T) {
	defer func(n int) { fixturePositions = n }(fixturePositions)
	fixturePositions = 1 << 16
	f := newFixture(t, Config{})
	f.srv.stopIDs = nil
	body := `{"model": "hone", "prompt": "the cat", "max_tokens": 60000, "stream": true, "temperature": 1, "seed": 1}`
	resp, err := http.Post(f.ts.URL+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	f.srv.Close() // the scheduler stops: the request in flight fails
	rest, _ := io.ReadAll(br)
	var events []string
	for _, l := range strings.Split(string(rest), "\n") {
		if d, ok := strings.CutPrefix(l, "data: "); ok {
			events = append(events, d)
		}
	}
	n := len(events)
	if n < 2 || events[n-1] != "[DONE]" || !strings.HasPrefix(events[n-2], `{"error":`) {
		t.Fatalf("the stream ended with %q; want an error event, then [DONE]", events[max(0, n-2):])
	}
	var e api.ErrorResponse
	if err := json.Unmarshal([]byte(events[n-2]), &e); err != nil || e.Error.Message == "" || e.Error.Type != "server_error" {
		t.Errorf("error event %s: %v", events[n-2], err)
	}
}
