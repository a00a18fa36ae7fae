package atomicfile

import (
	"os"
	"path/filepath"
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
