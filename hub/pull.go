package hub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Snapshot is a pulled revision of a repository in the cache.
type Snapshot struct {
	// Ref is what was asked for.
	Ref Ref
	// Commit is the commit the revision resolved to.
	Commit string
	// Dir is the snapshot folder, a model folder hone and transformers load.
	Dir string
	// Files are the repository paths present in Dir, sorted.
	Files []string
	// Downloaded and Cached count the files fetched now and found in the
	// cache; Bytes is the size of the downloaded ones.
	Downloaded, Cached int
	Bytes              int64
	// FromCache says the Hub was not asked (offline mode) or could not be
	// reached and the cached snapshot was used.
	FromCache bool
}

// Download pulls the files of ref selected by opts.Include into the cache
// and returns the snapshot folder. Files already in the cache (pulled by
// hone or by the Python libraries) are not downloaded again; a blob shared
// with another revision is linked, not copied.
func Download(ctx context.Context, ref Ref, opts Options) (*Snapshot, error) {
	if err := ValidateRepoID(ref.Repo); err != nil {
		return nil, err
	}
	if ref.Revision == "" {
		ref.Revision = DefaultRevision
	}
	if err := validateRevision(ref.Revision); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	repoDir := filepath.Join(o.CacheDir, repoFolderName(ref.Repo))
	if o.Offline {
		return cachedSnapshot(repoDir, ref, o, "offline mode")
	}
	c, err := newClient(o)
	if err != nil {
		return nil, err
	}
	info, err := c.info(ctx, ref)
	if err != nil {
		var ne *netError
		if errors.As(err, &ne) {
			if s, cerr := cachedSnapshot(repoDir, ref, o, "the Hub is unreachable"); cerr == nil {
				o.Progress.OnEvent(Event{Kind: Note, Message: fmt.Sprintf("the Hub is unreachable (%v); using the cached snapshot %s", err, s.Commit)})
				return s, nil
			}
		}
		return nil, err
	}
	var files []File
	for _, f := range info.Files {
		if matchAny(o.Include, f.Name) {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no file of the repository matches %v", ref, o.Include)
	}
	snap := &Snapshot{Ref: ref, Commit: info.SHA, Dir: filepath.Join(repoDir, "snapshots", info.SHA)}
	for _, f := range files {
		dst := filepath.Join(snap.Dir, filepath.FromSlash(f.Name))
		if st, err := os.Stat(dst); err == nil && st.Mode().IsRegular() && (f.Size < 0 || st.Size() == f.Size) {
			snap.Cached++
			snap.Files = append(snap.Files, f.Name)
			o.Progress.OnEvent(Event{Kind: FileCached, File: f.Name, Done: st.Size(), Total: st.Size()})
			continue
		}
		if f.ETag() == "" {
			if err := c.head(ctx, ref.Repo, info.SHA, &f); err != nil {
				return nil, err
			}
		}
		blob := filepath.Join(repoDir, "blobs", f.ETag())
		if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
			return nil, err
		}
		if st, err := os.Stat(blob); err == nil && (f.Size < 0 || st.Size() == f.Size) {
			snap.Cached++
			o.Progress.OnEvent(Event{Kind: FileCached, File: f.Name, Done: st.Size(), Total: st.Size()})
		} else {
			if err := c.fetch(ctx, ref.Repo, info.SHA, f, blob); err != nil {
				return nil, err
			}
			snap.Downloaded++
			snap.Bytes += max(f.Size, 0)
		}
		if err := linkBlob(blob, dst); err != nil {
			return nil, err
		}
		snap.Files = append(snap.Files, f.Name)
	}
	if ref.Revision != info.SHA {
		if err := writeRef(repoDir, ref.Revision, info.SHA); err != nil {
			return nil, err
		}
	}
	sort.Strings(snap.Files)
	return snap, nil
}

// matchAny reports whether name matches one of the path.Match patterns.
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// linkBlob makes dst a relative symlink to blob (../../blobs/<etag> from a
// top-level file), replacing whatever dst was, through a temporary name so
// that dst is never missing or half made.
func linkBlob(blob, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(dst), blob)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp-link"
	os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// writeRef records that revision pointed to commit: refs/<revision> holds
// the commit hash and nothing else, as in huggingface_hub.
func writeRef(repoDir, revision, commit string) error {
	p := filepath.Join(repoDir, "refs", filepath.FromSlash(revision))
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(commit), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// cachedSnapshot finds ref in the cache without asking the Hub: a commit
// hash names its snapshot folder directly, a branch or tag goes through
// refs/<revision>.
func cachedSnapshot(repoDir string, ref Ref, o Options, why string) (*Snapshot, error) {
	commit := ref.Revision
	if !IsCommit(commit) {
		b, err := os.ReadFile(filepath.Join(repoDir, "refs", filepath.FromSlash(ref.Revision)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w (%s; no refs/%s under %s)", ref, ErrOffline, why, ref.Revision, repoDir)
		}
		commit = strings.TrimSpace(string(b))
		if !IsCommit(commit) {
			return nil, fmt.Errorf("%s: refs/%s under %s holds %q, not a commit hash", ref, ref.Revision, repoDir, commit)
		}
	}
	dir := filepath.Join(repoDir, "snapshots", commit)
	snap := &Snapshot{Ref: ref, Commit: commit, Dir: dir, FromCache: true}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if !matchAny(o.Include, rel) {
			return nil
		}
		if _, err := os.Stat(p); err != nil {
			return nil // a dangling link: its blob was deleted
		}
		snap.Files = append(snap.Files, rel)
		snap.Cached++
		o.Progress.OnEvent(Event{Kind: FileCached, File: rel})
		return nil
	})
	if err != nil || len(snap.Files) == 0 {
		return nil, fmt.Errorf("%s: %w (%s; no files in %s)", ref, ErrOffline, why, dir)
	}
	sort.Strings(snap.Files)
	return snap, nil
}

// Resolve turns a --model value into a local folder: an existing folder is
// returned as it is; otherwise the value is read as a Hub id
// (org/name[@revision]) and pulled into the cache (or found there in
// offline mode), and its snapshot folder is returned. Commands call it so
// that every --model accepts a Hub id.
func Resolve(ctx context.Context, idOrDir string, opts Options) (string, error) {
	if st, err := os.Stat(idOrDir); err == nil {
		if !st.IsDir() {
			return "", fmt.Errorf("%s: not a folder (want a model folder or a Hub id org/name[@revision])", idOrDir)
		}
		return idOrDir, nil
	}
	if looksLikePath(idOrDir) {
		return "", fmt.Errorf("%s: no such model folder", idOrDir)
	}
	ref, err := ParseRef(idOrDir)
	if err != nil {
		return "", fmt.Errorf("%s: neither a model folder nor a Hub id: %w", idOrDir, err)
	}
	snap, err := Download(ctx, ref, opts)
	if err != nil {
		return "", err
	}
	return snap.Dir, nil
}

// looksLikePath reports whether s can only be meant as a file path.
func looksLikePath(s string) bool {
	return s == "" || filepath.IsAbs(s) || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "~") ||
		strings.Count(s, "/") > 1 && !strings.Contains(s, "@") || strings.HasSuffix(s, "/")
}
