package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// client performs the Hub's requests with Options' endpoint, token,
// retries and progress.
type client struct {
	o    Options
	host string // the endpoint's host: the only one the token is sent to
}

func newClient(o Options) (*client, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("hub endpoint %q (HF_ENDPOINT): want an http(s) URL", o.Endpoint)
	}
	return &client{o: o, host: u.Host}, nil
}

// netError marks a transport failure (connection refused, reset, a body cut
// short): retried, and the reason a cached snapshot may be used instead.
type netError struct{ err error }

func (e *netError) Error() string { return e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

const maxRedirects = 10

// get sends a request and follows redirects by hand, sending the token only
// to the endpoint's host. first is the header of the first response, which
// on the Hub carries X-Repo-Commit and X-Linked-Etag.
func (c *client) get(ctx context.Context, method, rawURL string, header http.Header) (resp *http.Response, first http.Header, err error) {
	for i := 0; ; i++ {
		req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		req.Header.Set("User-Agent", c.o.UserAgent)
		if c.o.Token != "" && req.URL.Host == c.host {
			req.Header.Set("Authorization", "Bearer "+c.o.Token)
		}
		resp, err := c.o.Client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			return nil, nil, &netError{err}
		}
		if first == nil {
			first = resp.Header
		}
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			loc, lerr := req.URL.Parse(resp.Header.Get("Location"))
			resp.Body.Close()
			if lerr != nil || resp.Header.Get("Location") == "" {
				return nil, nil, fmt.Errorf("%s: redirect without a valid Location", rawURL)
			}
			if i >= maxRedirects {
				return nil, nil, fmt.Errorf("%s: more than %d redirects", rawURL, maxRedirects)
			}
			rawURL = loc.String()
			continue
		}
		return resp, first, nil
	}
}

// retry runs fn until it succeeds, fails with an error that is not worth
// retrying, or Retries retries are spent, waiting Backoff·2^n between tries
// (or what a 429/503's Retry-After asks, up to a minute).
func (c *client) retry(ctx context.Context, file string, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || !retryable(err) || attempt >= c.o.Retries {
			return err
		}
		wait := min(c.o.Backoff<<attempt, 30*time.Second)
		var he *httpError
		if errors.As(err, &he) && he.retryAfter != "" {
			if s, perr := strconv.Atoi(he.retryAfter); perr == nil && s >= 0 {
				wait = min(time.Duration(s)*time.Second, time.Minute)
			}
		}
		c.o.Progress.OnEvent(Event{Kind: Retry, File: file, Attempt: attempt + 1, Wait: wait, Err: err})
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func retryable(err error) bool {
	var ne *netError
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.retryable()
	case errors.As(err, &ne):
		return true
	}
	return false
}

// info fetches the metadata of a revision.
func (c *client) info(ctx context.Context, ref Ref) (*RepoInfo, error) {
	var info *RepoInfo
	what := "model info for " + ref.String()
	err := c.retry(ctx, "", func() error {
		resp, _, err := c.get(ctx, http.MethodGet, c.o.infoURL(ref), nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return statusError(what, resp)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return &netError{err}
		}
		info, err = ParseRepoInfo(data)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
	return info, err
}

// head asks for a file's ETag and size when the metadata did not carry
// them (a Hub mirror that ignores ?blobs=true).
func (c *client) head(ctx context.Context, repo, commit string, f *File) error {
	return c.retry(ctx, f.Name, func() error {
		resp, first, err := c.get(ctx, http.MethodHead, c.o.fileURL(repo, commit, f.Name), http.Header{"Accept-Encoding": {"identity"}})
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return statusError(f.Name, resp)
		}
		etag := normalizeETag(first.Get("X-Linked-Etag"))
		if etag == "" {
			etag = normalizeETag(first.Get("ETag"))
		}
		switch {
		case sha256Re.MatchString(etag):
			f.SHA256 = etag
		case isHex(etag, 40):
			f.BlobID = etag
		default:
			return fmt.Errorf("%s: the Hub sent no usable ETag (%q)", f.Name, etag)
		}
		if n, err := strconv.ParseInt(first.Get("X-Linked-Size"), 10, 64); err == nil && n >= 0 {
			f.Size = n
		} else if resp.ContentLength >= 0 && f.Size < 0 {
			f.Size = resp.ContentLength
		}
		return nil
	})
}

// normalizeETag strips a weak-validator prefix and quotes, as
// huggingface_hub does.
func normalizeETag(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	return strings.ToLower(strings.Trim(s, `"`))
}

// fetch downloads f into blob, resuming from blob+".incomplete" when an
// earlier attempt left one, and renames it into place only after its
// checksum matched. A mismatch after a resumed download restarts once from
// zero; a second mismatch removes the partial file and fails.
func (c *client) fetch(ctx context.Context, repo, commit string, f File, blob string) error {
	inc := blob + ".incomplete"
	var have int64
	if st, err := os.Stat(inc); err == nil {
		have = st.Size()
	}
	c.o.Progress.OnEvent(Event{Kind: FileStart, File: f.Name, Done: have, Total: max(f.Size, 0)})
	for try := 0; ; try++ {
		err := c.retry(ctx, f.Name, func() error { return c.fetchOnce(ctx, repo, commit, f, inc) })
		if err != nil {
			return err
		}
		err = verify(inc, f)
		if err == nil {
			break
		}
		os.Remove(inc)
		if try > 0 || have == 0 {
			return err
		}
		have = 0 // the resumed prefix may be stale: start over once
	}
	if err := os.Rename(inc, blob); err != nil {
		return err
	}
	c.o.Progress.OnEvent(Event{Kind: FileDone, File: f.Name, Done: max(f.Size, 0), Total: max(f.Size, 0)})
	return nil
}

// fetchOnce makes one request for the part of f that inc lacks.
func (c *client) fetchOnce(ctx context.Context, repo, commit string, f File, inc string) error {
	out, err := os.OpenFile(inc, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	st, err := out.Stat()
	if err != nil {
		return err
	}
	have := st.Size()
	if f.Size >= 0 && have > f.Size {
		have = 0
	}
	if f.Size >= 0 && have == f.Size && have > 0 {
		return nil
	}
	h := http.Header{"Accept-Encoding": {"identity"}}
	if have > 0 {
		h.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, _, err := c.get(ctx, http.MethodGet, c.o.fileURL(repo, commit, f.Name), h)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		have = 0 // the server sent the whole file
	case http.StatusPartialContent:
		start, ok := contentRangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			out.Truncate(0)
			return &netError{fmt.Errorf("%s: Content-Range %q does not continue at byte %d", f.Name, resp.Header.Get("Content-Range"), have)}
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if f.Size < 0 {
			return nil // nothing past what we have: complete
		}
		out.Truncate(0)
		return &netError{fmt.Errorf("%s: the server refused to resume at byte %d", f.Name, have)}
	default:
		return statusError(f.Name, resp)
	}
	if err := out.Truncate(have); err != nil {
		return err
	}
	if _, err := out.Seek(have, io.SeekStart); err != nil {
		return err
	}
	total := max(f.Size, 0)
	buf := make([]byte, 1<<20)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := out.Write(buf[:n]); err != nil {
				return err
			}
			have += int64(n)
			c.o.Progress.OnEvent(Event{Kind: Bytes, File: f.Name, Done: have, Total: total})
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &netError{fmt.Errorf("%s: reading the download at byte %d: %w", f.Name, have, rerr)}
		}
	}
	if f.Size >= 0 && have < f.Size {
		return &netError{fmt.Errorf("%s: the download ended at byte %d of %d", f.Name, have, f.Size)}
	}
	return out.Sync()
}

func contentRangeStart(s string) (int64, bool) {
	s, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, false
	}
	a, _, ok := strings.Cut(s, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(a, 10, 64)
	return n, err == nil
}

// verify checks a downloaded file against the Hub's size and checksum:
// sha256 for LFS files, the git blob sha1 ("blob <size>\0" + content)
// otherwise.
func verify(path string, f File) error {
	fd, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return err
	}
	if f.Size >= 0 && st.Size() != f.Size {
		return fmt.Errorf("%s: %w: %d bytes, the Hub says %d", f.Name, ErrChecksum, st.Size(), f.Size)
	}
	var hsh hash.Hash
	want := f.SHA256
	if want != "" {
		hsh = sha256.New()
	} else {
		want = f.BlobID
		hsh = sha1.New()
		fmt.Fprintf(hsh, "blob %d\x00", st.Size())
	}
	if _, err := io.Copy(hsh, fd); err != nil {
		return err
	}
	if got := hex.EncodeToString(hsh.Sum(nil)); got != want {
		kind := "sha256"
		if f.SHA256 == "" {
			kind = "git sha1"
		}
		return fmt.Errorf("%s: %w: %s %s, the Hub says %s; the download was discarded", f.Name, ErrChecksum, kind, got, want)
	}
	return nil
}
