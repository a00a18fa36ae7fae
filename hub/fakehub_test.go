package hub

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeFile is one file of a fake repository.
type fakeFile struct {
	content []byte
	lfs     bool
	// served, when not nil, is what the server sends instead of content
	// (a corrupted file: the metadata still describes content).
	served []byte
}

// fakeRepo is a repository of the fake Hub at one commit.
type fakeRepo struct {
	commit string
	refs   map[string]string // branch or tag -> commit
	files  map[string]*fakeFile
	gated  bool
}

// fakeHub serves the Hub's model-info and resolve endpoints in their real
// formats, with LFS files redirected to a CDN path that honours Range, and
// hooks to cut a download short, fail requests and record what was asked.
type fakeHub struct {
	t     *testing.T
	srv   *httptest.Server
	cdn   *httptest.Server // another host, as the Hub's CDN is
	mu    sync.Mutex
	repos map[string]*fakeRepo
	token string // the token that opens gated repos
	// noBlobs makes the info endpoint ignore ?blobs=true (no blobId/lfs).
	noBlobs bool
	// cutAfter, when > 0, makes the next cutCount downloads of a file end
	// after that many bytes with the connection closed.
	cutAfter int
	cutCount int
	// fail503 makes the next fail503 requests answer 503.
	fail503 int
	// requests records "METHOD path range" of each request.
	requests []string
	// cdnAuth records the Authorization headers the CDN saw.
	cdnAuth []string
}

func gitSHA1(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func newFakeHub(t *testing.T) *fakeHub {
	h := &fakeHub{t: t, repos: map[string]*fakeRepo{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	h.cdn = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	t.Cleanup(h.cdn.Close)
	return h
}

func (h *fakeHub) add(id string, r *fakeRepo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.refs == nil {
		r.refs = map[string]string{"main": r.commit}
	}
	h.repos[id] = r
}

func (h *fakeHub) countPrefix(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.requests {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func (h *fakeHub) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.requests = append(h.requests, r.Method+" "+r.URL.Path+" "+r.Header.Get("Range"))
	if h.fail503 > 0 {
		h.fail503--
		h.mu.Unlock()
		w.Header().Set("Retry-After", "0")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	h.mu.Unlock()
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/api/models/"):
		h.serveInfo(w, r, strings.TrimPrefix(p, "/api/models/"))
	case strings.HasPrefix(p, "/cdn/"):
		h.serveCDN(w, r, strings.TrimPrefix(p, "/cdn/"))
	default:
		h.serveResolve(w, r, strings.TrimPrefix(p, "/"))
	}
}

// lookup finds a repository and the commit a revision names, writing the
// Hub's error responses when it cannot.
func (h *fakeHub) lookup(w http.ResponseWriter, r *http.Request, id, rev string) (*fakeRepo, bool) {
	h.mu.Lock()
	repo := h.repos[id]
	h.mu.Unlock()
	if repo == nil {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.Header().Set("X-Error-Message", "Repository not found")
		http.Error(w, `{"error":"Repository not found"}`, http.StatusNotFound)
		return nil, false
	}
	if repo.gated {
		auth := r.Header.Get("Authorization")
		if auth == "" {
			w.Header().Set("X-Error-Code", "GatedRepo")
			w.Header().Set("X-Error-Message", "Access to model "+id+" is restricted. You must have access to it and be authenticated to access it. Please log in.")
			http.Error(w, `{"error":"gated"}`, http.StatusUnauthorized)
			return nil, false
		}
		if auth != "Bearer "+h.token {
			w.Header().Set("X-Error-Code", "GatedRepo")
			http.Error(w, `{"error":"Access to model is restricted"}`, http.StatusForbidden)
			return nil, false
		}
	}
	if rev != repo.commit && repo.refs[rev] == "" {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		http.Error(w, `{"error":"Invalid rev id: `+rev+`"}`, http.StatusNotFound)
		return nil, false
	}
	return repo, true
}

func (h *fakeHub) serveInfo(w http.ResponseWriter, r *http.Request, rest string) {
	id, rev, ok := strings.Cut(rest, "/revision/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	repo, ok := h.lookup(w, r, id, rev)
	if !ok {
		return
	}
	type lfs struct {
		SHA256      string `json:"sha256"`
		Size        int    `json:"size"`
		PointerSize int    `json:"pointerSize"`
	}
	type sibling struct {
		RFilename string `json:"rfilename"`
		BlobID    string `json:"blobId,omitempty"`
		Size      *int   `json:"size,omitempty"`
		LFS       *lfs   `json:"lfs,omitempty"`
	}
	blobs := r.URL.Query().Get("blobs") != "" && !h.noBlobs
	var sibs []sibling
	for name, f := range repo.files {
		s := sibling{RFilename: name}
		if blobs {
			n := len(f.content)
			s.Size = &n
			if f.lfs {
				pointer := fmt.Sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", sha256Hex(f.content), n)
				s.BlobID = gitSHA1([]byte(pointer))
				s.LFS = &lfs{SHA256: sha256Hex(f.content), Size: n, PointerSize: len(pointer)}
			} else {
				s.BlobID = gitSHA1(f.content)
			}
		}
		sibs = append(sibs, s)
	}
	body := map[string]any{
		"_id": "0123", "id": id, "modelId": id, "sha": repo.commit, "private": false,
		"gated": repo.gated, "disabled": false, "tags": []string{"safetensors", "llama"},
		"library_name": "transformers", "lastModified": "2024-09-18T15:03:14.000Z",
		"siblings": sibs,
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

func (h *fakeHub) serveResolve(w http.ResponseWriter, r *http.Request, rest string) {
	// {org}/{name}/resolve/{rev}/{file...}
	before, after, ok := strings.Cut(rest, "/resolve/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	rev, name, ok := strings.Cut(after, "/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	repo, ok := h.lookup(w, r, before, rev)
	if !ok {
		return
	}
	f := repo.files[name]
	if f == nil {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		http.Error(w, "Entry not found", http.StatusNotFound)
		return
	}
	commit := repo.commit
	w.Header().Set("X-Repo-Commit", commit)
	if f.lfs {
		sum := sha256Hex(f.content)
		w.Header().Set("X-Linked-Etag", `"`+sum+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(f.content)))
		w.Header().Set("ETag", `"`+gitSHA1([]byte("pointer"))+`"`)
		w.Header().Set("Location", h.cdn.URL+"/cdn/"+before+"/"+name+"?X-Amz-Signature=abc")
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+gitSHA1(f.content)+`"`)
	h.send(w, r, f)
}

func (h *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request, rest string) {
	h.mu.Lock()
	h.cdnAuth = append(h.cdnAuth, r.Header.Get("Authorization"))
	h.mu.Unlock()
	for id, repo := range h.repos {
		if name, ok := strings.CutPrefix(rest, id+"/"); ok && repo.files[name] != nil {
			w.Header().Set("ETag", `"cdn-`+sha256Hex(repo.files[name].content)[:8]+`"`)
			h.send(w, r, repo.files[name])
			return
		}
	}
	http.NotFound(w, r)
}

// send serves a file with Range support, cut short when a cut is armed.
func (h *fakeHub) send(w http.ResponseWriter, r *http.Request, f *fakeFile) {
	data := f.content
	if f.served != nil {
		data = f.served
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		return
	}
	h.mu.Lock()
	cut := 0
	if h.cutCount > 0 {
		h.cutCount--
		cut = h.cutAfter
	}
	h.mu.Unlock()
	if cut > 0 {
		start := 0
		if rg := r.Header.Get("Range"); rg != "" {
			fmt.Sscanf(rg, "bytes=%d-", &start)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(data)-1, len(data)))
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)-start))
		if start > 0 {
			w.WriteHeader(http.StatusPartialContent)
		}
		w.Write(data[start:min(start+cut, len(data))])
		// Returning with fewer bytes than Content-Length makes net/http
		// close the connection: the client sees an unexpected EOF.
		return
	}
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(data)))
}
