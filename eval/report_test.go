package eval

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func sampleReport() *Report {
	r := &Report{
		Title: "hone evaluation", Model: "tiny", Adapter: "runs/x/adapter", Data: "test.jsonl",
		Created: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), Examples: 20,
		Base:  Side{Loss: 2.5, PPL: PPL(2.5), GeneralPPL: 10, Metrics: map[string]float64{"json_valid": 0.05, "schema_valid": 0, "field_accuracy": 0.1, "exact_match": 0, "rouge_l": 0.2}},
		Tuned: Side{Loss: 0.4, PPL: PPL(0.4), GeneralPPL: 14, Metrics: map[string]float64{"json_valid": 0.97, "schema_valid": 0.95, "field_accuracy": 0.9, "exact_match": 0.6, "rouge_l": 0.9}},
		Curves: &Curves{
			Train:    []Point{{1, 3}, {2, 2.2}, {3, 1.5}, {4, 1.1}, {5, 0.9}, {6, 0.7}, {7, 0.6}, {8, 0.5}},
			Eval:     []Point{{2, 2.0}, {4, 1.2}, {5, 1.3}, {6, 1.4}, {8, 1.5}},
			BestStep: 4,
		},
		Samples: []Sample{{Prompt: "Tom went to <b>the park</b>", Reference: `{"name":"Tom"}`, Base: "Tom went", Tuned: `{"name":"Tom"}`}},
	}
	r.Judge(DefaultThresholds)
	return r
}

func TestJudge(t *testing.T) {
	r := sampleReport()
	codes := map[string]string{}
	for _, v := range r.Verdicts {
		codes[v.Code] = v.Level
	}
	want := map[string]string{"improved": "ok", "metric_improved": "ok", "forgetting": "warn", "overfitting": "warn"}
	for code, level := range want {
		if codes[code] != level {
			t.Errorf("verdict %s = %q, want %q (all: %+v)", code, codes[code], level, r.Verdicts)
		}
	}
	if math.Abs(r.GeneralChange-0.4) > 1e-12 {
		t.Errorf("GeneralChange = %v, want 0.4", r.GeneralChange)
	}
	r.Tuned.GeneralPPL = 30
	r.Judge(DefaultThresholds)
	if !r.Failed() {
		t.Error("general perplexity tripled, but no verdict failed")
	}
}

func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	r := sampleReport()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	var back Report
	data, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if err := json.Unmarshal(data, &back); err != nil || back.Tuned.Metrics["json_valid"] != 0.97 {
		t.Fatalf("report.json does not round-trip: %v", err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if !bytes.Contains(md, []byte("| json_valid | 5.0% | 97.0% |")) {
		t.Errorf("report.md lacks the json_valid row:\n%s", md)
	}
	f, err := os.Open(filepath.Join(dir, "loss.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() < 300 {
		t.Fatalf("loss.png is not a usable PNG: %v", err)
	}
	page, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, bad := range []string{"http://", "https://", "<script", "&lt;b&gt;the park"} {
		if bad == "&lt;b&gt;the park" {
			if !bytes.Contains(page, []byte(bad)) {
				t.Error("report.html does not escape sample text")
			}
			continue
		}
		if bytes.Contains(bytes.ReplaceAll(page, []byte("http://www.w3.org/"), nil), []byte(bad)) {
			t.Errorf("report.html contains %q", bad)
		}
	}
}

// TestReportInChromium opens report.html in a real headless Chromium through
// a recording proxy: the page must render with both plots, and the browser
// must request nothing but the page itself.
func TestReportInChromium(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("no Chromium on PATH (.ci/run installs Debian's chromium); skipping the browser check")
	}
	dir := t.TempDir()
	if err := sampleReport().Write(dir); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	url := "http://report.test/report.html"
	dom, shot, requests := loadInChromium(t, browser, dir, page)
	d := dom
	for _, id := range []string{`id="loss-plot"`, `id="metrics-plot"`, `id="verdicts"`, `id="comparison"`} {
		if !strings.Contains(d, id) {
			t.Errorf("rendered page lacks %s", id)
		}
	}
	if strings.Count(d, "<svg") < 2 {
		t.Errorf("rendered page has %d SVG plots, want 2", strings.Count(d, "<svg"))
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	nonWhite := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				nonWhite++
			}
		}
	}
	if nonWhite < 500 {
		t.Errorf("screenshot is nearly blank (%d non-white samples)", nonWhite)
	}
	for _, r := range requests {
		if browserService(r) {
			continue
		}
		if r != "GET "+url {
			t.Errorf("the browser made a request besides the page: %s", r)
		}
	}
	if len(requests) == 0 {
		t.Error("the proxy saw no request at all; the check proves nothing")
	}
	// the detector itself: a page that loads a remote image is caught
	_, _, bad := loadInChromium(t, browser, t.TempDir(), []byte(`<html><body><img src="http://cdn.example/x.png"></body></html>`))
	caught := false
	for _, r := range bad {
		caught = caught || strings.Contains(r, "cdn.example")
	}
	if !caught {
		t.Errorf("a page loading http://cdn.example/x.png was not detected (requests: %v)", bad)
	}
}

// loadInChromium serves page at http://report.test/report.html through a
// recording proxy that every request of a headless Chromium goes through,
// and returns the rendered DOM, a screenshot path and the requests seen.
func loadInChromium(t *testing.T, browser, dir string, page []byte) (string, string, []string) {
	t.Helper()
	var mu sync.Mutex
	var requests []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.Method+" "+r.URL.String())
		mu.Unlock()
		if r.URL.Path == "/report.html" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(page)
			return
		}
		http.Error(w, "blocked by test", http.StatusForbidden)
	}))
	defer proxy.Close()
	host := proxy.Listener.Addr().(*net.TCPAddr)
	shot := filepath.Join(dir, "shot.png")
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--no-pings", "--disable-domain-reliability",
		"--disable-client-side-phishing-detection", "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter,AutofillServerCommunication",
		"--user-data-dir=" + filepath.Join(dir, "profile"),
		"--proxy-server=http://" + host.String(), "--proxy-bypass-list=<-loopback>",
		"--window-size=1200,2400", "--virtual-time-budget=3000"}
	url := "http://report.test/report.html"
	dom, err := exec.Command(browser, append(args, "--dump-dom", url)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	if out, err := exec.Command(browser, append(args, "--screenshot="+shot, url)...).CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	return string(dom), shot, append([]string(nil), requests...)
}

// browserService reports whether a request goes to one of Chromium's own
// background services (component updates, network time, sign-in), which
// the browser contacts whatever page it shows. They are matched by exact
// host, so a page fetching anything (fonts.googleapis.com, a CDN) is still
// caught; the page's Content-Security-Policy forbids such loads anyway.
func browserService(req string) bool {
	for _, h := range []string{"update.googleapis.com", "clients2.google.com", "accounts.google.com",
		"optimizationguide-pa.googleapis.com", "content-autofill.googleapis.com", "safebrowsingohttpgateway.googleapis.com"} {
		if strings.Contains(req, "//"+h+"/") || strings.Contains(req, "//"+h+":") {
			return true
		}
	}
	return false
}
