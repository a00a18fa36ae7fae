package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"hone/chat"
	"hone/tokenizer"
)

// PrepareConfig says what Prepare reads and how it renders, splits, mixes
// and packs.
type PrepareConfig struct {
	// Train are the training files. Validation is a held-out file; when
	// empty, ValFraction of Train is split off (Split).
	Train       []string
	Validation  string
	ValFraction float64
	// Mix is a general-purpose dataset blended in at MixRatio of the
	// training rows (Mix).
	Mix      string
	MixRatio float64
	// Read are the reading options (format, row size limit).
	Read ReadOptions
	// Template, Tokenizer and Render turn examples into tokens;
	// TokenizerFile is hashed into the manifest.
	Template      *chat.Template
	Tokenizer     *tokenizer.Tokenizer
	TokenizerFile string
	Render        RenderOptions
	// MaxLen is the sequence length: longer conversations are dropped
	// (and counted), longer texts are cut into pieces.
	MaxLen int
	// Pack packs the training and validation rows (Pack).
	Pack bool
	// Seed fixes the split, the mix and the order.
	Seed uint64
	// Out is the folder that receives train.shard, val.shard and
	// manifest.json.
	Out string
}

// Manifest describes a prepared dataset: where it came from (with hashes)
// and how it was made, so that a run can prove what it trained on.
type Manifest struct {
	Format    int         `json:"format"` // the manifest version, 1
	Inputs    []FileHash  `json:"inputs"`
	Template  TemplateRef `json:"template"`
	Tokenizer FileHash    `json:"tokenizer"`
	Vocab     int         `json:"vocab"`
	Settings  struct {
		DataFormat    Format  `json:"data_format"`
		ValFraction   float64 `json:"val_fraction"`
		MixRatio      float64 `json:"mix_ratio"`
		MaxLen        int     `json:"max_len"`
		Pack          bool    `json:"pack"`
		TrainOnPrompt bool    `json:"train_on_prompt"`
		Seed          uint64  `json:"seed"`
	} `json:"settings"`
	// Skipped counts the rows left out, by reason.
	Skipped map[string]int `json:"skipped"`
	// SkippedFirst names the first rows left out for each reason of
	// rendering (render errors, untrained, too long), at most
	// MaxSkippedListed of each, as "file:line: cause".
	SkippedFirst map[string][]string `json:"skipped_first,omitempty"`
	Shards       []ShardInfo         `json:"shards"`
}

// FileHash names a file with its size and SHA-256.
type FileHash struct {
	Role   string `json:"role,omitempty"` // train, validation, mix
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// TemplateRef names a chat template with the SHA-256 of its source.
type TemplateRef struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// ShardInfo describes one shard file of a prepared dataset.
type ShardInfo struct {
	Split         string `json:"split"` // train or validation
	File          string `json:"file"`
	Examples      int    `json:"examples"`
	Rows          int    `json:"rows"`
	Tokens        int64  `json:"tokens"`
	TrainedTokens int64  `json:"trained_tokens"`
	SHA256        string `json:"sha256"`
}

// MaxSkippedListed is how many rows left out for one reason the manifest
// and the progress notes name.
const MaxSkippedListed = 3

// Prepared is the result of Prepare: the manifest and the sequences it
// wrote.
type Prepared struct {
	Manifest   *Manifest
	Train, Val []Sequence
}

// Prepare reads the data, renders every example, splits off validation
// data, mixes in the general set, shuffles, packs, and writes the shards
// and the manifest into cfg.Out. Rows that cannot be used (the reader's
// problems), that render with nothing trained or fail to render, or that
// are too long, are left out and counted in the manifest, the first few of
// each kind named with file, line and cause (render errors also in a note);
// hone data check lists them all. When no training example is left, the
// error says why, naming the first rows left out. note, when not nil,
// receives one-line progress notes.
func Prepare(cfg PrepareConfig, note func(string)) (*Prepared, error) {
	if note == nil {
		note = func(string) {}
	}
	if cfg.Template == nil || cfg.Tokenizer == nil {
		return nil, errors.New("prepare: a template and a tokenizer are required")
	}
	if cfg.MaxLen < 2 {
		return nil, fmt.Errorf("prepare: sequence length %d, want at least 2", cfg.MaxLen)
	}
	m := &Manifest{Format: 1, Skipped: map[string]int{}, SkippedFirst: map[string][]string{}, Vocab: cfg.Tokenizer.VocabSize()}
	skip := func(ex *Example, reason string, cause error) {
		m.Skipped[reason]++
		if len(m.SkippedFirst[reason]) < MaxSkippedListed {
			at := fmt.Sprintf("%s:%d: %v", ex.File, ex.Line, cause)
			m.SkippedFirst[reason] = append(m.SkippedFirst[reason], at)
			if reason == "render errors" {
				note("left out (render error) " + at)
			}
		}
	}
	m.Settings.DataFormat = cfg.Read.Format
	if m.Settings.DataFormat == FormatAuto {
		m.Settings.DataFormat = "auto"
	}
	m.Settings.ValFraction, m.Settings.MixRatio = cfg.ValFraction, cfg.MixRatio
	m.Settings.MaxLen, m.Settings.Pack, m.Settings.TrainOnPrompt, m.Settings.Seed = cfg.MaxLen, cfg.Pack, cfg.Render.TrainOnPrompt, cfg.Seed
	m.Template = TemplateRefOf(cfg.Template)
	if cfg.TokenizerFile != "" {
		h, err := HashFile(cfg.TokenizerFile, "")
		if err != nil {
			return nil, err
		}
		m.Tokenizer = h
	}
	read := func(path, role string) ([]*Example, error) {
		h, err := HashFile(path, role)
		if err != nil {
			return nil, err
		}
		m.Inputs = append(m.Inputs, h)
		exs, skipped, err := ReadAll(path, cfg.Read)
		if err != nil {
			return nil, err
		}
		if skipped > 0 {
			m.Skipped["unusable rows"] += skipped
			note(fmt.Sprintf("%s: left out %d rows with problems (hone data check lists them)", path, skipped))
		}
		return exs, nil
	}
	var all []*Example
	for _, f := range cfg.Train {
		exs, err := read(f, "train")
		if err != nil {
			return nil, err
		}
		all = append(all, exs...)
	}
	var trEx, valEx []*Example
	if cfg.Validation != "" {
		var err error
		if valEx, err = read(cfg.Validation, "validation"); err != nil {
			return nil, err
		}
		trEx = all
	} else {
		trEx, valEx = Split(all, cfg.ValFraction, cfg.Seed)
	}
	render := func(exs []*Example) ([]Sequence, int) {
		var out []Sequence
		n := 0
		for _, ex := range exs {
			ids, labels, err := Render(ex, cfg.Template, cfg.Tokenizer, cfg.Render)
			switch {
			case errors.Is(err, ErrUntrained):
				skip(ex, "untrained", err)
				continue
			case err != nil:
				skip(ex, "render errors", err)
				continue
			}
			s := Sequence{IDs: ids, Labels: labels}
			if len(ids) > cfg.MaxLen {
				if !ex.IsText() {
					skip(ex, "too long", fmt.Errorf("%d tokens, more than the sequence length %d", len(ids), cfg.MaxLen))
					continue
				}
				out = append(out, Chunk(s, cfg.MaxLen)...)
				n++
				continue
			}
			out = append(out, s)
			n++
		}
		return out, n
	}
	train, nTrain := render(trEx)
	val, nVal := render(valEx)
	if n := m.Skipped["render errors"]; n > MaxSkippedListed {
		note(fmt.Sprintf("left out %d examples with render errors in all (the first %d are named above)", n, MaxSkippedListed))
	}
	if len(train) == 0 {
		return nil, fmt.Errorf("prepare: no usable training example%s", m.skipSummary())
	}
	if cfg.Mix != "" && cfg.MixRatio > 0 {
		gen, err := read(cfg.Mix, "mix")
		if err != nil {
			return nil, err
		}
		gs, _ := render(gen)
		before := len(train)
		train = Mix(train, gs, cfg.MixRatio, cfg.Seed)
		note(fmt.Sprintf("mixed %d general sequences into %d task sequences (ratio %.2f)", len(train)-before, before, cfg.MixRatio))
		nTrain += len(train) - before
	}
	Shuffle(train, cfg.Seed)
	if cfg.Pack {
		var err error
		n := len(train)
		if train, err = Pack(train, cfg.MaxLen); err != nil {
			return nil, err
		}
		if val, err = Pack(val, cfg.MaxLen); err != nil {
			return nil, err
		}
		note(fmt.Sprintf("packed %d training sequences into %d rows of at most %d tokens", n, len(train), cfg.MaxLen))
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	for _, sh := range []struct {
		split string
		seqs  []Sequence
		n     int
	}{{"train", train, nTrain}, {"validation", val, nVal}} {
		info, err := writeShard(cfg.Out, sh.split, sh.seqs, sh.n, m.Vocab)
		if err != nil {
			return nil, err
		}
		m.Shards = append(m.Shards, info)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(cfg.Out, "manifest.json"), append(b, '\n')); err != nil {
		return nil, err
	}
	return &Prepared{Manifest: m, Train: train, Val: val}, nil
}

// skipSummary says why examples were left out in rendering, naming the
// first of each reason: ": 3 render errors (the first: a.jsonl:1: ...);
// 1 too long (...)", or "" when none was.
func (m *Manifest) skipSummary() string {
	var parts []string
	for _, reason := range []string{"render errors", "untrained", "too long"} {
		n := m.Skipped[reason]
		if n == 0 {
			continue
		}
		p := fmt.Sprintf("%d %s", n, reason)
		if first := m.SkippedFirst[reason]; len(first) > 0 {
			p += fmt.Sprintf(" (the first: %s)", first[0])
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return ""
	}
	return ": left out " + strings.Join(parts, "; ")
}

func writeShard(dir, split string, seqs []Sequence, examples, vocab int) (ShardInfo, error) {
	name := map[string]string{"train": "train.shard", "validation": "val.shard"}[split]
	path := filepath.Join(dir, name)
	w, err := CreateShard(path, vocab)
	if err != nil {
		return ShardInfo{}, err
	}
	info := ShardInfo{Split: split, File: name, Examples: examples, Rows: len(seqs)}
	for _, s := range seqs {
		if err := w.Write(s); err != nil {
			w.Close()
			return info, err
		}
		info.Tokens += int64(s.Len())
		for _, l := range s.Labels {
			if l != IgnoreIndex {
				info.TrainedTokens++
			}
		}
	}
	if err := w.Close(); err != nil {
		return info, err
	}
	h, err := HashFile(path, "")
	info.SHA256 = h.SHA256
	return info, err
}

// ReadAll reads every usable example of a file; skipped counts the rows
// that had problems. An unusable file is an error.
func ReadAll(path string, opts ReadOptions) (exs []*Example, skipped int, err error) {
	r, err := Open(path, opts)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	for {
		ex, probs, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		if ex == nil || len(probs) > 0 {
			skipped++
			continue
		}
		exs = append(exs, ex)
	}
	if len(exs) == 0 {
		return nil, skipped, &UnusableError{File: path, Reason: fmt.Sprintf("no usable example in %d rows", r.Rows())}
	}
	return exs, skipped, nil
}

// TemplateRefOf names a template with the SHA-256 of its source, as a
// manifest records it.
func TemplateRefOf(t *chat.Template) TemplateRef {
	return TemplateRef{Name: t.Name, SHA256: sha256Hex([]byte(t.Source))}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// HashFile returns the size and SHA-256 of a file, streaming it; role
// (train, validation, mix or "") is recorded with them.
func HashFile(path, role string) (FileHash, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileHash{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return FileHash{}, fmt.Errorf("%s: %w", path, err)
	}
	return FileHash{Role: role, Path: path, Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// writeFileAtomic writes a file under a temporary name and renames it.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
