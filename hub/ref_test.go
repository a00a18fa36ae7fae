package hub

import (
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

func FuzzParseRepoInfo(f *testing.F) {
	f.Add([]byte(`{"id":"o/n","sha":"` + commitA + `","siblings":[{"rfilename":"config.json","blobId":"` + commitB + `","size":12}]}`))
	f.Add([]byte(`{"sha":"` + commitA + `","siblings":[{"rfilename":"a/b","lfs":{"sha256":"` + strings.Repeat("0", 64) + `","size":3}}]}`))
	f.Add([]byte(`{"sha":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ParseRepoInfo(data)
		if err != nil {
			return
		}
		for _, file := range info.Files {
			if validFileName(file.Name) != nil || strings.Contains(file.Name, "..") && containsDotDot(file.Name) {
				t.Fatalf("accepted unsafe file name %q", file.Name)
			}
			if e := file.ETag(); e != "" && !isHex(e, 40) && !isHex(e, 64) {
				t.Fatalf("accepted ETag %q", e)
			}
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
