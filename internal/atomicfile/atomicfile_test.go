package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteAndAbort(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.json")
	if err := Write(p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("two, half-written")
	f.Abort()
	got, _ := os.ReadFile(p)
	if string(got) != "one" {
		t.Fatalf("after Abort, file = %q, want %q", got, "one")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("after Abort, %d entries in the folder, want 1 (no temporary left)", len(ents))
	}
	if err := Write(filepath.Join(dir, "missing", "y"), nil); err == nil {
		t.Fatal("Write into a missing folder succeeded")
	}
}

func TestDirs(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "a", "out")
	if err := NewDir(out, func(d string) error { return os.WriteFile(filepath.Join(d, "x"), []byte("1"), 0o644) }); err != nil {
		t.Fatal(err)
	}
	if err := NewDir(out, func(string) error { return nil }); err == nil {
		t.Fatal("NewDir over a non-empty folder succeeded")
	}
	boom := os.ErrInvalid
	if err := ReplaceDir(out, func(d string) error { return boom }); err != boom {
		t.Fatalf("ReplaceDir = %v, want the fill error", err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "x")); string(got) != "1" {
		t.Fatal("a failed ReplaceDir changed the folder")
	}
	if err := ReplaceDir(out, func(d string) error { return os.WriteFile(filepath.Join(d, "x"), []byte("2"), 0o644) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "x")); string(got) != "2" {
		t.Fatal("ReplaceDir did not replace the folder")
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 1 {
		t.Fatalf("%d entries beside the folder, want 1 (no temporaries)", len(ents))
	}
	dst := t.TempDir()
	if err := CopyFiles(out, dst, "x", "missing"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "x")); string(got) != "2" {
		t.Fatal("CopyFiles did not copy")
	}
}

// TestDirsRefuseFile checks that NewDir and ReplaceDir refuse an existing
// file at the output path, leave it untouched and name it in the error.
func TestDirsRefuseFile(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "out.gguf")
	if err := os.WriteFile(out, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	fill := func(d string) error { return os.WriteFile(filepath.Join(d, "x"), []byte("1"), 0o644) }
	for name, f := range map[string]func(string, func(string) error) error{"NewDir": NewDir, "ReplaceDir": ReplaceDir} {
		err := f(out, fill)
		if err == nil {
			t.Fatalf("%s(%s) over a file succeeded", name, out)
		}
		if !strings.Contains(err.Error(), out) || !strings.Contains(err.Error(), "not a folder") {
			t.Errorf("%s(%s) = %v, want an error naming the path and saying it is not a folder", name, out, err)
		}
		if got, err := os.ReadFile(out); err != nil || string(got) != "precious" {
			t.Fatalf("after %s, file = %q, %v; want it untouched", name, got, err)
		}
		if ents, _ := os.ReadDir(root); len(ents) != 1 {
			t.Fatalf("after %s, %d entries in the folder, want 1 (no temporaries)", name, len(ents))
		}
	}
	// An empty folder is still accepted by NewDir.
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := NewDir(empty, fill); err != nil {
		t.Fatalf("NewDir over an empty folder: %v", err)
	}
}
