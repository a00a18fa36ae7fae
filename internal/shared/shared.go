// Package shared locates the project's shared reference material (golden
// tensors, tokenizers, the stories260K model, datasets) for tests. It lives
// beside the repository as ../shared and is read in place, never copied.
package shared

import (
	"os"
	"path/filepath"
	"testing"
)

// Root returns the shared folder: $HONE_SHARED_DIR when set, otherwise
// ../shared beside the module root found by walking up from the working
// directory. ok is false when the folder does not exist.
func Root() (dir string, ok bool) {
	if d := os.Getenv("HONE_SHARED_DIR"); d != "" {
		return d, isDir(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			s := filepath.Join(filepath.Dir(d), "shared")
			return s, isDir(s)
		}
		if filepath.Dir(d) == d {
			return "", false
		}
	}
}

// Path returns the path of elem inside the shared folder, skipping the test
// with a clear message when the shared folder or the path is absent.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	root, ok := Root()
	if !ok {
		t.Skipf("shared reference material not found (want ../shared beside the repository or $HONE_SHARED_DIR); skipping")
	}
	p := filepath.Join(append([]string{root}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not present in the shared folder; skipping", filepath.Join(elem...))
	}
	return p
}

// Env returns $name when set, otherwise Path(t, elem...). It serves the test
// roots that can be overridden, such as HONE_GOLDEN_DIR and
// HONE_TOKENIZER_DIR. A set but missing override fails the test.
func Env(t testing.TB, name string, elem ...string) string {
	t.Helper()
	if d := os.Getenv(name); d != "" {
		if !isDir(d) {
			t.Fatalf("$%s=%s is not a folder", name, d)
		}
		return d
	}
	return Path(t, elem...)
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// Folders returns every subfolder of the root Env(t, name, elem...) finds
// that holds the file marker (e.g. the golden model folders, each with a
// golden.safetensors), sorted. Tests iterate over what is there, never a
// fixed list; a root with no such folder fails the test.
func Folders(t testing.TB, marker, name string, elem ...string) []string {
	t.Helper()
	root := Env(t, name, elem...)
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(root, e.Name(), marker)); e.IsDir() && err == nil {
			dirs = append(dirs, filepath.Join(root, e.Name()))
		}
	}
	if len(dirs) == 0 {
		t.Fatalf("%s holds no folder with a %s", root, marker)
	}
	return dirs
}
