package hub

import (
	"fmt"
	"regexp"
	"strings"
)

// Ref names a repository on the Hub and a revision in it (a branch, a tag or
// a commit hash).
type Ref struct {
	// Repo is the repository id, "org/name" or "name".
	Repo string
	// Revision is the branch, tag or 40-hex commit; "main" when not given.
	Revision string
}

// String returns the ref in the REPO@REVISION form ParseRef reads.
func (r Ref) String() string {
	if r.Revision == "" || r.Revision == DefaultRevision {
		return r.Repo
	}
	return r.Repo + "@" + r.Revision
}

// DefaultRevision is the revision pulled when none is named.
const DefaultRevision = "main"

var (
	repoIDRe   = regexp.MustCompile(`^(?:[\w\-.]+/)?[\w\-.]{1,96}$`)
	commitRe   = regexp.MustCompile(`^[0-9a-f]{40}$`)
	sha256Re   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	revisionRe = regexp.MustCompile(`^[\w\-./]{1,200}$`)
)

// ParseRef reads "org/name" or "org/name@revision" and checks both parts with
// the rules huggingface_hub applies (validate_repo_id): word characters, '-'
// and '.', at most one '/', no "--" or "..", no leading or trailing '-' or
// '.' in a part.
func ParseRef(s string) (Ref, error) {
	repo, rev, hasRev := strings.Cut(s, "@")
	if hasRev && rev == "" {
		return Ref{}, fmt.Errorf("hub id %q: empty revision after '@'", s)
	}
	if err := ValidateRepoID(repo); err != nil {
		return Ref{}, err
	}
	if !hasRev {
		rev = DefaultRevision
	}
	if err := validateRevision(rev); err != nil {
		return Ref{}, fmt.Errorf("hub id %q: %w", s, err)
	}
	return Ref{Repo: repo, Revision: rev}, nil
}

// ValidateRepoID reports whether id is a well-formed Hub repository id.
func ValidateRepoID(id string) error {
	if !repoIDRe.MatchString(id) {
		return fmt.Errorf("hub id %q: want org/name made of letters, digits, '-', '_' and '.' (at most 96 characters a part)", id)
	}
	if strings.Contains(id, "--") || strings.Contains(id, "..") {
		return fmt.Errorf("hub id %q: '--' and '..' are not allowed", id)
	}
	for _, part := range strings.Split(id, "/") {
		if strings.HasPrefix(part, "-") || strings.HasPrefix(part, ".") || strings.HasSuffix(part, "-") || strings.HasSuffix(part, ".") {
			return fmt.Errorf("hub id %q: a part may not start or end with '-' or '.'", id)
		}
	}
	return nil
}

func validateRevision(rev string) error {
	if !revisionRe.MatchString(rev) {
		return fmt.Errorf("revision %q: want a branch, tag or commit made of letters, digits, '-', '_', '.' and '/'", rev)
	}
	for _, part := range strings.Split(rev, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("revision %q: empty, '.' or '..' path element", rev)
		}
	}
	return nil
}

// IsCommit reports whether rev is a full 40-hex commit hash.
func IsCommit(rev string) bool { return commitRe.MatchString(rev) }

// validFileName reports whether a file name from the Hub's metadata is safe
// to create under a snapshot folder: relative, slash-separated, no empty,
// "." or ".." elements, no backslashes or NULs.
func validFileName(name string) error {
	if name == "" || len(name) > 1024 {
		return fmt.Errorf("file name %q: empty or too long", name)
	}
	if strings.ContainsAny(name, "\\\x00") || strings.HasPrefix(name, "/") {
		return fmt.Errorf("file name %q: absolute or contains a backslash or NUL", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("file name %q: empty, '.' or '..' path element", name)
		}
	}
	return nil
}

// repoFolderName is the cache folder of a model repository:
// "models--" + id with '/' replaced by "--".
func repoFolderName(repo string) string {
	return "models--" + strings.ReplaceAll(repo, "/", "--")
}
