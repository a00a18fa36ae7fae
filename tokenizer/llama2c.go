package tokenizer

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// Llama2CPiece is one entry of a llama2.c tokenizer.bin.
type Llama2CPiece struct {
	Piece string
	Score float32
}

// ReadLlama2C reads the pieces of a llama2.c tokenizer.bin: an int32 maximum
// piece length, then for each piece a float32 score, an int32 length and
// the bytes (little-endian). The number of pieces is not stored; the file
// is read to its end.
func ReadLlama2C(path string) ([]Llama2CPiece, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseLlama2C(data, path)
}

// maxLlama2CPiece bounds max_token_length, the length of the longest piece
// in bytes. llama2.c's export writes the real maximum (7 for tok512.bin, a
// few dozen for Llama 2); the bound keeps fromPieces, whose cost grows with
// the square of a piece's length, fast on hostile files.
const maxLlama2CPiece = 1024

// parseLlama2C reads the pieces of the bytes of a tokenizer.bin; name is
// used in errors.
func parseLlama2C(data []byte, name string) ([]Llama2CPiece, error) {
	out, err := readPieces(data, name)
	if err != nil {
		return nil, err
	}
	if len(out) < 3+256 {
		return nil, fmt.Errorf("%s: %d pieces; a llama2.c tokenizer has <unk>, <s>, </s> and 256 byte pieces", name, len(out))
	}
	return out, nil
}

// readPieces reads max_token_length and the pieces that follow, however
// many. Every length is checked against max_token_length and the bytes
// left before anything is allocated.
func readPieces(data []byte, name string) ([]Llama2CPiece, error) {
	if len(data) < 4 {
		return nil, fmt.Errorf("%s: too short for a llama2.c tokenizer (no max_token_length)", name)
	}
	maxLen := int32(binary.LittleEndian.Uint32(data))
	if maxLen <= 0 {
		return nil, fmt.Errorf("%s: max_token_length %d is not positive", name, maxLen)
	}
	if maxLen > maxLlama2CPiece {
		return nil, fmt.Errorf("%s: max_token_length %d is larger than %d (llama2.c pieces are short)", name, maxLen, maxLlama2CPiece)
	}
	var out []Llama2CPiece
	for off := 4; off < len(data); {
		if off+8 > len(data) {
			return nil, fmt.Errorf("%s: piece %d: truncated header at byte %d", name, len(out), off)
		}
		score := math.Float32frombits(binary.LittleEndian.Uint32(data[off:]))
		n := int32(binary.LittleEndian.Uint32(data[off+4:]))
		off += 8
		if n < 0 || n > maxLen || int(n) > len(data)-off {
			return nil, fmt.Errorf("%s: piece %d: length %d at byte %d is invalid (max_token_length %d, %d bytes left)", name, len(out), n, off-4, maxLen, len(data)-off)
		}
		out = append(out, Llama2CPiece{string(data[off : off+int(n)]), score})
		off += int(n)
	}
	return out, nil
}

// FromLlama2C imports a llama2.c tokenizer.bin. llama2.c encodes like
// SentencePiece BPE: a space is prepended, the text is split into
// characters (bytes <0xXX> for characters not in the vocabulary), and the
// adjacent pair whose concatenation is the highest-scoring piece is merged
// until none is left. The result is the equivalent Hugging Face form, as
// for Llama 2: a BPE model whose merges are every split of every piece into
// two pieces, ranked by the score of the merged piece; the Prepend/Replace
// "▁" normalizer; <s> added by the post-processor; and the
// Replace/ByteFallback/Fuse/Strip decoder. Ids 0, 1, 2 become <unk>, <s>,
// </s>.
func FromLlama2C(path string) (*Tokenizer, error) {
	pieces, err := ReadLlama2C(path)
	if err != nil {
		return nil, err
	}
	return fromPieces(pieces, path)
}

func fromPieces(pieces []Llama2CPiece, name string) (*Tokenizer, error) {
	const sp = "\u2581"
	vocab := make(map[string]int32, len(pieces))
	toks := make([]string, len(pieces))
	for i, p := range pieces {
		s := strings.ReplaceAll(p.Piece, " ", sp)
		switch i {
		case 0:
			s = "<unk>"
		case 1:
			s = "<s>"
		case 2:
			s = "</s>"
		}
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("%s: piece %d (%q) is not valid UTF-8", name, i, p.Piece)
		}
		toks[i] = s
		if _, dup := vocab[s]; dup {
			continue // llama2.c's lookup finds the first
		}
		vocab[s] = int32(i)
	}
	// Every way to build each piece from two pieces is a merge.
	type merge struct {
		a, b  string
		score float32
		id    int32
		split int
	}
	var ms []merge
	for i, s := range toks {
		if i < 3 || vocab[s] != int32(i) {
			continue
		}
		if _, isByte := byteToken(s); isByte {
			continue
		}
		for k, r := range s {
			if k == 0 {
				_ = r
				continue
			}
			a, b := s[:k], s[k:]
			if _, ok := vocab[a]; !ok {
				continue
			}
			if _, ok := vocab[b]; !ok {
				continue
			}
			ms = append(ms, merge{a, b, pieces[i].Score, int32(i), k})
		}
	}
	// Highest score first; llama2.c takes the first of equal scores in text
	// order, which a rank order can only approximate: lower id first.
	slices.SortStableFunc(ms, func(x, y merge) int {
		return cmp.Or(cmp.Compare(y.score, x.score), cmp.Compare(x.id, y.id), cmp.Compare(x.split, y.split))
	})
	merges := make([][2]string, len(ms))
	for i, m := range ms {
		merges[i] = [2]string{m.a, m.b}
	}
	unk := "<unk>"
	mj := modelJSON{Type: "BPE", UnkToken: &unk, FuseUnk: true, ByteFallback: true}
	m, err := buildBPE(name, mj, vocab, merges)
	if err != nil {
		return nil, err
	}
	f := fileJSON{
		Version:    "1.0",
		Truncation: json.RawMessage("null"),
		Padding:    json.RawMessage("null"),
		AddedTokens: []AddedToken{
			{ID: 0, Content: "<unk>", Special: true},
			{ID: 1, Content: "<s>", Special: true},
			{ID: 2, Content: "</s>", Special: true},
		},
		Normalizer:    json.RawMessage(`{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]}`),
		PreTokenizer:  json.RawMessage("null"),
		PostProcessor: json.RawMessage(`{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"<s>","type_id":1}},{"Sequence":{"id":"B","type_id":1}}],"special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}}`),
		Decoder:       json.RawMessage(`{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]}`),
	}
	t, err := build(&parser{file: name}, f, m)
	if err != nil {
		return nil, err
	}
	t.eos, t.hasEos = 2, true
	return t, nil
}

// TokenizerConfigJSON returns a minimal tokenizer_config.json for the
// tokenizer, so that transformers' AutoTokenizer loads the folder written
// by Save: the tokenizer class and the bos, eos and unk tokens.
func (t *Tokenizer) TokenizerConfigJSON() []byte {
	cfg := map[string]any{
		"tokenizer_class":              "PreTrainedTokenizerFast",
		"clean_up_tokenization_spaces": false,
		"model_max_length":             1 << 30,
	}
	if id, ok := t.BOS(); ok {
		cfg["bos_token"] = t.Token(id)
	}
	if id, ok := t.EOS(); ok {
		cfg["eos_token"] = t.Token(id)
	}
	if t.model.unkToken != "" {
		cfg["unk_token"] = t.model.unkToken
	}
	b, _ := json.MarshalIndent(cfg, "", "  ") // maps of strings always encode
	return append(b, '\n')
}
