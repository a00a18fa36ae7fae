package data

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// The shard format, little-endian throughout:
//
//	magic    "HONESHD1"
//	idBytes  u32: 2 when every id fits in 16 bits, else 4
//	rows, each:
//	  nTok   u32
//	  nSeg   u32: 0 for a row of one unpacked example (no Pos, Seg)
//	  segLen [nSeg]u32, summing to nTok
//	  ids    [nTok] of idBytes each
//	  mask   ceil(nTok/8) bytes, bit t%8 of byte t/8 set where token t is
//	         trained (its label is its id)
//	footer   "HONEEND1", rows u64, tokens u64, crc32c u32 of all bytes
//	         before the footer
//
// Labels are always either the id or IgnoreIndex, so the mask carries
// them in one bit; positions restart at 0 in each segment and are not
// stored.
const (
	shardMagic  = "HONESHD1"
	shardFooter = "HONEEND1"
	footerLen   = 8 + 8 + 8 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ShardWriter writes sequences to a shard file. The file appears under its
// name only when Close succeeds.
type ShardWriter struct {
	path, tmp    string
	f            *os.File
	w            *bufio.Writer
	crc          hash.Hash32
	idBytes      int
	rows, tokens uint64
	err          error
}

// CreateShard starts a shard at path; idBytes is 2 when the vocabulary
// has at most 65536 tokens, else 4.
func CreateShard(path string, vocab int) (*ShardWriter, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, err
	}
	s := &ShardWriter{path: path, tmp: f.Name(), f: f, crc: crc32.New(castagnoli), idBytes: 4}
	if vocab <= 1<<16 {
		s.idBytes = 2
	}
	s.w = bufio.NewWriterSize(io.MultiWriter(f, s.crc), 1<<20)
	s.w.WriteString(shardMagic)
	s.u32(uint32(s.idBytes))
	return s, nil
}

func (s *ShardWriter) u32(v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	s.w.Write(b[:])
}

// Write appends one sequence.
func (s *ShardWriter) Write(seq Sequence) error {
	if s.err != nil {
		return s.err
	}
	n := seq.Len()
	if len(seq.Labels) != n || (seq.Seg != nil && len(seq.Seg) != n) {
		return fmt.Errorf("shard %s: row %d: ids, labels and segments differ in length", s.path, s.rows)
	}
	s.u32(uint32(n))
	var segs []uint32
	if seq.Seg != nil {
		for t := 0; t < n; t++ {
			if t == 0 || seq.Seg[t] != seq.Seg[t-1] {
				segs = append(segs, 0)
			}
			segs[len(segs)-1]++
		}
	}
	s.u32(uint32(len(segs)))
	for _, l := range segs {
		s.u32(l)
	}
	mask := make([]byte, (n+7)/8)
	buf := make([]byte, 0, n*s.idBytes)
	for t, id := range seq.IDs {
		if id < 0 || (s.idBytes == 2 && id >= 1<<16) {
			s.err = fmt.Errorf("shard %s: row %d: token id %d out of range", s.path, s.rows, id)
			return s.err
		}
		if s.idBytes == 2 {
			buf = binary.LittleEndian.AppendUint16(buf, uint16(id))
		} else {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(id))
		}
		switch seq.Labels[t] {
		case id:
			mask[t/8] |= 1 << (t % 8)
		case IgnoreIndex:
		default:
			s.err = fmt.Errorf("shard %s: row %d: label %d of token %d is neither its id nor %d", s.path, s.rows, seq.Labels[t], id, IgnoreIndex)
			return s.err
		}
	}
	s.w.Write(buf)
	_, err := s.w.Write(mask)
	s.rows++
	s.tokens += uint64(n)
	if err != nil {
		s.err = err
	}
	return err
}

// Close finishes the shard and renames it into place; on any earlier
// error it removes the temporary file and returns the error.
func (s *ShardWriter) Close() error {
	err := s.err
	if err == nil {
		err = s.w.Flush()
	}
	if err == nil {
		var foot []byte
		foot = append(foot, shardFooter...)
		foot = binary.LittleEndian.AppendUint64(foot, s.rows)
		foot = binary.LittleEndian.AppendUint64(foot, s.tokens)
		foot = binary.LittleEndian.AppendUint32(foot, s.crc.Sum32())
		_, err = s.f.Write(foot)
	}
	if err == nil {
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(s.tmp, s.path)
	}
	if err != nil {
		os.Remove(s.tmp)
	}
	return err
}

// ReadShard reads every sequence of a shard file, checking its checksum
// and structure.
func ReadShard(path string) ([]Sequence, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	seqs, err := DecodeShard(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return seqs, nil
}

// errShard is the error of a damaged shard.
var errShard = errors.New("not a valid shard")

// DecodeShard decodes the bytes of a shard.
func DecodeShard(b []byte) ([]Sequence, error) {
	if len(b) < len(shardMagic)+4+footerLen || string(b[:len(shardMagic)]) != shardMagic {
		return nil, fmt.Errorf("%w: no shard header", errShard)
	}
	foot := b[len(b)-footerLen:]
	body := b[:len(b)-footerLen]
	if string(foot[:8]) != shardFooter {
		return nil, fmt.Errorf("%w: no footer (truncated?)", errShard)
	}
	rows := binary.LittleEndian.Uint64(foot[8:])
	tokens := binary.LittleEndian.Uint64(foot[16:])
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(foot[24:]) {
		return nil, fmt.Errorf("%w: checksum mismatch (the file is damaged)", errShard)
	}
	p := body[len(shardMagic):]
	u32 := func() (uint32, bool) {
		if len(p) < 4 {
			return 0, false
		}
		v := binary.LittleEndian.Uint32(p)
		p = p[4:]
		return v, true
	}
	idBytes, _ := u32()
	if idBytes != 2 && idBytes != 4 {
		return nil, fmt.Errorf("%w: id width %d", errShard, idBytes)
	}
	// Every row takes at least 8 bytes: a row count beyond that is a lie.
	if rows > uint64(len(p))/8+1 {
		return nil, fmt.Errorf("%w: %d rows in %d bytes", errShard, rows, len(p))
	}
	seqs := make([]Sequence, 0, rows)
	var total uint64
	for len(p) > 0 {
		n, ok1 := u32()
		nSeg, ok2 := u32()
		if !ok1 || !ok2 || uint64(nSeg) > uint64(n) || uint64(len(p)) < uint64(nSeg)*4+uint64(n)*uint64(idBytes)+uint64(n+7)/8 {
			return nil, fmt.Errorf("%w: row %d is cut short", errShard, len(seqs))
		}
		s := Sequence{IDs: make([]int32, n), Labels: make([]int32, n)}
		if nSeg > 0 {
			s.Pos, s.Seg = make([]int32, n), make([]int32, n)
			t := 0
			for k := uint32(0); k < nSeg; k++ {
				l, _ := u32()
				if l == 0 || uint64(t)+uint64(l) > uint64(n) {
					return nil, fmt.Errorf("%w: row %d: segment lengths do not add up", errShard, len(seqs))
				}
				for j := 0; j < int(l); j++ {
					s.Pos[t], s.Seg[t] = int32(j), int32(k)
					t++
				}
			}
			if t != int(n) {
				return nil, fmt.Errorf("%w: row %d: segment lengths do not add up", errShard, len(seqs))
			}
		}
		for t := range s.IDs {
			if idBytes == 2 {
				s.IDs[t] = int32(binary.LittleEndian.Uint16(p[2*t:]))
			} else {
				v := binary.LittleEndian.Uint32(p[4*t:])
				if v > 1<<31-1 {
					return nil, fmt.Errorf("%w: row %d: token id %d", errShard, len(seqs), v)
				}
				s.IDs[t] = int32(v)
			}
		}
		p = p[int(n)*int(idBytes):]
		for t := range s.IDs {
			s.Labels[t] = IgnoreIndex
			if p[t/8]&(1<<(t%8)) != 0 {
				s.Labels[t] = s.IDs[t]
			}
		}
		p = p[(n+7)/8:]
		seqs = append(seqs, s)
		total += uint64(n)
	}
	if uint64(len(seqs)) != rows || total != tokens {
		return nil, fmt.Errorf("%w: footer says %d rows of %d tokens, found %d of %d", errShard, rows, tokens, len(seqs), total)
	}
	return seqs, nil
}
