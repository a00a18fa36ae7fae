package hub

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	commitA = "4d7b9f3e1a2c5b6d7e8f90a1b2c3d4e5f6a7b8c9"
	commitB = "0123456789abcdef0123456789abcdef01234567"
)

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// tinyRepo is a model repository with git files, an LFS weight file and
// files hone does not pull.
func tinyRepo() *fakeRepo {
	return &fakeRepo{commit: commitA, files: map[string]*fakeFile{
		"config.json":           {content: []byte(`{"model_type":"llama","hidden_size":64}`)},
		"tokenizer.json":        {content: []byte(`{"version":"1.0","model":{"type":"BPE"}}`)},
		"tokenizer_config.json": {content: []byte(`{"bos_token":"<s>"}`)},
		"model.safetensors":     {content: randBytes(1, 300_000), lfs: true},
		"pytorch_model.bin":     {content: randBytes(2, 1000), lfs: true},
		"original/params.json":  {content: []byte(`{"dim":64}`)},
		"README.md":             {content: []byte("# tiny\n")},
	}}
}

func testOpts(h *fakeHub, cache string) Options {
	return Options{Endpoint: h.srv.URL, CacheDir: cache, Backoff: time.Millisecond}
}

// eventLog records progress events.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) OnEvent(e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) count(k EventKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func TestPullCacheLayout(t *testing.T) {
	h := newFakeHub(t)
	repo := tinyRepo()
	h.add("org/tiny", repo)
	cache := t.TempDir()
	log := &eventLog{}
	o := testOpts(h, cache)
	o.Progress = log
	snap, err := Download(context.Background(), Ref{Repo: "org/tiny", Revision: "main"}, o)
	if err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(cache, "models--org--tiny")
	if want := filepath.Join(repoDir, "snapshots", commitA); snap.Dir != want {
		t.Errorf("Download().Dir = %s, want %s", snap.Dir, want)
	}
	wantFiles := []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
	if strings.Join(snap.Files, ",") != strings.Join(wantFiles, ",") {
		t.Errorf("Download().Files = %v, want %v", snap.Files, wantFiles)
	}
	for _, name := range wantFiles {
		f := repo.files[name]
		etag := gitSHA1(f.content)
		if f.lfs {
			etag = sha256Hex(f.content)
		}
		p := filepath.Join(snap.Dir, name)
		target, err := os.Readlink(p)
		if err != nil {
			t.Errorf("%s: not a symlink: %v", name, err)
			continue
		}
		if want := filepath.Join("..", "..", "blobs", etag); target != want {
			t.Errorf("Readlink(%s) = %s, want %s", name, target, want)
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, f.content) {
			t.Errorf("%s: content differs from the Hub's (err %v)", name, err)
		}
	}
	for _, name := range []string{"pytorch_model.bin", "original/params.json", "README.md"} {
		if _, err := os.Lstat(filepath.Join(snap.Dir, name)); err == nil {
			t.Errorf("%s was pulled; DefaultInclude leaves it out", name)
		}
	}
	ref, err := os.ReadFile(filepath.Join(repoDir, "refs", "main"))
	if err != nil || string(ref) != commitA {
		t.Errorf("refs/main = %q (%v), want %q", ref, err, commitA)
	}
	if snap.Downloaded != 4 || snap.Cached != 0 {
		t.Errorf("first pull: Downloaded, Cached = %d, %d, want 4, 0", snap.Downloaded, snap.Cached)
	}
	if n := log.count(FileDone); n != 4 {
		t.Errorf("FileDone events = %d, want 4", n)
	}
	for _, a := range h.cdnAuth {
		if a != "" {
			t.Errorf("the CDN received Authorization %q; the token must stay with the Hub", a)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(repoDir, "blobs"))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".") {
			t.Errorf("blobs/%s left behind", e.Name())
		}
	}

	// A second pull asks for the metadata only.
	before := h.countPrefix("GET /org/tiny/resolve/")
	snap2, err := Download(context.Background(), Ref{Repo: "org/tiny"}, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.countPrefix("GET /org/tiny/resolve/") - before; got != 0 || snap2.Downloaded != 0 || snap2.Cached != 4 {
		t.Errorf("second pull: %d file requests, Downloaded %d, Cached %d; want 0, 0, 4", got, snap2.Downloaded, snap2.Cached)
	}
}

func TestPullShardedAndRevision(t *testing.T) {
	h := newFakeHub(t)
	shard1, shard2 := randBytes(3, 70_000), randBytes(4, 50_000)
	h.add("org/sharded", &fakeRepo{commit: commitB, refs: map[string]string{"main": commitB, "v1.0": commitB}, files: map[string]*fakeFile{
		"config.json":                           {content: []byte(`{}`)},
		"model.safetensors.index.json":          {content: []byte(`{"weight_map":{}}`)},
		"model-00001-of-00002.safetensors":      {content: shard1, lfs: true},
		"model-00002-of-00002.safetensors":      {content: shard2, lfs: true},
		"same-as-shard1-under-another-name.bin": {content: shard1, lfs: true},
	}})
	cache := t.TempDir()
	ref, err := ParseRef("org/sharded@v1.0")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := Download(context.Background(), ref, testOpts(h, cache))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"model-00001-of-00002.safetensors": shard1, "model-00002-of-00002.safetensors": shard2} {
		got, err := os.ReadFile(filepath.Join(snap.Dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: content differs (err %v)", name, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(cache, "models--org--sharded", "refs", "v1.0")); err != nil || string(b) != commitB {
		t.Errorf("refs/v1.0 = %q (%v), want %q", b, err, commitB)
	}
	// Pulling by commit hash writes no ref and reuses every blob.
	snap2, err := Download(context.Background(), Ref{Repo: "org/sharded", Revision: commitB}, testOpts(h, cache))
	if err != nil {
		t.Fatal(err)
	}
	if snap2.Dir != snap.Dir || snap2.Downloaded != 0 {
		t.Errorf("pull by commit: Dir %s, Downloaded %d; want %s, 0", snap2.Dir, snap2.Downloaded, snap.Dir)
	}
	if _, err := os.Stat(filepath.Join(cache, "models--org--sharded", "refs", commitB)); err == nil {
		t.Errorf("pulling by commit wrote refs/%s", commitB)
	}
}

// TestResumeIdentical interrupts the weight download, then pulls again: the
// second pull asks only for the missing bytes, and the result is identical
// to an uninterrupted download.
func TestResumeIdentical(t *testing.T) {
	h := newFakeHub(t)
	h.add("org/tiny", tinyRepo())
	const cut = 123_457
	ctx := context.Background()

	whole := t.TempDir()
	if _, err := Download(ctx, Ref{Repo: "org/tiny"}, testOpts(h, whole)); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(whole, "models--org--tiny", "snapshots", commitA, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}

	cache := t.TempDir()
	o := testOpts(h, cache)
	o.Retries = -1
	o.Include = []string{"model.safetensors"}
	h.cutAfter, h.cutCount = cut, 1
	_, err = Download(ctx, Ref{Repo: "org/tiny"}, o)
	if err == nil {
		t.Fatal("Download with the connection cut and no retries succeeded")
	}
	blob := filepath.Join(cache, "models--org--tiny", "blobs", sha256Hex(want))
	st, serr := os.Stat(blob + ".incomplete")
	if serr != nil || st.Size() != cut {
		t.Fatalf("after the cut: %s.incomplete size %v (%v), want %d", filepath.Base(blob), st, serr, cut)
	}
	if _, err := os.Stat(blob); err == nil {
		t.Fatal("an incomplete blob was renamed into place")
	}
	if _, err := os.Lstat(filepath.Join(cache, "models--org--tiny", "snapshots", commitA, "model.safetensors")); err == nil {
		t.Fatal("the snapshot links an incomplete download")
	}

	n := len(h.requests)
	log := &eventLog{}
	o.Progress = log
	if _, err := Download(ctx, Ref{Repo: "org/tiny"}, o); err != nil {
		t.Fatal(err)
	}
	var ranged []string
	for _, r := range h.requests[n:] {
		if strings.HasPrefix(r, "GET /cdn/") {
			ranged = append(ranged, r)
		}
	}
	if len(ranged) != 1 || !strings.HasSuffix(ranged[0], "bytes=123457-") {
		t.Errorf("resume requests = %q, want one GET with Range bytes=%d-", ranged, cut)
	}
	if log.events[0].Kind != FileStart || log.events[0].Done != cut {
		t.Errorf("first event = %+v, want FileStart with Done %d", log.events[0], cut)
	}
	got, err := os.ReadFile(filepath.Join(cache, "models--org--tiny", "snapshots", commitA, "model.safetensors"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("resumed download differs from the uninterrupted one (%d vs %d bytes, err %v)", len(got), len(want), err)
	}
}

// TestRetriesResumeWithinOnePull cuts the connection twice; retries resume
// where each attempt stopped and one Download call succeeds.
func TestRetriesResumeWithinOnePull(t *testing.T) {
	h := newFakeHub(t)
	repo := tinyRepo()
	h.add("org/tiny", repo)
	h.cutAfter, h.cutCount = 100_000, 2
	h.fail503 = 1
	log := &eventLog{}
	o := testOpts(h, t.TempDir())
	o.Include = []string{"model.safetensors"}
	o.Progress = log
	snap, err := Download(context.Background(), Ref{Repo: "org/tiny"}, o)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(snap.Dir, "model.safetensors"))
	if !bytes.Equal(got, repo.files["model.safetensors"].content) {
		t.Fatal("download with retries differs from the file")
	}
	if n := log.count(Retry); n != 3 {
		t.Errorf("Retry events = %d, want 3 (one 503, two cuts)", n)
	}
	if n := h.countPrefix("GET /cdn/org/tiny/model.safetensors bytes=200000-"); n != 1 {
		t.Errorf("requests resuming at byte 200000 = %d, want 1; requests: %q", n, h.requests)
	}
}

func TestGatedRepo(t *testing.T) {
	h := newFakeHub(t)
	r := tinyRepo()
	r.gated = true
	h.add("meta/gated", r)
	h.token = "hf_secret"
	cases := []struct {
		token string
		want  error
		text  string
	}{
		{"", ErrUnauthorized, "401"},
		{"hf_wrong", ErrUnauthorized, "403"},
		{"hf_secret", nil, ""},
	}
	for _, c := range cases {
		o := testOpts(h, t.TempDir())
		o.Token = c.token
		_, err := Download(context.Background(), Ref{Repo: "meta/gated"}, o)
		if !errors.Is(err, c.want) || (c.want != nil && (!strings.Contains(err.Error(), c.text) || !strings.Contains(err.Error(), "HF_TOKEN"))) {
			t.Errorf("Download(gated, token %q) = %v, want %v mentioning %s and HF_TOKEN", c.token, err, c.want, c.text)
		}
	}
	for _, a := range h.cdnAuth {
		if a != "" {
			t.Errorf("the CDN received Authorization %q", a)
		}
	}
}

func TestNotFound(t *testing.T) {
	h := newFakeHub(t)
	h.add("org/tiny", tinyRepo())
	for _, ref := range []Ref{{"org/missing", "main"}, {"org/tiny", "no-such-branch"}} {
		cache := t.TempDir()
		_, err := Download(context.Background(), ref, testOpts(h, cache))
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Download(%s) = %v, want ErrNotFound", ref, err)
		}
		if h.countPrefix("GET /api/models/"+ref.Repo) != 1 {
			t.Errorf("Download(%s): a 404 was retried", ref)
		}
	}
	o := testOpts(h, t.TempDir())
	o.Include = []string{"nothing-*.xyz"}
	if _, err := Download(context.Background(), Ref{Repo: "org/tiny"}, o); err == nil || !strings.Contains(err.Error(), "no file") {
		t.Errorf("Download with an include matching nothing = %v, want a 'no file' error", err)
	}
}

// TestChecksumMismatch serves corrupted bytes (same size, LFS and git
// files): the pull fails with ErrChecksum and leaves no blob, no partial
// file and no snapshot entry.
func TestChecksumMismatch(t *testing.T) {
	for _, name := range []string{"model.safetensors", "config.json"} {
		t.Run(name, func(t *testing.T) {
			h := newFakeHub(t)
			repo := tinyRepo()
			f := repo.files[name]
			f.served = bytes.Clone(f.content)
			f.served[len(f.served)/2] ^= 0x40
			h.add("org/tiny", repo)
			cache := t.TempDir()
			o := testOpts(h, cache)
			o.Include = []string{name}
			_, err := Download(context.Background(), Ref{Repo: "org/tiny"}, o)
			if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), name) {
				t.Fatalf("Download(corrupted %s) = %v, want ErrChecksum naming the file", name, err)
			}
			blobs, _ := os.ReadDir(filepath.Join(cache, "models--org--tiny", "blobs"))
			if len(blobs) != 0 {
				t.Errorf("blobs after a checksum mismatch: %v, want none", blobs)
			}
			if _, err := os.Lstat(filepath.Join(cache, "models--org--tiny", "snapshots", commitA, name)); err == nil {
				t.Error("the snapshot links a corrupted file")
			}
		})
	}
}

// TestStaleResumeRestarts leaves a partial file with wrong bytes: the
// resumed download fails its checksum, restarts from zero once and succeeds.
func TestStaleResumeRestarts(t *testing.T) {
	h := newFakeHub(t)
	repo := tinyRepo()
	h.add("org/tiny", repo)
	cache := t.TempDir()
	content := repo.files["model.safetensors"].content
	blobs := filepath.Join(cache, "models--org--tiny", "blobs")
	os.MkdirAll(blobs, 0o755)
	stale := bytes.Clone(content[:5000])
	stale[10] ^= 1
	os.WriteFile(filepath.Join(blobs, sha256Hex(content)+".incomplete"), stale, 0o644)
	o := testOpts(h, cache)
	o.Include = []string{"model.safetensors"}
	snap, err := Download(context.Background(), Ref{Repo: "org/tiny"}, o)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(snap.Dir, "model.safetensors")); !bytes.Equal(got, content) {
		t.Error("restarted download differs from the file")
	}
}

func TestOffline(t *testing.T) {
	h := newFakeHub(t)
	h.add("org/tiny", tinyRepo())
	cache := t.TempDir()
	off := testOpts(h, cache)
	off.Offline = true
	if _, err := Download(context.Background(), Ref{Repo: "org/tiny"}, off); !errors.Is(err, ErrOffline) {
		t.Errorf("offline Download before any pull = %v, want ErrOffline", err)
	}
	if len(h.requests) != 0 {
		t.Errorf("offline mode sent %d requests", len(h.requests))
	}
	online, err := Download(context.Background(), Ref{Repo: "org/tiny"}, testOpts(h, cache))
	if err != nil {
		t.Fatal(err)
	}
	n := len(h.requests)
	for _, rev := range []string{"main", commitA} {
		snap, err := Download(context.Background(), Ref{Repo: "org/tiny", Revision: rev}, off)
		if err != nil {
			t.Fatalf("offline Download(@%s) = %v", rev, err)
		}
		if snap.Dir != online.Dir || !snap.FromCache || strings.Join(snap.Files, ",") != strings.Join(online.Files, ",") {
			t.Errorf("offline Download(@%s) = %s %v, want %s %v", rev, snap.Dir, snap.Files, online.Dir, online.Files)
		}
	}
	if len(h.requests) != n {
		t.Errorf("offline mode sent %d requests", len(h.requests)-n)
	}
	// The environment variable turns offline mode on.
	t.Setenv("HF_HUB_OFFLINE", "1")
	if !FromEnv().Offline {
		t.Error("FromEnv().Offline = false with HF_HUB_OFFLINE=1")
	}
}

// TestUnreachableUsesCache: when the Hub cannot be reached, a cached
// snapshot of the revision is used, with a Note event.
func TestUnreachableUsesCache(t *testing.T) {
	h := newFakeHub(t)
	h.add("org/tiny", tinyRepo())
	cache := t.TempDir()
	want, err := Download(context.Background(), Ref{Repo: "org/tiny"}, testOpts(h, cache))
	if err != nil {
		t.Fatal(err)
	}
	o := testOpts(h, cache)
	h.srv.Close()
	log := &eventLog{}
	o.Progress = log
	o.Retries = 1
	got, err := Download(context.Background(), Ref{Repo: "org/tiny"}, o)
	if err != nil || got.Dir != want.Dir {
		t.Fatalf("Download with the Hub down = %v, %v; want the cached %s", got, err, want.Dir)
	}
	if log.count(Note) != 1 {
		t.Errorf("Note events = %d, want 1", log.count(Note))
	}
	if _, err := Download(context.Background(), Ref{Repo: "org/other"}, o); err == nil {
		t.Error("Download of an uncached repo with the Hub down succeeded")
	}
}

// TestReusesPythonCache builds a cache the way huggingface_hub leaves it
// and checks that hone downloads nothing.
func TestReusesPythonCache(t *testing.T) {
	h := newFakeHub(t)
	repo := tinyRepo()
	h.add("org/tiny", repo)
	cache := t.TempDir()
	repoDir := filepath.Join(cache, "models--org--tiny")
	for _, name := range []string{"config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"} {
		f := repo.files[name]
		etag := gitSHA1(f.content)
		if f.lfs {
			etag = sha256Hex(f.content)
		}
		os.MkdirAll(filepath.Join(repoDir, "blobs"), 0o755)
		os.MkdirAll(filepath.Join(repoDir, "snapshots", commitA), 0o755)
		os.WriteFile(filepath.Join(repoDir, "blobs", etag), f.content, 0o644)
		os.Symlink("../../blobs/"+etag, filepath.Join(repoDir, "snapshots", commitA, name))
	}
	os.MkdirAll(filepath.Join(repoDir, "refs"), 0o755)
	os.WriteFile(filepath.Join(repoDir, "refs", "main"), []byte(commitA), 0o644)
	snap, err := Download(context.Background(), Ref{Repo: "org/tiny"}, testOpts(h, cache))
	if err != nil {
		t.Fatal(err)
	}
	if snap.Downloaded != 0 || h.countPrefix("GET /org/") != 0 {
		t.Errorf("pull over a Python-made cache downloaded %d files (%d requests)", snap.Downloaded, h.countPrefix("GET /org/"))
	}
	// A blob present without its snapshot link (another revision shares it)
	// is linked, not downloaded.
	os.Remove(filepath.Join(repoDir, "snapshots", commitA, "model.safetensors"))
	snap, err = Download(context.Background(), Ref{Repo: "org/tiny"}, testOpts(h, cache))
	if err != nil || snap.Downloaded != 0 {
		t.Fatalf("pull with a missing link: %v, Downloaded %d; want 0", err, snap.Downloaded)
	}
	if _, err := os.Stat(filepath.Join(snap.Dir, "model.safetensors")); err != nil {
		t.Errorf("missing link not restored: %v", err)
	}
}

// TestHeadFallback: a mirror that ignores ?blobs=true gives no checksums;
// they come from a HEAD request's X-Linked-Etag / ETag instead.
func TestHeadFallback(t *testing.T) {
	h := newFakeHub(t)
	repo := tinyRepo()
	h.add("org/tiny", repo)
	h.noBlobs = true
	cache := t.TempDir()
	snap, err := Download(context.Background(), Ref{Repo: "org/tiny"}, testOpts(h, cache))
	if err != nil {
		t.Fatal(err)
	}
	if h.countPrefix("HEAD /org/tiny/resolve/") != 4 {
		t.Errorf("HEAD requests = %d, want 4", h.countPrefix("HEAD /org/tiny/resolve/"))
	}
	target, _ := os.Readlink(filepath.Join(snap.Dir, "model.safetensors"))
	if want := filepath.Join("..", "..", "blobs", sha256Hex(repo.files["model.safetensors"].content)); target != want {
		t.Errorf("Readlink(model.safetensors) = %s, want %s", target, want)
	}
}

func TestNestedFileLink(t *testing.T) {
	h := newFakeHub(t)
	h.add("org/nested", &fakeRepo{commit: commitA, files: map[string]*fakeFile{
		"sub/dir/weights.safetensors": {content: randBytes(5, 1000), lfs: true},
	}})
	o := testOpts(h, t.TempDir())
	o.Include = []string{"sub/dir/*"}
	snap, err := Download(context.Background(), Ref{Repo: "org/nested"}, o)
	if err != nil {
		t.Fatal(err)
	}
	target, err := os.Readlink(filepath.Join(snap.Dir, "sub", "dir", "weights.safetensors"))
	if err != nil || !strings.HasPrefix(target, filepath.Join("..", "..", "..", "..", "blobs")) {
		t.Errorf("nested link target = %q (%v), want ../../../../blobs/<sha256>", target, err)
	}
}

func TestResolve(t *testing.T) {
	h := newFakeHub(t)
	h.add("org/tiny", tinyRepo())
	cache := t.TempDir()
	local := t.TempDir()
	file := filepath.Join(local, "f")
	os.WriteFile(file, nil, 0o644)
	o := testOpts(h, cache)
	cases := []struct {
		in      string
		want    string
		wantErr string
	}{
		{local, local, ""},
		{"org/tiny", filepath.Join(cache, "models--org--tiny", "snapshots", commitA), ""},
		{"org/tiny@" + commitA, filepath.Join(cache, "models--org--tiny", "snapshots", commitA), ""},
		{"./no/such/dir", "", "no such model folder"},
		{filepath.Join(local, "missing"), "", "no such model folder"},
		{file, "", "not a folder"},
		{"org/bad--name", "", "neither a model folder nor a Hub id"},
		{"org/missing", "", "not found"},
	}
	for _, c := range cases {
		got, err := Resolve(context.Background(), c.in, o)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("Resolve(%q) = %q, %v; want error containing %q", c.in, got, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HF_HOME", home)
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_TOKEN_PATH", "")
	t.Setenv("HF_ENDPOINT", "http://mirror.example/")
	t.Setenv("HF_HUB_OFFLINE", "")
	os.WriteFile(filepath.Join(home, "token"), []byte("hf_from_file\n"), 0o600)
	o := FromEnv()
	if o.CacheDir != filepath.Join(home, "hub") || o.Token != "hf_from_file" || o.Endpoint != "http://mirror.example" || o.Offline {
		t.Errorf("FromEnv() = %+v, want cache %s/hub, token from the file, endpoint without slash, online", o, home)
	}
	t.Setenv("HF_HUB_CACHE", "/x/cache")
	t.Setenv("HF_TOKEN", "hf_env")
	t.Setenv("HF_HUB_OFFLINE", "true")
	o = FromEnv()
	if o.CacheDir != "/x/cache" || o.Token != "hf_env" || !o.Offline {
		t.Errorf("FromEnv() = %+v, want /x/cache, hf_env, offline", o)
	}
}
