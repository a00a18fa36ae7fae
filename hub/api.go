package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Errors a pull can end with; test them with errors.Is.
var (
	// ErrNotFound: the repository, revision or file does not exist (or is
	// private and no token was given).
	ErrNotFound = errors.New("not found on the Hub")
	// ErrUnauthorized: the repository is gated or private and the token is
	// missing, invalid or not granted access.
	ErrUnauthorized = errors.New("access denied by the Hub")
	// ErrChecksum: a downloaded file does not match the Hub's checksum.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrOffline: offline mode and the cache does not hold what was asked.
	ErrOffline = errors.New("not in the cache and offline mode is on (HF_HUB_OFFLINE)")
)

// RepoInfo is what the Hub says about one revision of a model repository
// (GET /api/models/{repo}/revision/{rev}?blobs=true).
type RepoInfo struct {
	// ID is the repository id.
	ID string
	// SHA is the commit the revision resolves to.
	SHA string
	// Files are the repository's files at that commit.
	Files []File
}

// File is one file of a repository.
type File struct {
	// Name is the path inside the repository ("rfilename").
	Name string
	// Size is the file's size in bytes; -1 when the Hub did not say.
	Size int64
	// BlobID is the git blob sha1 ("blobId").
	BlobID string
	// SHA256 is the LFS object's sha256, empty for files stored in git.
	SHA256 string
}

// ETag is the name of the file's blob in the cache: the sha256 of an LFS
// file, the git blob sha1 otherwise (what the Hub's ETag / X-Linked-Etag
// headers carry and huggingface_hub names blobs by).
func (f File) ETag() string {
	if f.SHA256 != "" {
		return f.SHA256
	}
	return f.BlobID
}

type wireInfo struct {
	ID       string `json:"id"`
	ModelID  string `json:"modelId"`
	SHA      string `json:"sha"`
	Siblings []struct {
		RFilename string `json:"rfilename"`
		BlobID    string `json:"blobId"`
		Size      *int64 `json:"size"`
		LFS       *struct {
			SHA256 string `json:"sha256"`
			Size   int64  `json:"size"`
		} `json:"lfs"`
	} `json:"siblings"`
}

// ParseRepoInfo reads the JSON of the Hub's model-info endpoint and checks
// every field hone relies on: a 40-hex commit, safe relative file names, hex
// checksums and non-negative sizes.
func ParseRepoInfo(data []byte) (*RepoInfo, error) {
	var w wireInfo
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("model info: not valid JSON: %w", err)
	}
	info := &RepoInfo{ID: w.ID, SHA: w.SHA}
	if info.ID == "" {
		info.ID = w.ModelID
	}
	if !IsCommit(info.SHA) {
		return nil, fmt.Errorf("model info: key \"sha\" = %q, want a 40-hex commit", info.SHA)
	}
	seen := map[string]bool{}
	for i, s := range w.Siblings {
		key := fmt.Sprintf("siblings[%d]", i)
		if err := validFileName(s.RFilename); err != nil {
			return nil, fmt.Errorf("model info: %s.rfilename: %w", key, err)
		}
		if seen[s.RFilename] {
			return nil, fmt.Errorf("model info: %s.rfilename %q listed twice", key, s.RFilename)
		}
		seen[s.RFilename] = true
		f := File{Name: s.RFilename, Size: -1, BlobID: strings.ToLower(s.BlobID)}
		if f.BlobID != "" && !isHex(f.BlobID, 40) {
			return nil, fmt.Errorf("model info: %s.blobId = %q, want 40 hex digits", key, s.BlobID)
		}
		if s.Size != nil {
			if *s.Size < 0 {
				return nil, fmt.Errorf("model info: %s.size = %d, want >= 0", key, *s.Size)
			}
			f.Size = *s.Size
		}
		if s.LFS != nil {
			f.SHA256 = strings.ToLower(s.LFS.SHA256)
			if !sha256Re.MatchString(f.SHA256) {
				return nil, fmt.Errorf("model info: %s.lfs.sha256 = %q, want 64 hex digits", key, s.LFS.SHA256)
			}
			if s.LFS.Size < 0 {
				return nil, fmt.Errorf("model info: %s.lfs.size = %d, want >= 0", key, s.LFS.Size)
			}
			f.Size = s.LFS.Size
		}
		info.Files = append(info.Files, f)
	}
	return info, nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// statusError turns a failed response into an error naming what was asked,
// the status and the Hub's X-Error-Code / X-Error-Message when present.
func statusError(what string, resp *http.Response) error {
	code := resp.Header.Get("X-Error-Code")
	msg := resp.Header.Get("X-Error-Message")
	if msg == "" {
		var body struct {
			Error string `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if json.Unmarshal(b, &body) == nil {
			msg = body.Error
		}
	}
	detail := resp.Status
	if code != "" {
		detail += " " + code
	}
	if msg != "" {
		detail += ": " + msg
	}
	switch {
	case code == "GatedRepo" || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%s: %w (%s); the repository is gated: accept its terms on the Hub and set HF_TOKEN to a token with access", what, ErrUnauthorized, detail)
	case code == "RepoNotFound" || code == "RevisionNotFound" || code == "EntryNotFound" || resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s: %w (%s); check the id and revision, and set HF_TOKEN if the repository is private", what, ErrNotFound, detail)
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%s: %w (%s); set HF_TOKEN to a token with access to the repository", what, ErrUnauthorized, detail)
	}
	return &httpError{what: what, status: resp.StatusCode, detail: detail, retryAfter: resp.Header.Get("Retry-After")}
}

// httpError is a response status hone does not interpret; 429 and 5xx are
// retried.
type httpError struct {
	what       string
	status     int
	detail     string
	retryAfter string
}

func (e *httpError) Error() string { return e.what + ": " + e.detail }

func (e *httpError) retryable() bool {
	return e.status == http.StatusTooManyRequests || e.status >= 500
}

func (o *Options) infoURL(ref Ref) string {
	return fmt.Sprintf("%s/api/models/%s/revision/%s?blobs=true", o.Endpoint, ref.Repo, url.PathEscape(ref.Revision))
}

func (o *Options) fileURL(repo, commit, name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return fmt.Sprintf("%s/%s/resolve/%s/%s", o.Endpoint, repo, commit, strings.Join(parts, "/"))
}
