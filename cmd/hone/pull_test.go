package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// honeEnv runs the binary with extra environment variables.
func honeEnv(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(honeBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// miniHub serves one repository, org/mini, with git-stored files in the
// Hub's formats (the hub package's tests cover LFS, redirects and resume).
func miniHub(t *testing.T, files map[string]string) *httptest.Server {
	const commit = "89abcdef0123456789abcdef0123456789abcdef"
	blob := func(s string) string {
		h := sha1.New()
		fmt.Fprintf(h, "blob %d\x00%s", len(s), s)
		return hex.EncodeToString(h.Sum(nil))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/models/org/mini/revision/main":
			var sibs []string
			for name, c := range files {
				sibs = append(sibs, fmt.Sprintf(`{"rfilename":%q,"blobId":%q,"size":%d}`, name, blob(c), len(c)))
			}
			fmt.Fprintf(w, `{"id":"org/mini","sha":%q,"siblings":[%s]}`, commit, strings.Join(sibs, ","))
		case strings.HasPrefix(r.URL.Path, "/org/mini/resolve/"+commit+"/"):
			c, ok := files[strings.TrimPrefix(r.URL.Path, "/org/mini/resolve/"+commit+"/")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("ETag", `"`+blob(c)+`"`)
			w.Header().Set("X-Repo-Commit", commit)
			fmt.Fprint(w, c)
		default:
			w.Header().Set("X-Error-Code", "RepoNotFound")
			http.Error(w, `{"error":"Repository not found"}`, http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPullCommand(t *testing.T) {
	files := map[string]string{"config.json": `{"model_type":"llama"}`, "model.safetensors": "weights", "README.md": "# mini"}
	srv := miniHub(t, files)
	cache := t.TempDir()
	env := []string{"HF_ENDPOINT=" + srv.URL, "HF_HUB_CACHE=" + cache, "HF_HUB_OFFLINE=", "HF_TOKEN="}
	out, errOut, code := honeEnv(t, env, "pull", "org/mini")
	if code != 0 {
		t.Fatalf("hone pull exited %d: %s", code, errOut)
	}
	dir := strings.TrimSpace(out)
	if want := filepath.Join(cache, "models--org--mini", "snapshots", "89abcdef0123456789abcdef0123456789abcdef"); dir != want {
		t.Errorf("hone pull printed %q, want %q", dir, want)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if name == "README.md" {
			if err == nil {
				t.Errorf("hone pull fetched %s", name)
			}
			continue
		}
		if string(got) != want {
			t.Errorf("%s = %q (%v), want %q", name, got, err, want)
		}
	}
	if !strings.Contains(errOut, "2 downloaded") {
		t.Errorf("hone pull stderr does not report 2 downloads:\n%s", errOut)
	}

	offline := append(env, "HF_HUB_OFFLINE=1", "HF_ENDPOINT=http://127.0.0.1:1")
	out, errOut, code = honeEnv(t, offline, "pull", "org/mini")
	if code != 0 || strings.TrimSpace(out) != dir {
		t.Errorf("offline hone pull = %q, exit %d (%s); want %q", out, code, errOut, dir)
	}

	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"pull", "org/absent"}, 1, "not found"},
		{[]string{"pull", "bad--id"}, 2, "hub id"},
		{[]string{"pull", "--offline", "org/never"}, 1, "offline"},
	}
	for _, c := range cases {
		_, errOut, code := honeEnv(t, env, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("hone %v = exit %d, %q; want exit %d mentioning %q", c.args, code, errOut, c.code, c.want)
		}
	}
}
