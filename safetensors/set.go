package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"hone/tensor"
)

// The file names of a Hugging Face model folder.
const (
	// SingleFile is the name of an unsharded checkpoint.
	SingleFile = "model.safetensors"
	// IndexFile is the name of a sharded checkpoint's index, which maps each
	// tensor name to the shard file holding it.
	IndexFile = "model.safetensors.index.json"
)

// Set is a checkpoint spread over one or more safetensors files, read through
// one Tensor/Names/Info interface. Like File, it maps its files lazily and
// hands out read-only views that are valid until Close.
type Set struct {
	files []*File
	where map[string]*File // tensor name -> the file that holds it
	names []string         // sorted
}

// indexJSON is model.safetensors.index.json as transformers writes it:
// {"metadata": {"total_size": N}, "weight_map": {name: shard file}}. The
// metadata is informational (the shards' headers are the authority), so the
// reader does not check it.
type indexJSON struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// OpenModel opens the checkpoint in the model folder dir: the shards listed
// by model.safetensors.index.json when that file exists, otherwise
// model.safetensors. When dir is itself a .safetensors file, that file is
// opened. Every tensor the index lists must be in the shard it names; all
// such mismatches are reported together.
func OpenModel(dir string) (*Set, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return OpenFiles(dir)
	}
	indexPath := filepath.Join(dir, IndexFile)
	raw, err := os.ReadFile(indexPath)
	if errors.Is(err, os.ErrNotExist) {
		single := filepath.Join(dir, SingleFile)
		if _, err := os.Stat(single); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no %s or %s in the folder", dir, SingleFile, IndexFile)
		}
		return OpenFiles(single)
	}
	if err != nil {
		return nil, err
	}
	return openIndex(dir, indexPath, raw)
}

func openIndex(dir, indexPath string, raw []byte) (*Set, error) {
	var idx indexJSON
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%s: %v", indexPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: \"weight_map\" is missing or empty", indexPath)
	}
	var shards []string
	for name, shard := range idx.WeightMap {
		if shard == "" || shard != filepath.Base(shard) || shard == "." || shard == ".." || strings.ContainsAny(shard, `/\`) {
			return nil, fmt.Errorf("%s: tensor %q: shard %q is not a file name in the model folder", indexPath, name, shard)
		}
		if !slices.Contains(shards, shard) {
			shards = append(shards, shard)
		}
	}
	slices.Sort(shards)
	s := &Set{where: make(map[string]*File, len(idx.WeightMap))}
	byShard := make(map[string]*File, len(shards))
	for _, shard := range shards {
		f, err := Open(filepath.Join(dir, shard))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: %w", indexPath, err)
		}
		s.files = append(s.files, f)
		byShard[shard] = f
	}
	var problems []string
	for name, shard := range idx.WeightMap {
		f := byShard[shard]
		if !f.Has(name) {
			problems = append(problems, fmt.Sprintf("tensor %q is mapped to %s, which does not hold it", name, shard))
			continue
		}
		s.where[name] = f
	}
	// Tensors a shard holds but the index does not list are readable too,
	// provided exactly one shard holds them.
	extra := map[string]*File{}
	for _, f := range s.files {
		for _, name := range f.h.names {
			if _, listed := idx.WeightMap[name]; listed {
				continue
			}
			if g, dup := extra[name]; dup {
				problems = append(problems, fmt.Sprintf("tensor %q is not in the index and is held by both %s and %s", name, filepath.Base(g.path), filepath.Base(f.path)))
				continue
			}
			extra[name] = f
		}
	}
	for name, f := range extra {
		s.where[name] = f
	}
	if len(problems) > 0 {
		s.Close()
		slices.Sort(problems)
		return nil, fmt.Errorf("%s: %s", indexPath, strings.Join(problems, "; "))
	}
	s.sortNames()
	return s, nil
}

// OpenFiles opens the given safetensors files as one checkpoint. A tensor
// name held by two of them is an error naming both.
func OpenFiles(paths ...string) (*Set, error) {
	if len(paths) == 0 {
		return nil, errors.New("safetensors.OpenFiles: no files")
	}
	s := &Set{where: map[string]*File{}}
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.files = append(s.files, f)
		for _, name := range f.h.names {
			if g, dup := s.where[name]; dup {
				s.Close()
				return nil, fmt.Errorf("tensor %q is in both %s and %s", name, g.path, f.path)
			}
			s.where[name] = f
		}
	}
	s.sortNames()
	return s, nil
}

func (s *Set) sortNames() {
	s.names = make([]string, 0, len(s.where))
	for name := range s.where {
		s.names = append(s.names, name)
	}
	slices.Sort(s.names)
}

// Names returns the names of all tensors of the checkpoint, sorted.
func (s *Set) Names() []string { return slices.Clone(s.names) }

// Len returns the number of tensors.
func (s *Set) Len() int { return len(s.names) }

// Has reports whether the checkpoint holds a tensor called name.
func (s *Set) Has(name string) bool {
	_, ok := s.where[name]
	return ok
}

// Info returns the header entry of the named tensor without touching its data.
func (s *Set) Info(name string) (TensorInfo, error) {
	f, ok := s.where[name]
	if !ok {
		return TensorInfo{}, fmt.Errorf("%s: no tensor %q", s.describe(), name)
	}
	return f.Info(name)
}

// Shape returns the shape of the named tensor from its header entry,
// without touching its data (model.LoadWeights checks every shape through
// it before setting memory aside for the weights).
func (s *Set) Shape(name string) ([]int, error) {
	ti, err := s.Info(name)
	if err != nil {
		return nil, err
	}
	return slices.Clone(ti.Shape), nil
}

// Tensor returns the named tensor as a read-only view of its shard (see
// File.Tensor).
func (s *Set) Tensor(name string) (*tensor.Tensor, error) {
	f, ok := s.where[name]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q", s.describe(), name)
	}
	return f.Tensor(name)
}

// Files returns the open files of the checkpoint, in path order; their
// Metadata holds each shard's "__metadata__".
func (s *Set) Files() []*File { return slices.Clone(s.files) }

// Path returns the path of the file holding the named tensor, or "" when the
// checkpoint has no such tensor.
func (s *Set) Path(name string) string {
	if f, ok := s.where[name]; ok {
		return f.path
	}
	return ""
}

// Close closes every file of the checkpoint and returns the first error.
func (s *Set) Close() error {
	var first error
	for _, f := range s.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *Set) describe() string {
	switch len(s.files) {
	case 0:
		return "safetensors set"
	case 1:
		return s.files[0].path
	}
	return fmt.Sprintf("%s (%d shards)", filepath.Dir(s.files[0].path), len(s.files))
}

// Release hints that the mapped pages of every file of the set are not
// needed for now (see File.Release). Tensors stay valid.
func (s *Set) Release() {
	for _, f := range s.files {
		f.Release()
	}
}

// ReleaseTensor hints that the named tensor's mapped pages are not needed
// for now (see File.ReleaseTensor). It stays valid.
func (s *Set) ReleaseTensor(name string) {
	if f, ok := s.where[name]; ok {
		f.ReleaseTensor(name)
	}
}
