package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// NewDir builds the folder out under a temporary sibling name with fill and
// renames it into place only when fill succeeds, so that out is never seen
// half-written. out must not exist, or be an empty folder; an existing file
// (or anything else that is not a folder) at out is an error and is left
// alone.
func NewDir(out string, fill func(dir string) error) error {
	if out == "" {
		return fmt.Errorf("no output folder given")
	}
	isDir, err := folderAt(out)
	if err != nil {
		return err
	}
	if isDir {
		ents, err := os.ReadDir(out)
		if err != nil {
			return err
		}
		if len(ents) > 0 {
			return fmt.Errorf("%s: output folder exists and is not empty", out)
		}
	}
	tmp, err := tempDir(out)
	if err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	os.Remove(out) // an empty folder, if any
	if err := os.Rename(tmp, out); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return nil
}

// ReplaceDir builds a fresh copy of the folder dir with fill and swaps it in
// for the old one (if any), so that dir always holds a complete copy: the
// old folder is moved aside first and removed only after the new one is in
// place. An existing file (or anything else that is not a folder) at dir is
// an error and is left alone.
func ReplaceDir(dir string, fill func(dir string) error) error {
	if _, err := folderAt(dir); err != nil {
		return err
	}
	tmp, err := tempDir(dir)
	if err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	old := dir + ".old"
	os.RemoveAll(old)
	if _, err := os.Stat(dir); err == nil {
		if err := os.Rename(dir, old); err != nil {
			os.RemoveAll(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.Rename(old, dir)
		os.RemoveAll(tmp)
		return err
	}
	return os.RemoveAll(old)
}

// folderAt reports whether a folder exists at path (following symbolic
// links). Nothing at path is not an error; something that is not a folder
// is, and so is a failure to look.
func folderAt(path string) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		kind := "a file"
		if !fi.Mode().IsRegular() {
			kind = "not a regular file (" + fi.Mode().Type().String() + ")"
		}
		return false, fmt.Errorf("%s: output path exists and is %s, not a folder; remove it or choose another path", path, kind)
	}
	return true, nil
}

// tempDir makes a temporary folder beside path, readable like a normal one.
func tempDir(path string) (string, error) {
	parent := filepath.Dir(filepath.Clean(path))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", err
	}
	return tmp, os.Chmod(tmp, 0o755)
}

// CopyFiles copies the named files that exist in from into to, each
// atomically; missing ones are skipped.
func CopyFiles(from, to string, names ...string) error {
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(from, n))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := Write(filepath.Join(to, n), data); err != nil {
			return err
		}
	}
	return nil
}
