package hub

import (
	"encoding/json"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	cases := []struct {
		in      string
		want    Ref
		wantErr bool
	}{
		{"meta-llama/Llama-3.2-1B", Ref{"meta-llama/Llama-3.2-1B", "main"}, false},
		{"gpt2", Ref{"gpt2", "main"}, false},
		{"Qwen/Qwen2.5-0.5B@v1.0", Ref{"Qwen/Qwen2.5-0.5B", "v1.0"}, false},
		{"org/name@refs/pr/1", Ref{"org/name", "refs/pr/1"}, false},
		{"org/name@" + commitA, Ref{"org/name", commitA}, false},
		{"org/name@", Ref{}, true},
		{"org/name@../x", Ref{}, true},
		{"a/b/c", Ref{}, true},
		{"org/na--me", Ref{}, true},
		{"org/.hidden", Ref{}, true},
		{"org/name-", Ref{}, true},
		{"org/na..me", Ref{}, true},
		{"", Ref{}, true},
		{"org/" + strings.Repeat("x", 97), Ref{}, true},
		{"org/name with space", Ref{}, true},
	}
	for _, c := range cases {
		got, err := ParseRef(c.in)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v, error %v", c.in, got, err, c.want, c.wantErr)
		}
	}
}

func TestParseRepoInfo(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	good := `{"id":"o/n","sha":"` + commitA + `","siblings":[{"rfilename":"config.json","blobId":"` + commitB + `","size":12},{"rfilename":"model.safetensors","blobId":"` + commitB + `","size":132,"lfs":{"sha256":"` + sha + `","size":999,"pointerSize":132}}]}`
	info, err := ParseRepoInfo([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Files) != 2 || info.Files[0].ETag() != commitB || info.Files[1].ETag() != sha || info.Files[1].Size != 999 || info.Files[0].Size != 12 {
		t.Errorf("ParseRepoInfo(good) = %+v", info)
	}
	bad := []struct{ in, want string }{
		{`{`, "not valid JSON"},
		{`{"sha":"main"}`, `"sha"`},
		{`{"sha":"` + commitA + `","siblings":[{"rfilename":"../etc/passwd"}]}`, "siblings[0].rfilename"},
		{`{"sha":"` + commitA + `","siblings":[{"rfilename":"/abs"}]}`, "siblings[0].rfilename"},
		{`{"sha":"` + commitA + `","siblings":[{"rfilename":"a"},{"rfilename":"a"}]}`, "listed twice"},
		{`{"sha":"` + commitA + `","siblings":[{"rfilename":"a","blobId":"zz"}]}`, "blobId"},
		{`{"sha":"` + commitA + `","siblings":[{"rfilename":"a","size":-1}]}`, "size"},
		{`{"sha":"` + commitA + `","siblings":[{"rfilename":"a","lfs":{"sha256":"12","size":1}}]}`, "lfs.sha256"},
	}
	for _, c := range bad {
		if _, err := ParseRepoInfo([]byte(c.in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseRepoInfo(%s) = %v, want error containing %q", c.in, err, c.want)
		}
	}
}

// FuzzParseRepoInfo checks ParseRepoInfo's contract with properties
// computed independently of its own validation: every accepted file name is
// already in path.Clean form, relative, free of '..' elements, backslashes
// and NULs, and joined under a snapshot folder the way Pull joins it stays
// inside that folder; names are unique; checksums are lowercase hex of the
// right length; sizes are known for LFS files; and writing the info back
// as the Hub's JSON and parsing that gives the same info.
func FuzzParseRepoInfo(f *testing.F) {
	f.Add([]byte(`{"id":"o/n","sha":"` + commitA + `","siblings":[{"rfilename":"config.json","blobId":"` + commitB + `","size":12}]}`))
	f.Add([]byte(`{"sha":"` + commitA + `","siblings":[{"rfilename":"a/b","lfs":{"sha256":"` + strings.Repeat("0", 64) + `","size":3}}]}`))
	f.Add([]byte(`{"modelId":"m","sha":"` + commitA + `","siblings":[{"rfilename":"ok","blobId":"` + strings.ToUpper(commitB) + `","size":0}]}`))
	for _, bad := range []string{"x/./y", "x//y", "x/", "x\\y", "../x"} {
		f.Add([]byte(`{"sha":"` + commitA + `","siblings":[{"rfilename":"` + bad + `"}]}`))
	}
	f.Add([]byte(`{"sha":1}`))
	root := filepath.Join(string(filepath.Separator)+"cache", "snapshots", commitA)
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ParseRepoInfo(data)
		if err != nil {
			return
		}
		if len(info.SHA) != 40 || strings.Trim(info.SHA, "0123456789abcdef") != "" {
			t.Fatalf("accepted commit %q", info.SHA)
		}
		seen := map[string]bool{}
		for _, file := range info.Files {
			n := file.Name
			if n == "" || path.Clean(n) != n || path.IsAbs(n) || n == ".." || strings.HasPrefix(n, "../") ||
				strings.ContainsAny(n, "\\\x00") || slices.Contains(strings.Split(n, "/"), "..") {
				t.Fatalf("accepted unsafe file name %q", n)
			}
			if p := filepath.Join(root, filepath.FromSlash(n)); !strings.HasPrefix(p, root+string(filepath.Separator)) {
				t.Fatalf("file name %q lands at %s, outside %s", n, p, root)
			}
			if seen[n] {
				t.Fatalf("file name %q accepted twice", n)
			}
			seen[n] = true
			for _, h := range []struct {
				v string
				n int
			}{{file.BlobID, 40}, {file.SHA256, 64}} {
				if h.v != "" && (len(h.v) != h.n || strings.Trim(h.v, "0123456789abcdef") != "") {
					t.Fatalf("%s: accepted checksum %q", n, h.v)
				}
			}
			if file.Size < -1 || file.SHA256 != "" && file.Size < 0 {
				t.Fatalf("%s: size %d", n, file.Size)
			}
		}
		// back to the Hub's JSON, and parsed again
		type lfs struct {
			SHA256 string `json:"sha256"`
			Size   int64  `json:"size"`
		}
		type sibling struct {
			RFilename string `json:"rfilename"`
			BlobID    string `json:"blobId,omitempty"`
			Size      *int64 `json:"size,omitempty"`
			LFS       *lfs   `json:"lfs,omitempty"`
		}
		wire := struct {
			ID       string    `json:"id"`
			SHA      string    `json:"sha"`
			Siblings []sibling `json:"siblings"`
		}{ID: info.ID, SHA: info.SHA}
		for _, file := range info.Files {
			s := sibling{RFilename: file.Name, BlobID: file.BlobID}
			if file.Size >= 0 {
				s.Size = &file.Size
			}
			if file.SHA256 != "" {
				s.LFS = &lfs{file.SHA256, file.Size}
			}
			wire.Siblings = append(wire.Siblings, s)
		}
		again, err := json.Marshal(wire)
		if err != nil {
			t.Fatal(err)
		}
		info2, err := ParseRepoInfo(again)
		if err != nil {
			t.Fatalf("re-serialised info rejected: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(info, info2) {
			t.Fatalf("re-serialised info parses to %+v, want %+v", info2, info)
		}
	})
}

func containsDotDot(name string) bool {
	for _, p := range strings.Split(name, "/") {
		if p == ".." {
			return true
		}
	}
	return false
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"org/name", "org/name@main", "a@refs/pr/1", "x/y/z", "@", "org/n@../../etc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		if strings.Contains(r.Repo, "..") || strings.Count(r.Repo, "/") > 1 || containsDotDot(r.Revision) || strings.HasPrefix(r.Revision, "/") {
			t.Fatalf("ParseRef(%q) = %+v: unsafe for cache paths", s, r)
		}
		if r2, err := ParseRef(r.String()); err != nil || r2 != r {
			t.Fatalf("ParseRef(%q.String()) = %+v, %v; want %+v", s, r2, err, r)
		}
	})
}
