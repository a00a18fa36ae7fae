package data

import (
	"fmt"
	"sort"
)

// Sequence is one training row: token ids and their labels (IgnoreIndex
// where nothing is trained), and for packed rows the position ids, which
// restart at 0 with each example, and segment ids (0, 1, ... per example),
// which keep attention inside each example. Pos and Seg are nil for a row
// that holds a single example. Its fields are those of train.Sequence, so
// one converts to the other.
type Sequence struct {
	IDs, Labels []int32
	Pos, Seg    []int32
}

// Len returns the number of tokens.
func (s *Sequence) Len() int { return len(s.IDs) }

// Trained counts the trained tokens of a sequence.
func (s *Sequence) Trained() int {
	n := 0
	for _, l := range s.Labels {
		if l != IgnoreIndex {
			n++
		}
	}
	return n
}

// Pack puts sequences into rows of at most maxLen tokens, first fit by
// decreasing length (ties in input order), which leaves little room
// unused. Each sequence keeps its tokens and labels; its positions start
// again at 0 and it gets the next segment id of its row. The label of a
// segment's first token is never a target across the boundary: the model
// scores a token's logits against the next label of the same segment only.
// A sequence longer than maxLen is an error: cut it (Chunk) or drop it
// first.
func Pack(seqs []Sequence, maxLen int) ([]Sequence, error) {
	if maxLen <= 0 {
		return nil, fmt.Errorf("pack: row length %d, want a positive length", maxLen)
	}
	order := make([]int, len(seqs))
	for i := range order {
		order[i] = i
		if n := seqs[i].Len(); n > maxLen {
			return nil, fmt.Errorf("pack: sequence %d has %d tokens, more than the row length %d", i, n, maxLen)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return seqs[order[a]].Len() > seqs[order[b]].Len() })
	// A max segment tree over the rows' free space finds the first row
	// with room in O(log rows).
	var rows []Sequence
	tree := newFitTree(len(seqs))
	for _, i := range order {
		s := &seqs[i]
		if s.Len() == 0 {
			continue
		}
		r := tree.first(s.Len())
		if r < 0 {
			r = len(rows)
			rows = append(rows, Sequence{})
			tree.set(r, maxLen)
		}
		row := &rows[r]
		seg := int32(0)
		if n := len(row.Seg); n > 0 {
			seg = row.Seg[n-1] + 1
		}
		row.IDs = append(row.IDs, s.IDs...)
		row.Labels = append(row.Labels, s.Labels...)
		for t := range s.IDs {
			row.Pos = append(row.Pos, int32(t))
			row.Seg = append(row.Seg, seg)
		}
		tree.set(r, maxLen-row.Len())
	}
	return rows, nil
}

// fitTree is a max segment tree over slots (rows) of free space; unused
// slots hold 0.
type fitTree struct {
	n   int
	max []int
}

func newFitTree(n int) *fitTree {
	size := 1
	for size < max(n, 1) {
		size *= 2
	}
	return &fitTree{n: size, max: make([]int, 2*size)}
}

func (t *fitTree) set(i, v int) {
	i += t.n
	t.max[i] = v
	for i /= 2; i >= 1; i /= 2 {
		t.max[i] = max(t.max[2*i], t.max[2*i+1])
	}
}

// first returns the lowest slot with at least need free, or -1.
func (t *fitTree) first(need int) int {
	if t.max[1] < need {
		return -1
	}
	i := 1
	for i < t.n {
		if t.max[2*i] >= need {
			i = 2 * i
		} else {
			i = 2*i + 1
		}
	}
	return i - t.n
}

// Chunk cuts a sequence longer than maxLen into pieces of maxLen tokens
// (the last one shorter), for plain text too long for the context. A last
// piece of a single token, which has nothing to predict, is dropped.
func Chunk(s Sequence, maxLen int) []Sequence {
	if s.Len() <= maxLen {
		return []Sequence{s}
	}
	var out []Sequence
	for lo := 0; lo < s.Len(); lo += maxLen {
		hi := min(lo+maxLen, s.Len())
		if hi-lo < 2 {
			break
		}
		out = append(out, Sequence{IDs: s.IDs[lo:hi], Labels: s.Labels[lo:hi]})
	}
	return out
}
