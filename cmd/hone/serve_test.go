package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"hone/model"
	"hone/tensor"
	"hone/tokenizer"
)

// tinyServeModel writes a random tiny model with a trained tokenizer and no
// chat template.
func tinyServeModel(t *testing.T) string {
	dir := t.TempDir()
	texts := []string{"the cat sat on the mat", "hello world", `{"a": 1}`}
	tok, err := tokenizer.Train(slices.Values(texts), tokenizer.TrainOptions{VocabSize: 280})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Save(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	eos, _ := tok.TokenID(tokenizer.EndOfText)
	c := &model.Config{
		ModelType: "llama", Hidden: 16, Intermediate: 32, Layers: 1, Heads: 2, KVHeads: 1, HeadDim: 8,
		Vocab: tok.VocabSize(), MaxPositions: 256, RMSEps: 1e-5, BOS: 0, EOS: []int{int(eos)}, Pad: -1,
		Rope: model.Rope{Theta: 10000, Type: "default", Factor: 1},
	}
	if err := model.Save(dir, c, model.Init(c, 0.3, 1), tensor.F32); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestServe(t *testing.T) {
	dir := tinyServeModel(t)
	if _, stderr, code := hone(t, "", "serve", "--model", dir, "--adapter", "noequals"); code != 2 || !strings.Contains(stderr, "NAME=DIR") {
		t.Errorf("a bad --adapter exited %d (%s), want 2 naming NAME=DIR", code, stderr)
	}
	cmd, lines, url, log := startServe(t, []string{"HONE_API_KEY=k1,k2"}, "--model", dir, "--addr", "127.0.0.1:0", "--name", "tiny")
	if !strings.Contains(log, "ChatML") {
		t.Errorf("no log line about the ChatML fallback:\n%s", log)
	}
	resp, err := http.Get(url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	body := `{"model": "tiny", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 5}`
	for _, tc := range []struct {
		key  string
		want int
	}{{"", 401}, {"nope", 401}, {"k2", 200}} {
		req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(body))
		if tc.key != "" {
			req.Header.Set("Authorization", "Bearer "+tc.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("key %q: status %d (%s), want %d", tc.key, resp.StatusCode, data, tc.want)
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() {
		for l := range lines {
			log += l + "\n"
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("hone serve exited with %v after SIGINT:\n%s", err, log)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("hone serve did not stop after SIGINT")
	}
	if !strings.Contains(log, "stopped") {
		t.Errorf("no shutdown log line:\n%s", log)
	}
}

// startServe runs hone serve with args (and env added to the environment)
// and waits until it logs the URL it listens on: it returns the process
// (killed at the end of the test), its remaining log lines, the URL and
// the log so far.
func startServe(t *testing.T, env []string, args ...string) (*exec.Cmd, <-chan string, string, string) {
	t.Helper()
	cmd := exec.Command(honeBin, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var url, log string
	re := regexp.MustCompile(`url=(http://\S+)`)
	timeout := time.After(30 * time.Second)
	for url == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("hone serve exited early:\n%s", log)
			}
			log += l + "\n"
			if m := re.FindStringSubmatch(l); m != nil {
				url = m[1]
			}
		case <-timeout:
			t.Fatalf("hone serve did not start:\n%s", log)
		}
	}
	return cmd, lines, url, log
}
