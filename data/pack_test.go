package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func seq(ids []int32, trained ...int) Sequence {
	s := Sequence{IDs: ids, Labels: make([]int32, len(ids))}
	for i := range s.Labels {
		s.Labels[i] = IgnoreIndex
	}
	for _, t := range trained {
		s.Labels[t] = ids[t]
	}
	return s
}

func TestPackLayout(t *testing.T) {
	a := seq([]int32{1, 10, 11, 12, 2}, 3, 4)  // 5 tokens
	b := seq([]int32{1, 20, 21, 2}, 2, 3)      // 4
	c := seq([]int32{1, 30, 31, 32, 33, 2}, 5) // 6
	d := seq([]int32{1, 40, 2}, 1, 2)          // 3
	rows, err := Pack([]Sequence{a, b, c, d}, 10)
	if err != nil {
		t.Fatal(err)
	}
	// First fit by decreasing length: c (6) opens row 0, a (5) opens
	// row 1, b (4) fits row 0 (6+4 = 10), d (3) fits row 1 (5+3).
	want := []Sequence{
		{
			IDs:    []int32{1, 30, 31, 32, 33, 2, 1, 20, 21, 2},
			Labels: []int32{-100, -100, -100, -100, -100, 2, -100, -100, 21, 2},
			Pos:    []int32{0, 1, 2, 3, 4, 5, 0, 1, 2, 3},
			Seg:    []int32{0, 0, 0, 0, 0, 0, 1, 1, 1, 1},
		},
		{
			IDs:    []int32{1, 10, 11, 12, 2, 1, 40, 2},
			Labels: []int32{-100, -100, -100, 12, 2, -100, 40, 2},
			Pos:    []int32{0, 1, 2, 3, 4, 0, 1, 2},
			Seg:    []int32{0, 0, 0, 0, 0, 1, 1, 1},
		},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("Pack = %+v\nwant %+v", rows, want)
	}
	if _, err := Pack([]Sequence{c}, 5); err == nil {
		t.Errorf("Pack(6 tokens, row 5) = nil error, want one")
	}
}

func TestPackProperties(t *testing.T) {
	// Every token of every input lands in exactly one row, in order
	// within its segment, and no row exceeds the limit.
	var in []Sequence
	total := 0
	for i := 0; i < 300; i++ {
		n := 1 + (i*37)%61
		ids := make([]int32, n)
		for j := range ids {
			ids[j] = int32(i*1000 + j)
		}
		in = append(in, seq(ids, n-1))
		total += n
	}
	for _, maxLen := range []int{61, 64, 200, 1000} {
		rows, err := Pack(in, maxLen)
		if err != nil {
			t.Fatal(err)
		}
		got, used := 0, 0
		seen := map[int32]bool{}
		for _, r := range rows {
			if r.Len() > maxLen {
				t.Fatalf("Pack(%d): a row of %d tokens", maxLen, r.Len())
			}
			used += r.Len()
			for k, id := range r.IDs {
				if k > 0 && r.Seg[k] == r.Seg[k-1] && (id != r.IDs[k-1]+1 || r.Pos[k] != r.Pos[k-1]+1) {
					t.Fatalf("Pack(%d): segment broken at token %d", maxLen, k)
				}
				if r.Pos[k] != id%1000 {
					t.Fatalf("Pack(%d): position %d of token %d, want %d", maxLen, r.Pos[k], id, id%1000)
				}
				if seen[id] {
					t.Fatalf("Pack(%d): token %d twice", maxLen, id)
				}
				seen[id] = true
				got++
			}
		}
		if got != total {
			t.Errorf("Pack(%d) = %d tokens, want %d", maxLen, got, total)
		}
		lower := (total + maxLen - 1) / maxLen
		if len(rows) > lower*11/9+1 {
			t.Errorf("Pack(%d) = %d rows, want close to the lower bound %d", maxLen, len(rows), lower)
		}
	}
}

func TestChunk(t *testing.T) {
	s := seq([]int32{1, 2, 3, 4, 5, 6, 7}, 0, 1, 2, 3, 4, 5, 6)
	tests := []struct {
		maxLen int
		want   [][]int32
	}{
		{7, [][]int32{{1, 2, 3, 4, 5, 6, 7}}},
		{3, [][]int32{{1, 2, 3}, {4, 5, 6}}}, // a last piece of one token is dropped
		{4, [][]int32{{1, 2, 3, 4}, {5, 6, 7}}},
	}
	for _, tc := range tests {
		var got [][]int32
		for _, p := range Chunk(s, tc.maxLen) {
			got = append(got, p.IDs)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Chunk(7 tokens, %d) = %v, want %v", tc.maxLen, got, tc.want)
		}
	}
}

func TestShardRoundTrip(t *testing.T) {
	dir := t.TempDir()
	packed, err := Pack([]Sequence{seq([]int32{1, 2, 3}, 2), seq([]int32{4, 5}, 1), seq([]int32{6, 7, 8, 9}, 0, 3)}, 6)
	if err != nil {
		t.Fatal(err)
	}
	plain := []Sequence{seq([]int32{7, 70000, 9}, 1, 2), seq([]int32{5}, 0)}
	for _, tc := range []struct {
		name  string
		seqs  []Sequence
		vocab int
		size  int
	}{
		{"packed 16-bit", packed, 1000, 0},
		{"plain 32-bit", plain, 128256, 0},
		{"empty", nil, 10, 0},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".shard")
		w, err := CreateShard(path, tc.vocab)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range tc.seqs {
			if err := w.Write(s); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := ReadShard(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 && len(tc.seqs) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, tc.seqs) {
			t.Errorf("ReadShard(%s) = %+v, want %+v", tc.name, got, tc.seqs)
		}
		// Any flipped byte is caught.
		b, _ := os.ReadFile(path)
		for i := 0; i < len(b); i += 3 {
			c := append([]byte(nil), b...)
			c[i] ^= 0x40
			if _, err := DecodeShard(c); err == nil {
				t.Errorf("DecodeShard(%s with byte %d flipped) = nil error, want one", tc.name, i)
			}
		}
		if _, err := DecodeShard(b[:len(b)-1]); err == nil {
			t.Errorf("DecodeShard(%s truncated) = nil error, want one", tc.name)
		}
	}
	// The writer refuses what the format cannot hold.
	w, _ := CreateShard(filepath.Join(dir, "bad.shard"), 100)
	if err := w.Write(Sequence{IDs: []int32{1, 2}, Labels: []int32{1, 5}}); err == nil {
		t.Errorf("ShardWriter.Write(label neither id nor -100) = nil error, want one")
	}
	if err := w.Close(); err == nil {
		t.Errorf("ShardWriter.Close after a failed write = nil error, want the error")
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.shard")); !os.IsNotExist(err) {
		t.Errorf("a failed shard exists under its name: %v", err)
	}
}

// fuzzShard writes a small shard (packed rows and a plain one) and returns
// its bytes.
func fuzzShard(f *testing.F) []byte {
	f.Helper()
	path := filepath.Join(f.TempDir(), "s.shard")
	w, err := CreateShard(path, 100)
	if err != nil {
		f.Fatal(err)
	}
	packed, err := Pack([]Sequence{seq([]int32{1, 2, 3}, 2), seq([]int32{4, 5}, 1)}, 6)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range append(packed, seq([]int32{9, 8}, 1)) {
		if err := w.Write(s); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// sealShard makes a shard of a payload (what follows the magic: the id
// width and the rows) with a footer of rows, tokens and the checksum the
// payload needs.
func sealShard(payload []byte, rows, tokens uint64) []byte {
	b := append([]byte(shardMagic), payload...)
	sum := crc32.Checksum(b, castagnoli)
	b = append(b, shardFooter...)
	b = binary.LittleEndian.AppendUint64(b, rows)
	b = binary.LittleEndian.AppendUint64(b, tokens)
	return binary.LittleEndian.AppendUint32(b, sum)
}

// FuzzDecodeShard feeds whole files to DecodeShard: it must never panic.
// Random mutations rarely keep the checksum right, so this mostly tests
// the header, footer and checksum checks; FuzzDecodeShardRows reaches the
// row parser.
func FuzzDecodeShard(f *testing.F) {
	f.Add(fuzzShard(f))
	f.Add([]byte(shardMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		seqs, err := DecodeShard(b)
		if err != nil {
			return
		}
		checkDecoded(t, seqs)
	})
}

// FuzzDecodeShardRows fuzzes the row parser behind the checksum: the
// input is the payload and the footer's counts, sealed with a matching
// checksum, so every mutation reaches the parser. A shard that decodes
// must be consistent and survive writing and reading again unchanged.
func FuzzDecodeShardRows(f *testing.F) {
	b := fuzzShard(f)
	foot := b[len(b)-footerLen:]
	payload := b[len(shardMagic) : len(b)-footerLen]
	rows, tokens := binary.LittleEndian.Uint64(foot[8:]), binary.LittleEndian.Uint64(foot[16:])
	if !bytes.Equal(sealShard(payload, rows, tokens), b) {
		f.Fatal("sealShard does not reproduce the shard the writer made")
	}
	f.Add(payload, rows, tokens)
	f.Add(payload, rows+1, tokens)
	f.Add([]byte{4, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 8, 0, 0, 0, 3}, uint64(1), uint64(2))
	f.Add([]byte{2, 0, 0, 0}, uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, payload []byte, rows, tokens uint64) {
		seqs, err := DecodeShard(sealShard(payload, rows, tokens))
		if err != nil {
			if !errors.Is(err, errShard) {
				t.Fatalf("DecodeShard = %v, want an error wrapping errShard", err)
			}
			return
		}
		checkDecoded(t, seqs)
		var n uint64
		for _, s := range seqs {
			n += uint64(s.Len())
		}
		if uint64(len(seqs)) != rows || n != tokens {
			t.Fatalf("decoded %d rows of %d tokens, footer says %d of %d", len(seqs), n, rows, tokens)
		}
		path := filepath.Join(t.TempDir(), "again.shard")
		w, err := CreateShard(path, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range seqs {
			if err := w.Write(s); err != nil {
				t.Fatalf("writing decoded row %d again: %v", i, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		again, err := ReadShard(path)
		if err != nil {
			t.Fatalf("reading a shard written from decoded rows: %v", err)
		}
		if len(again) != len(seqs) || (len(seqs) > 0 && !reflect.DeepEqual(again, seqs)) {
			t.Fatalf("decode, write, decode changed the rows:\n%+v\n%+v", seqs, again)
		}
	})
}

// checkDecoded checks what DecodeShard promises of its rows: aligned
// lengths, labels that are the id or IgnoreIndex, and segments whose
// positions restart at 0.
func checkDecoded(t *testing.T, seqs []Sequence) {
	t.Helper()
	for i, s := range seqs {
		n := len(s.IDs)
		if len(s.Labels) != n || (s.Seg == nil) != (s.Pos == nil) || (s.Seg != nil && (len(s.Seg) != n || len(s.Pos) != n)) {
			t.Fatalf("row %d: inconsistent lengths", i)
		}
		for j, id := range s.IDs {
			if id < 0 || (s.Labels[j] != id && s.Labels[j] != IgnoreIndex) {
				t.Fatalf("row %d token %d: id %d label %d", i, j, id, s.Labels[j])
			}
			if s.Seg != nil {
				newSeg := j == 0 || s.Seg[j] != s.Seg[j-1]
				if newSeg && s.Pos[j] != 0 || !newSeg && s.Pos[j] != s.Pos[j-1]+1 {
					t.Fatalf("row %d token %d: position %d in segment %d", i, j, s.Pos[j], s.Seg[j])
				}
			}
		}
	}
}

func TestSplit(t *testing.T) {
	var exs []*Example
	for i := 0; i < 200; i++ {
		exs = append(exs, conv("user", fmt.Sprintf("Question number %d about topic %d?", i, i%7), "assistant", fmt.Sprintf("Answer %d.", i)))
	}
	// Duplicates and a shared prompt must stay with their originals.
	exs = append(exs, conv("user", "question number 5 about topic 5", "assistant", "answer 5"))
	exs = append(exs, conv("user", "Question number 6 about topic 6?", "assistant", "A different answer."))
	long := "Tell me the story of the fox and the farmer who met at the edge of the meadow every morning before dawn"
	exs = append(exs, conv("user", long, "assistant", "It is long."))
	exs = append(exs, conv("user", strings.Replace(long, "before dawn", "before sunrise", 1), "assistant", "It is long."))
	for i, ex := range exs {
		ex.Line = i + 1
	}
	tr, val := Split(exs, 0.2, 42)
	if len(tr)+len(val) != len(exs) {
		t.Fatalf("Split = %d + %d, want %d", len(tr), len(val), len(exs))
	}
	if n := len(val); n < 40 || n > 44 {
		t.Errorf("Split(0.2 of %d) = %d validation examples, want about 41", len(exs), n)
	}
	side := map[int]bool{}
	for _, ex := range val {
		side[ex.Line] = true
	}
	for _, pair := range [][2]int{{6, 201}, {7, 202}, {203, 204}} {
		if side[pair[0]] != side[pair[1]] {
			t.Errorf("Split: lines %d and %d (duplicates) on different sides", pair[0], pair[1])
		}
	}
	tr2, val2 := Split(exs, 0.2, 42)
	if !reflect.DeepEqual(tr, tr2) || !reflect.DeepEqual(val, val2) {
		t.Errorf("Split is not deterministic")
	}
	_, val3 := Split(exs, 0.2, 43)
	if reflect.DeepEqual(val, val3) {
		t.Errorf("Split(seed 43) = Split(seed 42), want another split")
	}
	if tr, val := Split(exs[:1], 0.9, 1); len(tr) != 1 || len(val) != 0 {
		t.Errorf("Split(1 example) = %d/%d, want the example kept for training", len(tr), len(val))
	}
}

func TestMixShuffle(t *testing.T) {
	task := []int{1, 2, 3, 4, 5, 6}
	general := []int{100, 101, 102, 103}
	tests := []struct {
		ratio      float64
		wantGen    int
		wantLength int
	}{
		{0, 0, 6}, {0.25, 2, 8}, {0.5, 6, 12}, {0.75, 18, 24},
	}
	for _, tc := range tests {
		got := Mix(task, general, tc.ratio, 7)
		gen := 0
		count := map[int]int{}
		for _, x := range got {
			if x >= 100 {
				gen++
				count[x]++
			}
		}
		if len(got) != tc.wantLength || gen != tc.wantGen {
			t.Errorf("Mix(ratio %v) = %d items, %d general, want %d, %d", tc.ratio, len(got), gen, tc.wantLength, tc.wantGen)
		}
		// Drawn without replacement, pass by pass: counts differ by at most one.
		lo, hi := 1<<30, 0
		for _, g := range general {
			lo, hi = min(lo, count[g]), max(hi, count[g])
		}
		if gen > 0 && hi-lo > 1 {
			t.Errorf("Mix(ratio %v) counts %v, want an even draw", tc.ratio, count)
		}
	}
	a := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	b := append([]int(nil), a...)
	Shuffle(a, 3)
	Shuffle(b, 3)
	if !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("Shuffle(seed 3) = %v and %v, want the same non-identity order", a, b)
	}
}
