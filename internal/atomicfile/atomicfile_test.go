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
