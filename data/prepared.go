package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ManifestFile is the name of a prepared folder's manifest.
const ManifestFile = "manifest.json"

// IsPrepared reports whether path is a folder that hone data prepare
// wrote: a directory with a manifest.json.
func IsPrepared(path string) bool {
	st, err := os.Stat(path)
	if err != nil || !st.IsDir() {
		return false
	}
	_, err = os.Stat(filepath.Join(path, ManifestFile))
	return err == nil
}

// ReadManifest reads the manifest.json of a prepared folder.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: not a prepared dataset's manifest: %v", path, err)
	}
	if m.Format != 1 {
		return nil, fmt.Errorf("%s: manifest format %d, want 1 (written by hone data prepare)", path, m.Format)
	}
	return &m, nil
}

// LoadPrepared reads a folder written by Prepare: its manifest and the
// sequences of its train and validation shards, each shard checked against
// the size of rows and the SHA-256 the manifest records.
func LoadPrepared(dir string) (m *Manifest, train, val []Sequence, err error) {
	if m, err = ReadManifest(dir); err != nil {
		return nil, nil, nil, err
	}
	for _, split := range []string{"train", "validation"} {
		var info *ShardInfo
		for i := range m.Shards {
			if m.Shards[i].Split == split {
				info = &m.Shards[i]
			}
		}
		if info == nil {
			return nil, nil, nil, fmt.Errorf("%s: no %s shard listed", filepath.Join(dir, ManifestFile), split)
		}
		path := filepath.Join(dir, filepath.Base(info.File))
		h, err := HashFile(path, "")
		if err != nil {
			return nil, nil, nil, err
		}
		if h.SHA256 != info.SHA256 {
			return nil, nil, nil, fmt.Errorf("%s: its SHA-256 differs from the one in %s: the shard changed after hone data prepare wrote it; prepare the data again",
				path, ManifestFile)
		}
		seqs, err := ReadShard(path)
		if err != nil {
			return nil, nil, nil, err
		}
		if len(seqs) != info.Rows {
			return nil, nil, nil, fmt.Errorf("%s: %d rows, the manifest says %d", path, len(seqs), info.Rows)
		}
		if split == "train" {
			train = seqs
		} else {
			val = seqs
		}
	}
	if len(train) == 0 {
		return nil, nil, nil, errors.New(filepath.Join(dir, "train.shard") + ": no training row")
	}
	return m, train, val, nil
}
