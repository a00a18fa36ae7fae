package export

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"hone/chat"
	"hone/model"
	"hone/tokenizer"
)

// Bundle is a model with what an export carries besides its weights: the
// tokenizer, the chat template and the end-of-generation token ids.
type Bundle struct {
	// Model is the model; its weights may carry attached adapters.
	Model *model.Model
	// Tokenizer is the model's tokenizer, or nil when it has none.
	Tokenizer *tokenizer.Tokenizer
	// Template is the chat template, or nil when the model has none.
	Template *chat.Template
	// EOS are the ids that end generation (generation_config.json's
	// eos_token_id, or the GGUF's EOS and end-of-turn ids).
	EOS []int
	// Name names the bundle in reports: its folder or file.
	Name string
}

// LoadFolder reads a Hugging Face model folder with its tokenizer (when
// tokenizer.json is present), chat template (when it has one) and
// generation config.
func LoadFolder(dir string, prec model.Precision) (*Bundle, func() error, error) {
	m, closer, err := model.Load(dir, prec)
	if err != nil {
		return nil, nil, err
	}
	b, err := folderExtras(dir, m)
	if err != nil {
		closer()
		return nil, nil, err
	}
	return b, closer, nil
}

// folderExtras reads the tokenizer, template and generation config of a
// model folder around an already loaded model.
func folderExtras(dir string, m *model.Model) (*Bundle, error) {
	b := &Bundle{Model: m, Name: dir}
	gen, err := model.LoadGenerationConfig(dir, m.Config)
	if err != nil {
		return nil, err
	}
	b.EOS = append([]int(nil), gen.EOS...)
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err == nil {
		if b.Tokenizer, err = tokenizer.Load(dir); err != nil {
			return nil, err
		}
	}
	t, err := chat.Load(dir)
	switch {
	case err == nil:
		b.Template = t
	case errors.Is(err, chat.ErrNoTemplate), errors.Is(err, os.ErrNotExist):
	default:
		if !strings.Contains(err.Error(), "no chat template") {
			return nil, err
		}
	}
	return b, nil
}

// Open reads a model to compare or export: a Hugging Face folder, or a
// GGUF file (see ReadGGUF). adapter, when not empty, is a PEFT folder (for
// a Hugging Face base) or a GGUF LoRA adapter file (for a GGUF base)
// attached to the model.
func Open(path, adapter string, prec model.Precision) (*Bundle, func() error, error) {
	var b *Bundle
	var closer func() error
	var err error
	if isGGUF(path) {
		b, closer, err = ReadGGUF(path, prec)
	} else {
		b, closer, err = LoadFolder(path, prec)
	}
	if err != nil {
		return nil, nil, err
	}
	if adapter == "" {
		return b, closer, nil
	}
	if isGGUF(adapter) {
		_, err = ReadAdapterGGUF(adapter, b.Model)
	} else {
		_, err = loadPEFT(adapter, b.Model)
	}
	if err != nil {
		closer()
		return nil, nil, err
	}
	b.Name += " + " + adapter
	return b, closer, nil
}

// isGGUF reports whether path is a file that starts with the GGUF magic.
func isGGUF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	n, _ := f.Read(magic[:])
	return n == 4 && string(magic[:]) == "GGUF"
}

// String describes the bundle for error messages.
func (b *Bundle) String() string {
	return fmt.Sprintf("%s (%s, %d layers, vocab %d)", b.Name, b.Model.Config.ModelType, b.Model.Config.Layers, b.Model.Config.Vocab)
}
